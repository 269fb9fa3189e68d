package io.zstate.benchmarks;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdDictTrainer;
import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.PageStoreConfig;
import io.zstate.pagestore.PageStoreStats;
import io.zstate.pagestore.layout.BucketPage;
import io.zstate.pagestore.layout.Pages;
import io.zstate.pagestore.layout.StoredPage;
import io.zstate.pagestore.snapshot.FrozenView;
import io.zstate.pagestore.snapshot.PageImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The density levers of issue 17, measured on real pages: loads {@code ValueState<Long>} entries
 * into a page store as the backend lays them out (key-group byte, 8-byte key, VoidNamespace byte;
 * an 8-byte count, log-uniform over 1..100,000), takes every page of the table from a frozen view
 * (the checkpoint's page image, so the pages are exactly what the pool holds), and compresses them
 * every way the issue names: LZ4 a page (today), zstd a page, zstd with a dictionary trained on a
 * sample of the pages (every tenth, left out of the measurement), LZ4 and zstd over units of several pages, and pages rebuilt without the
 * slots' hashes (what a format that recomputes them on a fault would store). It reports bytes per
 * entry for each and the time a page takes to compress and decompress (codec contexts and buffers
 * reused; the copy of each compressed page is counted in compressing, as the pool's store; the
 * fastest of three passes after a warm-up pass; one run: only ratios within it count).
 *
 * <p>It measures payload only: what the pool's frames, the page table and the page cache add is
 * in the state suite's memory per entry, which the report prints beside it from the store's own
 * counters.
 */
@Command(name = "density-report", mixinStandardHelpOptions = true,
        description = "Bytes per ValueState<Long> entry under each compression lever (issue 17).")
public final class DensityReport implements Callable<Integer> {

    @Option(names = "--keys", defaultValue = "1000000", description = "Entries to load (default ${DEFAULT-VALUE}).")
    int keys;

    @Option(names = "--page-size", defaultValue = "1024", description = "Page size in bytes (default ${DEFAULT-VALUE}).")
    int pageSize;

    @Option(names = "--key-groups", defaultValue = "128", description = "Max parallelism (default ${DEFAULT-VALUE}).")
    int keyGroups;

    @Option(names = "--dictionary-bytes", defaultValue = "16384",
            description = "Size of the zstd dictionary (default ${DEFAULT-VALUE}).")
    int dictionaryBytes;

    @Option(names = "--sample-pages", defaultValue = "4000",
            description = "Most pages the dictionaries are trained on, every 10th of the table, left out of the"
                    + " measurement (default ${DEFAULT-VALUE}).")
    int samplePages;

    /** Every so many pages one trains the dictionaries instead of being measured. */
    private static final int TRAIN_EVERY = 10;

    private long measuredEntries;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the values (default ${DEFAULT-VALUE}).")
    long seed;

    public static void main(String[] args) {
        System.exit(new CommandLine(new DensityReport()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        if (keyGroups < 1 || keyGroups > 128) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--key-groups " + keyGroups
                    + ": use 1 to 128 (the report writes Flink's one-byte key-group prefix)");
        }
        Path spill = Files.createTempDirectory("zstate-density");
        PageStoreConfig config = PageStoreConfig.defaults(spill)
                .withPageSize(pageSize)
                .withPageCacheBytes(64L * pageSize)
                .withPoolBytes(Math.max(64L << 20, 64L * keys));
        List<byte[]> pages = new ArrayList<>();
        PageStoreStats stats;
        long heapBytes;
        try (PageStore store = new PageStore(config, 0, keyGroups)) {
            int table = store.createTable("count");
            load(store, table);
            stats = store.stats();
            heapBytes = store.heapBytes();
            try (FrozenView view = store.freeze()) {
                for (int keyGroup = 0; keyGroup < keyGroups; keyGroup++) {
                    collect(view, table, keyGroup, pages);
                }
            }
        }
        report(pages, stats, heapBytes);
        return 0;
    }

    private void load(PageStore store, int table) {
        SplittableRandom random = new SplittableRandom(seed);
        byte[] key = new byte[1 + StateKeys.KEY_BYTES];
        byte[] value = new byte[8];
        for (long k = 0; k < keys; k++) {
            int keyGroup = StateKeys.keyGroup(k, keyGroups);
            key[0] = (byte) keyGroup; // Flink's key-group prefix: one byte up to 128 key-groups
            StateKeys.write(k, key, 1);
            StateKeys.writeValue((long) Math.exp(random.nextDouble() * Math.log(100_000)), value);
            store.put(table, keyGroup, key, 0, key.length, key.length, value, 0, value.length);
        }
    }

    /** Every page the table's image holds in one key-group, raw (the image writes pages raw). */
    private static void collect(FrozenView view, int table, int keyGroup, List<byte[]> pages) throws IOException {
        ByteArrayOutputStream image = new ByteArrayOutputStream();
        if (!view.writePages(table, keyGroup, new DataOutputStream(image))) {
            return;
        }
        PageImage.read(new DataInputStream(new ByteArrayInputStream(image.toByteArray())), new PageImage.Placement() {
            @Override
            public void page(int pageId, int depth, byte[] stored, int offset, int length) {
                if (StoredPage.codec(stored, offset) != StoredPage.RAW) {
                    throw new IllegalStateException("an image page not raw: codec " + StoredPage.codec(stored, offset));
                }
                pages.add(Arrays.copyOfRange(stored, offset + 1, offset + length));
            }

            @Override
            public void same(int pageId, int depth, long word) {
                // an empty or same-filled page: no bytes in the pool
            }

            @Override
            public void directory(int[] heads, long mapIndexes) {
                // only the pages count here
            }
        }, "key-group " + keyGroup);
    }

    private void report(List<byte[]> allPages, PageStoreStats stats, long heapBytes) {
        long used = 0;
        long counted = 0;
        for (byte[] page : allPages) {
            used += page.length - BucketPage.freeBytes(page);
            counted += BucketPage.count(page);
        }
        if (counted != keys) {
            throw new IllegalStateException("the table's pages hold " + counted + " entries, " + keys + " were loaded");
        }
        // every TRAIN_EVERY-th page trains the dictionaries; the others are measured (out of sample)
        List<byte[]> training = new ArrayList<>();
        List<byte[]> pages = new ArrayList<>();
        long measuredEntries = 0;
        for (int i = 0; i < allPages.size(); i++) {
            if (i % TRAIN_EVERY == 0 && training.size() < samplePages) {
                training.add(allPages.get(i));
            } else {
                pages.add(allPages.get(i));
                measuredEntries += BucketPage.count(allPages.get(i));
            }
        }
        this.measuredEntries = measuredEntries;
        double entries = keys;
        System.out.printf(Locale.ROOT, "# dictionaries trained on %,d pages (every %dth), levers measured on the other %,d"
                + " (%,d entries)%n", training.size(), TRAIN_EVERY, pages.size(), measuredEntries);
        System.out.printf(Locale.ROOT, "# %,d ValueState<Long> entries, %,d pages of %,d bytes, %.1f%% used (%.1f B of page a entry)%n",
                keys, allPages.size(), pageSize, 100.0 * used / ((long) allPages.size() * pageSize),
                (double) allPages.size() * pageSize / entries);
        System.out.printf(Locale.ROOT, "# the store now: pool frames %.1f B an entry (payload %.1f B), heap %.1f B an entry"
                        + " (page table, directories, page cache of 64 pages)%n",
                stats.poolBytesHeld() / entries, stats.poolPayloadBytes() / entries, heapBytes / entries);
        List<byte[]> withoutHashes = new ArrayList<>(pages.size());
        for (byte[] page : pages) {
            withoutHashes.add(withoutHashes(page));
        }
        List<byte[]> trainingWithoutHashes = new ArrayList<>(training.size());
        for (byte[] page : training) {
            trainingWithoutHashes.add(withoutHashes(page));
        }
        System.out.println();
        System.out.println("| lever | bytes an entry | against LZ4 a page | compress ns a page | decompress ns a page |");
        System.out.println("|---|---:|---:|---:|---:|");
        Result lz4 = lz4(pages, 1);
        print("LZ4 a page (today)", lz4, lz4);
        print("LZ4, units of 4 pages", lz4(pages, 4), lz4);
        print("LZ4, units of 16 pages", lz4(pages, 16), lz4);
        print("LZ4 a page, slots without hashes", lz4(withoutHashes, 1), lz4);
        print("zstd-1 a page", zstd(pages, 1, 1, null), lz4);
        print("zstd-3 a page", zstd(pages, 1, 3, null), lz4);
        print("zstd-3, units of 16 pages", zstd(pages, 16, 3, null), lz4);
        byte[] dictionary = train(training);
        print("zstd-1 a page, dictionary", zstd(pages, 1, 1, dictionary), lz4);
        print("zstd-3 a page, dictionary", zstd(pages, 1, 3, dictionary), lz4);
        print("zstd-9 a page, dictionary", zstd(pages, 1, 9, dictionary), lz4);
        print("zstd-3 a page, dictionary, slots without hashes", zstd(withoutHashes, 1, 3, train(trainingWithoutHashes)), lz4);
        return;
    }

    private static void print(String lever, Result r, Result base) {
        System.out.printf(Locale.ROOT, "| %s | %.1f | %.2fx | %,.0f | %,.0f |%n", lever, r.bytesPerEntry, base.bytes / (double) r.bytes,
                r.compressNanosPerPage, r.decompressNanosPerPage);
    }

    /** A page rebuilt entry by entry with zero prefix hashes and key tags (and no garbage). */
    private byte[] withoutHashes(byte[] page) {
        byte[] copy = new byte[page.length];
        BucketPage.init(copy);
        for (int i = 0; i < BucketPage.count(page); i++) {
            BucketPage.copyEntry(page, i, copy, 0, 0);
        }
        Pages.next(copy, Pages.next(page));
        return copy;
    }

    private byte[] train(List<byte[]> samples) {
        ZstdDictTrainer trainer = new ZstdDictTrainer(samples.size() * pageSize, dictionaryBytes);
        for (byte[] page : samples) {
            trainer.addSample(page);
        }
        return trainer.trainSamples();
    }

    private record Result(long bytes, double bytesPerEntry, double compressNanosPerPage, double decompressNanosPerPage) {}

    private Result lz4(List<byte[]> pages, int unit) {
        LZ4Compressor compressor = LZ4Factory.fastestInstance().fastCompressor();
        LZ4FastDecompressor decompressor = LZ4Factory.fastestInstance().fastDecompressor();
        byte[] out = new byte[compressor.maxCompressedLength(unit * pageSize)];
        byte[] back = new byte[unit * pageSize];
        return measure(pages, unit, src -> {
            int length = compressor.compress(src, 0, src.length, out, 0);
            return Arrays.copyOf(out, length); // kept: the copy is the pool's store, not the codec's cost
        }, (compressed, original) -> decompressor.decompress(compressed, 0, back, 0, original));
    }

    /** zstd with contexts and buffers reused across pages, as a page store would keep them. */
    private Result zstd(List<byte[]> pages, int unit, int level, byte[] dictionary) {
        try (ZstdCompressCtx compress = new ZstdCompressCtx(); ZstdDecompressCtx decompress = new ZstdDecompressCtx()) {
            compress.setLevel(level);
            if (dictionary != null) {
                compress.loadDict(dictionary);
                decompress.loadDict(dictionary);
            }
            byte[] out = new byte[(int) Zstd.compressBound(unit * pageSize)];
            byte[] back = new byte[unit * pageSize];
            return measure(pages, unit, src -> {
                int length = compress.compressByteArray(out, 0, out.length, src, 0, src.length);
                return Arrays.copyOf(out, length);
            }, (compressed, original) -> decompress.decompressByteArray(back, 0, original, compressed, 0, compressed.length));
        }
    }

    /** Timed passes over all pages; the fastest counts (the others met the JIT or a GC). */
    private static final int PASSES = 3;

    private interface Compress {
        byte[] apply(byte[] src);
    }

    private interface Decompress {
        void apply(byte[] compressed, int originalLength);
    }

    /**
     * Compresses the pages in units of {@code unit} pages (a warm-up pass, then the fastest of
     * {@link #PASSES} timed ones), then decompresses each the same way.
     */
    private Result measure(List<byte[]> pages, int unit, Compress compress, Decompress decompress) {
        List<byte[]> units = new ArrayList<>();
        for (int i = 0; i < pages.size(); i += unit) {
            int n = Math.min(unit, pages.size() - i);
            byte[] joined = new byte[n * pageSize];
            for (int j = 0; j < n; j++) {
                System.arraycopy(pages.get(i + j), 0, joined, j * pageSize, pageSize);
            }
            units.add(joined);
        }
        byte[][] compressed = new byte[units.size()][];
        for (int i = 0; i < units.size(); i++) {
            compressed[i] = compress.apply(units.get(i)); // warm-up
        }
        long bytes = 0;
        long compressNanos = Long.MAX_VALUE;
        for (int pass = 0; pass < PASSES; pass++) {
            long start = System.nanoTime();
            bytes = 0;
            for (int i = 0; i < units.size(); i++) {
                compressed[i] = compress.apply(units.get(i));
                bytes += compressed[i].length;
            }
            compressNanos = Math.min(compressNanos, System.nanoTime() - start);
        }
        for (int i = 0; i < units.size(); i++) {
            decompress.apply(compressed[i], units.get(i).length); // warm-up
        }
        long decompressNanos = Long.MAX_VALUE;
        for (int pass = 0; pass < PASSES; pass++) {
            long start = System.nanoTime();
            for (int i = 0; i < units.size(); i++) {
                decompress.apply(compressed[i], units.get(i).length);
            }
            decompressNanos = Math.min(decompressNanos, System.nanoTime() - start);
        }
        return new Result(bytes, bytes / (double) measuredEntries, compressNanos / (double) pages.size(),
                decompressNanos / (double) pages.size());
    }
}

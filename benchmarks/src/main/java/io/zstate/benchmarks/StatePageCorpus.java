package io.zstate.benchmarks;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

/**
 * A deterministic workload of LZ4-compressed state pages (4 KiB by default, any power of two from
 * 1 KiB to 32 KiB): the object sizes (and bytes) a compressed-page state backend hands its
 * allocator.
 *
 * <p><b>What the data is.</b> Each page holds serialized Flink keyed-state entries of one state,
 * laid out as Flink's RocksDB backend serializes them ({@code SerializedCompositeKeyBuilder}):
 *
 * <pre>
 *   key   = key-group (2 bytes big-endian, max parallelism 1024) | key | namespace [| user key]
 *   page  = a sequence of records [keyLen varint][key][valueLen varint][value]
 * </pre>
 *
 * All entries of a page share its key group (one key group per page, as a rescalable backend
 * partitions state) and its wall-clock time {@code now} (a random instant in one week of June
 * 2025). Keys are long user ids drawn uniformly from 1..20,000,000 (dense database ids, 8 bytes
 * big-endian), in random order as in a hash-bucket page, never sorted. The kinds of state, one
 * per page, picked with these shares:
 *
 * <ul>
 *   <li>30% {@code ValueState<Long>} counters: namespace VoidNamespace (one 0 byte), value a
 *       count spread log-uniformly over 1..100,000 (8 bytes). 21-byte records.
 *   <li>25% window {@code AggregatingState}: namespace TimeWindow (start, end as two longs; one-
 *       minute windows within the hour before {@code now}); value POJO Stats{count, max, min,
 *       sum} as PojoSerializer writes it (flags byte, then a null flag and the field per field,
 *       in name order): count 1..1,000, min 1..500, max = min + 1..30,000, sum a double. 65-byte
 *       records.
 *   <li>25% {@code MapState<String, Long>}: VoidNamespace, user key a Flink {@code StringValue}:
 *       60% web-shop URL paths ({@code /product/1234}, {@code /category/books?page=3}, {@code
 *       /search?q=...}, {@code /account/orders/...}, {@code /cart}, {@code /checkout/step-2})
 *       with a view count, 40% {@code session-<16 hex>} with a last-seen timestamp; value a null
 *       flag and the long (RocksDBMapState).
 *   <li>20% {@code ListState<Event>}: VoidNamespace; value 1..12 POJO Event{payload, timestamp,
 *       type} joined by the ',' delimiter byte as RocksDBListState stores them; payload like
 *       {@code click:/product/1234}, timestamps ascending within the hour before {@code now}.
 * </ul>
 *
 * A page of {@code P} bytes is filled to a target drawn uniformly from {@code P/2..P} bytes (a
 * hash-bucket page is 50-100% full; 2048..4096 for the default 4 KiB): records are appended
 * while the next one still fits the target, so a page holds whole records only. A record longer
 * than half a page is never put in a page: the page store keeps such an entry's value in blob
 * pages (entries over half a page are not stored inline), so the corpus discards the draw and
 * draws the next entry, and counts the discards per kind ({@link #discarded}). The longest
 * record the generator can write is 781 bytes (a 12-event list), so this happens only for 1 KiB
 * pages (about 4% of the ListState draws); for 2 KiB and larger pages no draw is discarded and
 * the random sequence is exactly the one it was before page sizes other than 4 KiB existed. Since
 * a record is at most half a page and the target at least half, every page holds at least one
 * record. With 1 KiB pages a list record may take up to half the page, so list pages end
 * further below their target (59% full on average, against 71% at 4 KiB; the other kinds 72-75%
 * at either size). Exactly the used bytes are compressed, with lz4-java's {@code
 * LZ4Factory.fastestInstance().fastCompressor()}. The blob pages themselves are not modeled.
 *
 * <p>The same seed, page count and page size give the same pages, byte for byte (and page {@code
 * i} does not depend on the page count); the compressed bytes are the same for the same LZ4
 * implementation. lz4-java's JNI and pure-Java compressors may differ by a few bytes per page, and {@code fastestInstance()} picks JNI only when lz4-java sits on the
 * system class path (so a forked {@code java -cp} gets JNI, Maven's in-process exec:java the
 * pure-Java one); {@link #summary()} names the implementation used.
 */
public final class StatePageCorpus {

    /** The page size of the report's historical figures; the page store's default is 1024. */
    public static final int DEFAULT_PAGE_SIZE = 4096;
    public static final int MIN_PAGE_SIZE = 1024;
    public static final int MAX_PAGE_SIZE = 32 * 1024;
    public static final int DEFAULT_PAGES = 20_000;
    public static final int MAX_PARALLELISM = 1024;

    /** 2025-06-15T00:00:00Z, the start of the week the pages' clocks fall in. */
    static final long EPOCH_START = 1_749_945_600_000L;

    static final long WEEK = 7 * 24 * StateEntryGenerator.HOUR;

    private final long seed;
    private final int pageSize;
    private final long[] drawn;
    private final long[] discarded;
    private final int[] compressedSize;
    private final int[] rawSize;
    private final int[] offset;
    private final byte[] kind;
    private final byte[] data;

    private StatePageCorpus(long seed, int pageSize, long[] drawn, long[] discarded, int[] compressedSize,
            int[] rawSize, int[] offset, byte[] kind, byte[] data) {
        this.seed = seed;
        this.pageSize = pageSize;
        this.drawn = drawn;
        this.discarded = discarded;
        this.compressedSize = compressedSize;
        this.rawSize = rawSize;
        this.offset = offset;
        this.kind = kind;
        this.data = data;
    }

    /** Builds and compresses {@code pages} pages of {@link #DEFAULT_PAGE_SIZE} bytes from {@code seed}. */
    public static StatePageCorpus generate(long seed, int pages) {
        return generate(seed, pages, DEFAULT_PAGE_SIZE);
    }

    /**
     * Builds and compresses {@code pages} pages of {@code pageSize} bytes from {@code seed}.
     *
     * @throws IllegalArgumentException if {@code pageSize} is not a power of two from {@link
     *     #MIN_PAGE_SIZE} to {@link #MAX_PAGE_SIZE}, or {@code pages} is less than 1
     */
    public static StatePageCorpus generate(long seed, int pages, int pageSize) {
        if (pages < 1) {
            throw new IllegalArgumentException("a corpus needs at least one page, not " + pages);
        }
        if (!isValidPageSize(pageSize)) {
            throw new IllegalArgumentException("page size " + pageSize + " is not allowed: use a power of two from "
                    + MIN_PAGE_SIZE + " to " + MAX_PAGE_SIZE + " bytes");
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        StateEntryGenerator entries = new StateEntryGenerator(rnd);
        LZ4Compressor lz4 = LZ4Factory.fastestInstance().fastCompressor();
        byte[] page = new byte[pageSize];
        byte[] compressed = new byte[lz4.maxCompressedLength(pageSize)];
        int maxRecord = pageSize / 2;
        ByteWriter key = new ByteWriter(64);
        ByteWriter value = new ByteWriter(1024);
        ByteWriter all = new ByteWriter((int) Math.min(1 << 30, (long) pages * (pageSize / 2)));
        long[] drawn = new long[StateKind.values().length];
        long[] discarded = new long[drawn.length];
        int[] sizes = new int[pages];
        int[] raw = new int[pages];
        int[] offsets = new int[pages];
        byte[] kinds = new byte[pages];
        for (int p = 0; p < pages; p++) {
            StateKind k = StateKind.pick(rnd.nextDouble());
            int keyGroup = rnd.nextInt(MAX_PARALLELISM);
            long now = EPOCH_START + rnd.nextLong(WEEK);
            int fill = pageSize / 2 + rnd.nextInt(pageSize / 2 + 1);
            int used = 0;
            while (true) {
                entries.write(k, keyGroup, now, key, value);
                int record = ByteWriter.varIntLength(key.length()) + key.length()
                        + ByteWriter.varIntLength(value.length()) + value.length();
                drawn[k.ordinal()]++;
                if (record > maxRecord) {
                    discarded[k.ordinal()]++; // a blob entry in the page store: never inline
                    continue;
                }
                if (used + record > fill) { // fill >= pageSize / 2 >= record: never on an empty page
                    break;
                }
                used = append(page, used, key);
                used = append(page, used, value);
            }
            int n = lz4.compress(page, 0, used, compressed, 0, compressed.length);
            sizes[p] = n;
            raw[p] = used;
            offsets[p] = all.length();
            kinds[p] = (byte) k.ordinal();
            all.write(compressed, 0, n);
        }
        return new StatePageCorpus(seed, pageSize, drawn, discarded, sizes, raw, offsets, kinds,
                Arrays.copyOf(all.buffer(), all.length()));
    }

    /** Whether {@code pageSize} is a power of two from {@link #MIN_PAGE_SIZE} to {@link #MAX_PAGE_SIZE}. */
    public static boolean isValidPageSize(int pageSize) {
        return pageSize >= MIN_PAGE_SIZE && pageSize <= MAX_PAGE_SIZE && Integer.bitCount(pageSize) == 1;
    }

    /** Appends [len varint][bytes] at {@code at}; returns the new end. */
    private static int append(byte[] page, int at, ByteWriter field) {
        int len = field.length();
        for (int v = len; ; v >>>= 7) {
            if ((v & ~0x7F) == 0) {
                page[at++] = (byte) v;
                break;
            }
            page[at++] = (byte) ((v & 0x7F) | 0x80);
        }
        System.arraycopy(field.buffer(), 0, page, at, len);
        return at + len;
    }

    public long seed() {
        return seed;
    }

    public int pages() {
        return compressedSize.length;
    }

    /** Bytes of an uncompressed page: the most a page holds. */
    public int pageSize() {
        return pageSize;
    }

    /** Records of {@code kind} the generator wrote, including the discarded ones. */
    public long drawn(StateKind kind) {
        return drawn[kind.ordinal()];
    }

    /** Records of {@code kind} discarded for being longer than half a page (see the class comment). */
    public long discarded(StateKind kind) {
        return discarded[kind.ordinal()];
    }

    /** LZ4-compressed size of page {@code i}: the object size an allocator gets. */
    public int size(int i) {
        return compressedSize[i];
    }

    /** Bytes of page {@code i} before compression (its fill). */
    public int rawSize(int i) {
        return rawSize[i];
    }

    public StateKind kind(int i) {
        return StateKind.values()[kind[i]];
    }

    /** Where page {@code i}'s compressed bytes start in {@link #data()}. */
    public int offset(int i) {
        return offset[i];
    }

    /** All compressed pages back to back; not a copy, do not modify. */
    public byte[] data() {
        return data;
    }

    /** A copy of the compressed sizes. */
    public int[] sizes() {
        return compressedSize.clone();
    }

    public int maxSize() {
        return Arrays.stream(compressedSize).max().orElse(0);
    }

    /** Raw bytes / compressed bytes over the whole corpus. */
    public double compressionRatio() {
        long rawTotal = 0;
        long compressedTotal = 0;
        for (int i = 0; i < pages(); i++) {
            rawTotal += rawSize[i];
            compressedTotal += compressedSize[i];
        }
        return (double) rawTotal / compressedTotal;
    }

    /**
     * Pages, sizes (mean, p10/p50/p90, min/max) and LZ4 ratio, overall and per kind; then, only if
     * any record was discarded for being longer than half a page, how many per kind.
     */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT,
                "Corpus: %d pages of %d B, seed %d, LZ4 fast compressor (lz4-java %s)%n",
                pages(), pageSize, seed, LZ4Factory.fastestInstance()));
        sb.append(String.format(Locale.ROOT, "%-32s %6s %9s %9s %6s %6s %6s %6s %6s %6s%n",
                "kind", "pages", "raw mean", "lz4 mean", "p10", "p50", "p90", "min", "max", "ratio"));
        for (StateKind k : StateKind.values()) {
            appendRow(sb, k.label(), k);
        }
        appendRow(sb, "all", null);
        for (StateKind k : StateKind.values()) {
            if (discarded(k) > 0) {
                sb.append(String.format(Locale.ROOT,
                        "%s: %d of %d records drawn (%.2f%%) were longer than half a page (%d B) and discarded%n",
                        k.label(), discarded(k), drawn(k), 100.0 * discarded(k) / drawn(k), pageSize / 2));
            }
        }
        return sb.toString();
    }

    private void appendRow(StringBuilder sb, String label, StateKind only) {
        int[] sizes = new int[pages()];
        int n = 0;
        long rawTotal = 0;
        long compressedTotal = 0;
        for (int i = 0; i < pages(); i++) {
            if (only == null || kind(i) == only) {
                sizes[n++] = compressedSize[i];
                rawTotal += rawSize[i];
                compressedTotal += compressedSize[i];
            }
        }
        if (n == 0) {
            sb.append(String.format(Locale.ROOT, "%-32s %6d%n", label, 0));
            return;
        }
        int[] sorted = Arrays.copyOf(sizes, n);
        Arrays.sort(sorted);
        sb.append(String.format(Locale.ROOT, "%-32s %6d %9.1f %9.1f %6d %6d %6d %6d %6d %6.3f%n",
                label, n, (double) rawTotal / n, (double) compressedTotal / n,
                percentile(sorted, 0.10), percentile(sorted, 0.50), percentile(sorted, 0.90),
                sorted[0], sorted[n - 1], (double) rawTotal / compressedTotal));
    }

    /** Nearest-rank percentile of a sorted, non-empty array. */
    static int percentile(int[] sorted, double q) {
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }
}

package io.zstate.pagestore.tier;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import io.zstate.pagestore.Faults;
import io.zstate.pagestore.layout.StoredPage;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * LZ4 for whole pages (lz4-java, the JNI implementation when it loads, as Flink ships it). Pages
 * always decompress to the page size, so only the compressed bytes are stored.
 *
 * <p>Decompression uses the "safe" decompressor, which is told the compressed length: in
 * lz4-java 1.10 the "fast" one (told only the output length) is a pure-Java implementation
 * whatever the factory, 6.4x slower on a 1 KiB page (687 vs 107 ns, JNI safe; measured with a
 * 1 KiB page of 24-byte entries compressing to 296 bytes), and it cannot tell a corrupt input.
 *
 * <p>With a {@link PageDictionary} (option {@code page-compression: zstd}), pages are LZ4 until
 * the store's dictionary is trained and zstd with it afterwards (level {@link #ZSTD_LEVEL}, native
 * contexts in {@link ZstdContexts}, freed by {@link #close}). Until then {@link #encode} offers the
 * pages it compresses to the dictionary's sample.
 *
 * <p>{@link #decode} turns any stored page (a pool object or a spill record, {@link StoredPage})
 * back into a page: the one place a stored page is read, for the live store and frozen views.
 * Not thread-safe: each thread that encodes or decodes (the task, the reaper, a snapshot's thread
 * for its frozen view) has its own codec, and one that another thread may close guards its calls
 * with the codec's monitor (as {@link #close} takes it).
 */
public final class PageCodec implements AutoCloseable {

    /**
     * zstd's level: -1, the fastest that still compresses literals little: its pages were 3% larger
     * than level 1's and faulted in 1.33x faster (980 against 1,300 ns a get that faults, 500,000
     * value entries; level 1 spends most of a decode building a Huffman table for 1 KiB of
     * literals); -2 and below gave back 20-30% of the bytes for 7% more speed. LZ4: 438 ns.
     */
    static final int ZSTD_LEVEL = -1;
    /**
     * Native bytes the zstd contexts of one store may hold, taken from its pool's budget: a level -1
     * compression context with its dictionary measured 45 KiB and a decompression one 43 KiB
     * (process RSS over 200 of each); a store holds one of each for the task, a compression one
     * for the reaper, and a decompression one per snapshot being written (two at once fit).
     */
    public static final long ZSTD_NATIVE_RESERVE = 256 * 1024;

    private final LZ4Compressor compressor;
    private final LZ4SafeDecompressor decompressor;
    private final int pageSize;
    private final Faults faults;
    /** The store's dictionary, or null for LZ4 alone. */
    private final PageDictionary dictionary;
    private final ZstdContexts zstd = new ZstdContexts(ZSTD_LEVEL);
    /** What the last {@link #encode} compressed with (LZ4 or ZSTD; RAW if it bounced). */
    private byte encoded;

    /** A codec that only decodes what a checkpoint holds (raw and LZ4 pages: no dictionary). */
    public static PageCodec forReading(int pageSize) {
        return new PageCodec(pageSize, Faults.NONE, null);
    }

    /** A codec of LZ4 alone. */
    PageCodec(int pageSize, Faults faults) {
        this(pageSize, faults, null);
    }

    /** A codec that moves to zstd once {@code dictionary} (null for none) is trained. */
    PageCodec(int pageSize, Faults faults, PageDictionary dictionary) {
        LZ4Factory factory = LZ4Factory.fastestInstance();
        this.compressor = factory.fastCompressor();
        this.decompressor = factory.safeDecompressor();
        this.pageSize = pageSize;
        this.faults = faults;
        this.dictionary = dictionary;
    }

    /** What {@link #compressOrFail} answers when the compressor failed. */
    static final int FAILED = Integer.MAX_VALUE;

    /**
     * Compresses a page as {@link #compress} does, answering {@link #FAILED} instead of throwing
     * when the compressor fails (the page is then stored as it is, like one that does not compress).
     */
    private int compressOrFail(byte[] page, byte[] dst, int dstOffset) {
        byte[] trained = dictionary == null ? null : dictionary.dictionary();
        try {
            if (trained != null) {
                encoded = StoredPage.ZSTD;
                return compressZstd(trained, page, dst, dstOffset);
            }
            encoded = StoredPage.LZ4;
            if (dictionary != null) {
                dictionary.offer(page);
            }
            return compress(page, dst, dstOffset);
        } catch (LZ4Exception | ZstdException e) {
            return FAILED;
        }
    }

    private int compressZstd(byte[] trained, byte[] page, byte[] dst, int dstOffset) {
        if (faults.fail(Faults.Seam.COMPRESS)) {
            throw new ZstdException(-1, "injected compressor failure");
        }
        return zstd.compress(trained, page, pageSize, dst, dstOffset);
    }

    /**
     * A page's stored bytes at {@code dstOffset} of {@code dst}: LZ4 or zstd, or the page as it is
     * when it bounces ({@link #bounces}: it compresses worse than the ratio, or the compressor
     * failed). Returns what the compressor answered (a length, or {@link #FAILED}); {@link
     * #encodedCodec} of it, asked right after, says which codec was written. The one encoding of
     * the store path, on the task's thread or the reaper's.
     */
    int encode(byte[] page, byte[] dst, int dstOffset, double bouncerMinRatio) {
        int length = compressOrFail(page, dst, dstOffset);
        if (bounces(length, bouncerMinRatio, pageSize)) {
            System.arraycopy(page, 0, dst, dstOffset, pageSize);
        }
        return length;
    }

    /**
     * A raw pool object ({@link StoredPage}: page id, codec RAW, the page; {@code length} bytes at
     * {@code at} of {@code object}) encoded on its way to RocksDB, which holds raw only the pages that
     * do not compress, as the store path would: the codec byte and the stored bytes go into {@code
     * dst} from {@link StoredPage#PAGE_ID} ({@code dst} may be {@code object} with {@code at} 0: the
     * page is copied out into {@code page} first). Returns the stored object's length in {@code dst}.
     *
     * @throws IllegalStateException if the object is not a raw page's length
     */
    int encodeRawObject(byte[] object, int at, int length, byte[] page, byte[] dst, double bouncerMinRatio) {
        if (length != StoredPage.HEADER + pageSize) {
            throw new IllegalStateException("a raw pool object of " + length + " bytes, expected "
                    + (StoredPage.HEADER + pageSize) + ": the page store is corrupt");
        }
        System.arraycopy(object, at + StoredPage.HEADER, page, 0, pageSize);
        int compressed = encode(page, dst, StoredPage.HEADER, bouncerMinRatio);
        byte stored = encodedCodec(compressed, bouncerMinRatio);
        dst[StoredPage.PAGE_ID] = stored;
        return StoredPage.HEADER + (stored == StoredPage.RAW ? pageSize : compressed);
    }

    /** The codec the last {@link #encode} wrote, given what it answered ({@code length}). */
    byte encodedCodec(int length, double bouncerMinRatio) {
        return bounces(length, bouncerMinRatio, pageSize) ? StoredPage.RAW : encoded;
    }

    /**
     * The bouncer: whether a page that compressed to {@code length} bytes (or {@link #FAILED})
     * is kept raw in RocksDB rather than compressed in the pool. The one place of the rule.
     */
    static boolean bounces(int length, double bouncerMinRatio, int pageSize) {
        return length == FAILED || length * bouncerMinRatio > pageSize;
    }

    /** The most bytes {@link #encode} may write. */
    int maxCompressedLength() {
        int lz4 = compressor.maxCompressedLength(pageSize);
        return dictionary == null ? lz4 : (int) Math.max(lz4, Zstd.compressBound(pageSize));
    }

    /**
     * Compresses a page into {@code dst} at {@code dstOffset}; returns the compressed length.
     *
     * @throws LZ4Exception if the compressor fails
     */
    int compress(byte[] page, byte[] dst, int dstOffset) {
        if (faults.fail(Faults.Seam.COMPRESS)) {
            throw new LZ4Exception("injected compressor failure");
        }
        return compressor.compress(page, 0, pageSize, dst, dstOffset, dst.length - dstOffset);
    }

    /**
     * Decodes a stored page: {@code length} bytes of {@code src} from {@code offset}, the codec
     * byte first ({@link StoredPage}), into {@code page}.
     *
     * @throws IllegalStateException if the bytes are not a page
     */
    public void decode(byte[] src, int offset, int length, byte[] page) {
        byte codec = StoredPage.codec(src, offset);
        if (codec == StoredPage.ZSTD) {
            decompressZstd(src, offset + 1, length - 1, page);
        } else if (codec == StoredPage.RAW) {
            if (length - 1 != pageSize) {
                throw new IllegalStateException("a raw stored page of " + (length - 1) + " bytes, expected the page"
                        + " size " + pageSize + ": the stored page is corrupt");
            }
            System.arraycopy(src, offset + 1, page, 0, pageSize);
        } else {
            decompress(src, offset + 1, length - 1, page);
        }
    }

    /**
     * Decompresses a whole page from {@code srcLength} bytes of {@code src}.
     *
     * @throws IllegalStateException if the bytes do not decompress to exactly one page
     */
    private void decompress(byte[] src, int srcOffset, int srcLength, byte[] page) {
        int n;
        try {
            if (faults.fail(Faults.Seam.DECOMPRESS)) {
                throw new LZ4Exception("injected decompressor failure");
            }
            n = decompressor.decompress(src, srcOffset, srcLength, page, 0, pageSize);
        } catch (LZ4Exception e) {
            throw new IllegalStateException("a compressed page of " + srcLength + " bytes is corrupt: " + e.getMessage(), e);
        }
        if (n != pageSize) {
            throw new IllegalStateException("a compressed page of " + srcLength + " bytes decompressed to " + n
                    + " bytes, expected the page size " + pageSize + ": the stored page is corrupt");
        }
    }

    /** Decompresses a zstd page with the store's dictionary. */
    private void decompressZstd(byte[] src, int srcOffset, int srcLength, byte[] page) {
        byte[] trained = dictionary == null ? null : dictionary.dictionary();
        if (trained == null) {
            throw new IllegalStateException("a zstd page of " + srcLength + " bytes, but " + (dictionary == null
                    ? "this reader has no store dictionary (checkpoints hold raw or LZ4 pages only)"
                    : "the store has trained no dictionary") + ": the stored page is corrupt");
        }
        int n;
        try {
            if (faults.fail(Faults.Seam.DECOMPRESS)) {
                throw new ZstdException(-1, "injected decompressor failure");
            }
            n = zstd.decompress(trained, src, srcOffset, srcLength, page, pageSize);
        } catch (ZstdException e) {
            throw new IllegalStateException("a zstd page of " + srcLength + " bytes is corrupt: " + e.getMessage(), e);
        }
        if (n != pageSize) {
            throw new IllegalStateException("a zstd page of " + srcLength + " bytes decompressed to " + n
                    + " bytes, expected the page size " + pageSize + ": the stored page is corrupt");
        }
    }

    /** Whether it holds native zstd contexts now (for tests). */
    boolean holdsNativeContexts() {
        return zstd.holdsAny();
    }

    /** Frees the zstd contexts; idempotent. Takes the codec's monitor, which a user on another thread holds. */
    @Override
    public synchronized void close() {
        zstd.close();
    }
}

package io.zstate.pagestore.tier;

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
 * <p>{@link #decode} turns any stored page (a pool object or a spill record, {@link StoredPage})
 * back into a page: the one place a stored page is read, for the live store and frozen views.
 * A frozen view, read by another thread, makes its own codec.
 */
public final class PageCodec {

    private final LZ4Compressor compressor;
    private final LZ4SafeDecompressor decompressor;
    private final int pageSize;
    private final Faults faults;

    /** A codec that only decodes (a restore reading a checkpoint's stored pages). */
    public static PageCodec forReading(int pageSize) {
        return new PageCodec(pageSize, Faults.NONE);
    }

    PageCodec(int pageSize, Faults faults) {
        LZ4Factory factory = LZ4Factory.fastestInstance();
        this.compressor = factory.fastCompressor();
        this.decompressor = factory.safeDecompressor();
        this.pageSize = pageSize;
        this.faults = faults;
    }

    /** What {@link #compressOrFail} answers when the compressor failed. */
    static final int FAILED = Integer.MAX_VALUE;

    /**
     * Compresses a page as {@link #compress} does, answering {@link #FAILED} instead of throwing
     * when the compressor fails (the page is then stored as it is, like one that does not compress).
     */
    private int compressOrFail(byte[] page, byte[] dst, int dstOffset) {
        try {
            return compress(page, dst, dstOffset);
        } catch (LZ4Exception e) {
            return FAILED;
        }
    }

    /**
     * A page's stored bytes at {@code dstOffset} of {@code dst}: LZ4, or the page as it is when it
     * bounces ({@link #bounces}: it compresses worse than the ratio, or the compressor failed).
     * Returns what the compressor answered (a length, or {@link #FAILED}); {@link #storedCodec}
     * of it says which of the two was written. The one encoding of the store path, on the task's
     * thread or the reaper's.
     */
    int encode(byte[] page, byte[] dst, int dstOffset, double bouncerMinRatio) {
        int length = compressOrFail(page, dst, dstOffset);
        if (bounces(length, bouncerMinRatio, pageSize)) {
            System.arraycopy(page, 0, dst, dstOffset, pageSize);
        }
        return length;
    }

    /** The codec {@link #encode} wrote for a compressor's answer {@code length}. */
    static byte storedCodec(int length, double bouncerMinRatio, int pageSize) {
        return bounces(length, bouncerMinRatio, pageSize) ? StoredPage.RAW : StoredPage.LZ4;
    }

    /**
     * The bouncer: whether a page that compressed to {@code length} bytes (or {@link #FAILED})
     * is kept raw in RocksDB rather than compressed in the pool. The one place of the rule.
     */
    static boolean bounces(int length, double bouncerMinRatio, int pageSize) {
        return length == FAILED || length * bouncerMinRatio > pageSize;
    }

    /** The most bytes {@link #compress} may write. */
    int maxCompressedLength() {
        return compressor.maxCompressedLength(pageSize);
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
        if (StoredPage.codec(src, offset) == StoredPage.RAW) {
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
}

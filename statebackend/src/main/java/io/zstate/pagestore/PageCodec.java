package io.zstate.pagestore;

import net.jpountz.lz4.LZ4Compressor;
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
 */
final class PageCodec {

    private final LZ4Compressor compressor;
    private final LZ4SafeDecompressor decompressor;
    private final int pageSize;

    PageCodec(int pageSize) {
        LZ4Factory factory = LZ4Factory.fastestInstance();
        this.compressor = factory.fastCompressor();
        this.decompressor = factory.safeDecompressor();
        this.pageSize = pageSize;
    }

    /** The most bytes {@link #compress} may write. */
    int maxCompressedLength() {
        return compressor.maxCompressedLength(pageSize);
    }

    /** Compresses a page into {@code dst} at {@code dstOffset}; returns the compressed length. */
    int compress(byte[] page, byte[] dst, int dstOffset) {
        return compressor.compress(page, 0, pageSize, dst, dstOffset, dst.length - dstOffset);
    }

    /**
     * Decompresses a whole page from {@code srcLength} bytes of {@code src}.
     *
     * @throws IllegalStateException if the bytes do not decompress to exactly one page
     */
    void decompress(byte[] src, int srcOffset, int srcLength, byte[] page) {
        int n;
        try {
            n = decompressor.decompress(src, srcOffset, srcLength, page, 0, pageSize);
        } catch (net.jpountz.lz4.LZ4Exception e) {
            throw new IllegalStateException("a compressed page of " + srcLength + " bytes is corrupt: " + e.getMessage(), e);
        }
        if (n != pageSize) {
            throw new IllegalStateException("a compressed page of " + srcLength + " bytes decompressed to " + n
                    + " bytes, expected the page size " + pageSize + ": the stored page is corrupt");
        }
    }
}

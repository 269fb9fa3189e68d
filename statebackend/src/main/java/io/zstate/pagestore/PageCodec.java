package io.zstate.pagestore;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;

/**
 * LZ4 for whole pages (lz4-java, the JNI implementation when it loads, as Flink ships it). Pages
 * always decompress to the page size, so only the compressed bytes are stored.
 */
final class PageCodec {

    private final LZ4Compressor compressor;
    private final LZ4FastDecompressor decompressor;
    private final int pageSize;

    PageCodec(int pageSize) {
        LZ4Factory factory = LZ4Factory.fastestInstance();
        this.compressor = factory.fastCompressor();
        this.decompressor = factory.fastDecompressor();
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

    /** Decompresses a whole page from {@code src}. */
    void decompress(byte[] src, int srcOffset, byte[] page) {
        decompressor.decompress(src, srcOffset, page, 0, pageSize);
    }
}

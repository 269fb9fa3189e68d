package io.zstate.pagestore.tier;

import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;

/**
 * The native zstd contexts of one {@link PageCodec}: a compression and a decompression context,
 * each made when first needed with its own copy of the store's dictionary loaded (so no native
 * dictionary is shared between threads, and none can be freed under another's use), and freed by
 * {@link #close}. Frames are magicless, without checksum, content size or dictionary id: the
 * stored page's codec byte and its store say all of that. Owned by one thread at a time, as its
 * codec is; {@link PageCodec#close} guards the close.
 */
final class ZstdContexts implements AutoCloseable {

    private final int level;
    private ZstdCompressCtx compress;
    private ZstdDecompressCtx decompress;
    private boolean closed;

    ZstdContexts(int level) {
        this.level = level;
    }

    /** Compresses a page with {@code dictionary}; returns the compressed length. @throws ZstdException */
    int compress(byte[] dictionary, byte[] page, int pageSize, byte[] dst, int dstOffset) {
        if (compress == null) {
            checkOpen();
            ZstdCompressCtx ctx = new ZstdCompressCtx();
            try {
                ctx.setLevel(level).setMagicless(true).setChecksum(false).setContentSize(false).setDictID(false)
                        .loadDict(dictionary);
            } catch (RuntimeException e) {
                ctx.close();
                throw e;
            }
            compress = ctx;
        }
        return compress.compressByteArray(dst, dstOffset, dst.length - dstOffset, page, 0, pageSize);
    }

    /** Decompresses a page compressed with {@code dictionary}; returns its length. @throws ZstdException */
    int decompress(byte[] dictionary, byte[] src, int srcOffset, int srcLength, byte[] page, int pageSize) {
        if (decompress == null) {
            checkOpen();
            ZstdDecompressCtx ctx = new ZstdDecompressCtx();
            try {
                ctx.setMagicless(true).loadDict(dictionary);
            } catch (RuntimeException e) {
                ctx.close();
                throw e;
            }
            decompress = ctx;
        }
        return decompress.decompressByteArray(page, 0, pageSize, src, srcOffset, srcLength);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the page codec was closed (its store or snapshot was released)");
        }
    }

    /** Whether it holds native contexts now. */
    boolean holdsAny() {
        return compress != null || decompress != null;
    }

    /** Frees the contexts; later calls fail. Idempotent. */
    @Override
    public void close() {
        closed = true;
        if (compress != null) {
            compress.close();
            compress = null;
        }
        if (decompress != null) {
            decompress.close();
            decompress = null;
        }
    }
}

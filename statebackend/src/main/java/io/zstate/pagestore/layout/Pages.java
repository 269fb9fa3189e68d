package io.zstate.pagestore.layout;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * What every page has in common, and the raw little-endian access every layout of this package
 * uses. Nobody outside {@code io.zstate.pagestore.layout} computes an offset into a page; the
 * layouts of the kinds of pages are {@link BucketPage} and {@link BlobPage}.
 *
 * <pre>
 * Every page is pageSize bytes (a power of two from 1 to 32 KiB), little-endian:
 *
 *    0 ..  7   kind-specific (bucket: count, dataUsed, garbage; blob: zero)
 *    8 i32     next + 1: the next page of an overflow chain (bucket) or of a blob; 0 ends it
 *   12 ..  15  kind-specific (blob: room)
 *   16 ...     kind-specific body
 *
 * The header is encoded so that an empty bucket with no successor is all zero bytes: the store
 * keeps such a page as a same-filled tag and it costs no memory.
 * </pre>
 */
public final class Pages {

    /** Bytes of the common header; bodies start here. */
    public static final int HEADER = 16;
    /** The page id that ends a chain (and that no page has). */
    public static final int NO_PAGE = -1;

    private static final int NEXT = 8;

    static final VarHandle U16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    static final VarHandle I32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    static final VarHandle I64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private Pages() {}

    /** The next page of the chain this page belongs to, or {@link #NO_PAGE}. */
    public static int next(byte[] page) {
        return i32(page, NEXT) - 1;
    }

    public static void next(byte[] page, int pageId) {
        i32(page, NEXT, pageId + 1);
    }

    static int u16(byte[] page, int at) {
        return (short) U16.get(page, at) & 0xffff;
    }

    static void u16(byte[] page, int at, int value) {
        U16.set(page, at, (short) value);
    }

    static int i32(byte[] page, int at) {
        return (int) I32.get(page, at);
    }

    static void i32(byte[] page, int at, int value) {
        I32.set(page, at, value);
    }
}

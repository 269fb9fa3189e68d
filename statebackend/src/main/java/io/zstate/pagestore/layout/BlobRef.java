package io.zstate.pagestore.layout;

/**
 * The value of a bucket entry whose value lives in blob pages (value word {@link
 * BucketPage#BLOB}): where the chain starts and ends, and how long the value is.
 *
 * <pre>
 *   at + 0  i32 length       bytes of the whole value
 *   at + 4  i32 first page   the chain's head
 *   at + 8  i32 last page    its tail, so an append touches only the tail
 * </pre>
 */
public final class BlobRef {

    /** Bytes of a reference in the entry. */
    public static final int SIZE = 12;

    private BlobRef() {}

    public static int length(byte[] page, int at) {
        return Pages.i32(page, at);
    }

    public static int first(byte[] page, int at) {
        return Pages.i32(page, at + 4);
    }

    public static int last(byte[] page, int at) {
        return Pages.i32(page, at + 8);
    }

    public static void write(byte[] page, int at, int length, int first, int last) {
        Pages.i32(page, at, length);
        Pages.i32(page, at + 4, first);
        Pages.i32(page, at + 8, last);
    }

    /** A value grew by an append: new length and tail. */
    public static void grow(byte[] page, int at, int length, int last) {
        Pages.i32(page, at, length);
        Pages.i32(page, at + 8, last);
    }
}

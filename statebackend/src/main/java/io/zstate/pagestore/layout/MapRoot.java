package io.zstate.pagestore.layout;

/**
 * The value of a map-root entry (value word {@link BucketPage#MAP_ROOT}): a large map that moved
 * out of its bucket chain into a map index of its own (a B+tree over its user keys). The root
 * entry's key is the map's prefix (key-group | key | namespace); it stands for every entry under
 * that prefix, which then live only in the map index, never in the bucket chain.
 *
 * <pre>
 *   at +  0  i64 entries        entries in the map
 *   at +  8  i32 top            the top MapNodePage, or the only leaf (height 0)
 *   at + 12  i32 height         levels of inner nodes above the leaves
 *   at + 16  i32 blobEntries    entries with a key or value blob
 *   at + 20  i32 overflowPages  leaf overflow pages (leaves whose keys share a long prefix)
 *   at + 24  8 bytes zero       reserved
 *   (blobEntries and overflowPages 0: clear frees the leaves unread)
 * </pre>
 */
public final class MapRoot {

    /** Bytes of the record in the entry. */
    public static final int SIZE = 32;

    private MapRoot() {}

    public static long entries(byte[] page, int at) {
        return (long) Pages.I64.get(page, at);
    }

    public static int top(byte[] page, int at) {
        return Pages.i32(page, at + 8);
    }

    public static int height(byte[] page, int at) {
        return Pages.i32(page, at + 12);
    }

    public static int blobEntries(byte[] page, int at) {
        return Pages.i32(page, at + 16);
    }

    public static int overflowPages(byte[] page, int at) {
        return Pages.i32(page, at + 20);
    }

    public static void write(byte[] page, int at, long entries, int top, int height, int blobEntries,
            int overflowPages) {
        Pages.I64.set(page, at, entries);
        Pages.i32(page, at + 8, top);
        Pages.i32(page, at + 12, height);
        Pages.i32(page, at + 16, blobEntries);
        Pages.i32(page, at + 20, overflowPages);
        Pages.I64.set(page, at + 24, 0L);
    }
}

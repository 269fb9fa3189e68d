package io.zstate.pagestore.layout;

import java.util.Arrays;

/**
 * A blob page: one link of the chain that holds a value too large for its bucket (more than half
 * a page with its key). The bucket entry holds a {@link BlobRef} to the chain.
 *
 * <pre>
 *    0 ..  7   zero
 *    8 i32     next + 1 (Pages.next): the blob's next page; 0 on the last
 *   12 i32     room: capacity - payload bytes in this page
 *   16 ...     payload (capacity = pageSize - 16 bytes)
 * </pre>
 *
 * Appending to a blob fills the room of its last page, then adds pages: only the tail changes.
 */
public final class BlobPage {

    private static final int ROOM = 12;

    private BlobPage() {}

    /** An empty blob page: no payload, no successor. */
    public static void init(byte[] page) {
        Arrays.fill(page, 0, Pages.HEADER, (byte) 0);
        used(page, 0);
    }

    /** Payload bytes a blob page holds when full. */
    public static int capacity(int pageSize) {
        return pageSize - Pages.HEADER;
    }

    /** Payload bytes in this page. */
    public static int used(byte[] page) {
        return capacity(page.length) - Pages.i32(page, ROOM);
    }

    public static void used(byte[] page, int used) {
        Pages.i32(page, ROOM, capacity(page.length) - used);
    }

    /** Offset of the payload in the page. */
    public static int payload() {
        return Pages.HEADER;
    }
}

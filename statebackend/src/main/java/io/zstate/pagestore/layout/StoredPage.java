package io.zstate.pagestore.layout;

/**
 * A page as it is stored outside the page cache: in the pool (a pool object) and in RocksDB (a
 * spill record). One layout for both, so a pool object is written back to RocksDB by dropping
 * its first four bytes.
 *
 * <pre>
 *   pool object:   +---------------+-------+----------------------+
 *                  | page id (4 B) | codec | page bytes           |
 *                  +---------------+-------+----------------------+
 *                  0               4       5 = HEADER
 *   spill record:  key = page id (4 B)   value = codec | page bytes
 *
 *   page id: big-endian (RocksDB keys then sort by page id)
 *   codec:   RAW (the page as it is: bounced, or not compressible), LZ4, or ZSTD (zstd with
 *            the dictionary its store trained on its own pages: readable only by that store,
 *            so never written into a checkpoint, which holds pages RAW)
 * </pre>
 *
 * The page id in the pool object lets the reaper find the page of an evicted object without a
 * reverse map.
 */
public final class StoredPage {

    public static final byte RAW = 0;
    public static final byte LZ4 = 1;
    public static final byte ZSTD = 2;
    /** Bytes of the page id. */
    public static final int PAGE_ID = 4;
    /** Bytes before the page bytes in a pool object: page id and codec. */
    public static final int HEADER = PAGE_ID + 1;

    private StoredPage() {}

    /** Writes the page id and codec at the start of {@code object}. */
    public static void writeHeader(byte[] object, int pageId, byte codec) {
        writePageId(object, 0, pageId);
        object[PAGE_ID] = codec;
    }

    /** Writes a page id, big-endian, at {@code at} (a pool object's start, or a spill key). */
    public static void writePageId(byte[] dst, int at, int pageId) {
        dst[at] = (byte) (pageId >>> 24);
        dst[at + 1] = (byte) (pageId >>> 16);
        dst[at + 2] = (byte) (pageId >>> 8);
        dst[at + 3] = (byte) pageId;
    }

    /** The page id at the start of a pool object. */
    public static int pageId(byte[] object) {
        return pageId(object, 0);
    }

    /** The page id of the stored page at {@code at} in {@code bytes}. */
    public static int pageId(byte[] bytes, int at) {
        return (bytes[at] & 0xff) << 24 | (bytes[at + 1] & 0xff) << 16 | (bytes[at + 2] & 0xff) << 8
                | (bytes[at + 3] & 0xff);
    }

    /** Offset of the spill record's value (codec byte first) in a pool object. */
    public static int spillValue() {
        return PAGE_ID;
    }

    /** The codec of a spill record's value. */
    public static byte codec(byte[] value, int offset) {
        byte codec = value[offset];
        if (codec != RAW && codec != LZ4 && codec != ZSTD) {
            throw new IllegalStateException("stored page has codec byte " + codec + ", expected " + RAW + " (raw), "
                    + LZ4 + " (LZ4) or " + ZSTD + " (zstd with the store's dictionary): the stored bytes are corrupt");
        }
        return codec;
    }
}

package io.zstate.pagestore;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The layout of a page, described once; nobody else computes offsets into pages.
 *
 * <pre>
 * Every page (pageSize bytes, a power of two from 1 to 32 KiB, little-endian). The header is
 * encoded so that an empty bucket is all zero bytes: the store keeps it as a same-filled tag
 * and it costs no memory (a cleared window leaves such buckets behind).
 *
 *    0 u16 count        bucket: entries
 *    2 u16 dataUsed     bucket: pageSize - dataStart, where dataStart is the lowest entry byte
 *                       (entry data grows down from the page end)
 *    4 u16 garbage      bucket: bytes of dead entry data, reclaimed by compactInPlace
 *    6 u16 (zero)
 *    8 i32 next + 1     the next page of an overflow chain (bucket) or of a blob; 0 ends it
 *   12 i32 room         blob: capacity - payload bytes in this page
 *   16 ...              bucket: slot directory, then free space, then entry data
 *                       blob: payload
 *
 * A bucket's extendible-hashing depth is kept in the page table, not in the page.
 *
 * Bucket slot (8 bytes, in insertion order; deleting shifts the rest down):
 *   i32 prefixHash      hash of the key's prefix (key | namespace): places the entry
 *   u16 keyTag          16 bits of the hash of the key past the prefix (0 if none)
 *   u16 entryOffset
 *
 * Entry at entryOffset:
 *   u16 keyLength, i32 valueWord, key bytes, value bytes
 *   valueWord >= 0: the value's length, inline
 *   valueWord == BLOB: the value is a 12-byte blob reference: i32 length, i32 first page,
 *                      i32 last page
 *
 *   +--------+-----------------------+.......free.......+---------+---------+
 *   | header | slot | slot | slot ... |                  | entry 2 | entry 1 |
 *   +--------+-----------------------+..................+---------+---------+
 *   0        16                 16+8*count          dataStart          pageSize
 * </pre>
 *
 * A lookup compares 32-bit prefix hashes and 16-bit key tags over the slot array and compares
 * key bytes only where both match, so a miss rarely touches entry data.
 */
final class PageLayout {

    static final int HEADER = 16;
    static final int SLOT = 8;
    static final int ENTRY_HEADER = 6;
    static final int BLOB_REF = 12;
    static final int BLOB = -1;
    static final int NO_PAGE = -1;

    private static final VarHandle U16 =
            MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle I32 =
            MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private PageLayout() {}

    // ---- raw access ----------------------------------------------------------------------------

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

    // ---- header --------------------------------------------------------------------------------

    /** An empty bucket: all zeros. */
    static void initBucket(byte[] page) {
        java.util.Arrays.fill(page, (byte) 0);
    }

    static void initBlob(byte[] page) {
        java.util.Arrays.fill(page, 0, HEADER, (byte) 0);
        blobUsed(page, 0);
    }

    static int count(byte[] page) {
        return u16(page, 0);
    }

    static int dataStart(byte[] page) {
        return page.length - u16(page, 2);
    }

    private static void dataStart(byte[] page, int start) {
        u16(page, 2, page.length - start);
    }

    static int garbage(byte[] page) {
        return u16(page, 4);
    }

    static int next(byte[] page) {
        return i32(page, 8) - 1;
    }

    static void next(byte[] page, int pageId) {
        i32(page, 8, pageId + 1);
    }

    static int blobUsed(byte[] page) {
        return blobCapacity(page.length) - i32(page, 12);
    }

    static void blobUsed(byte[] page, int used) {
        i32(page, 12, blobCapacity(page.length) - used);
    }

    static int blobCapacity(int pageSize) {
        return pageSize - HEADER;
    }

    // ---- slots and entries ---------------------------------------------------------------------

    static int slotAt(int index) {
        return HEADER + SLOT * index;
    }

    static int slotPrefixHash(byte[] page, int index) {
        return i32(page, slotAt(index));
    }

    static int slotKeyTag(byte[] page, int index) {
        return u16(page, slotAt(index) + 4);
    }

    static int slotEntry(byte[] page, int index) {
        return u16(page, slotAt(index) + 6);
    }

    static int entryKeyLength(byte[] page, int entry) {
        return u16(page, entry);
    }

    static int entryValueWord(byte[] page, int entry) {
        return i32(page, entry + 2);
    }

    static int entryKeyOffset(int entry) {
        return entry + ENTRY_HEADER;
    }

    static int entryValueOffset(byte[] page, int entry) {
        return entry + ENTRY_HEADER + entryKeyLength(page, entry);
    }

    /** Bytes an entry occupies in the data area. */
    static int entrySize(int keyLength, int valueBytes) {
        return ENTRY_HEADER + keyLength + valueBytes;
    }

    static int storedEntrySize(byte[] page, int entry) {
        int word = entryValueWord(page, entry);
        return entrySize(entryKeyLength(page, entry), word == BLOB ? BLOB_REF : word);
    }

    /** Free bytes between the slot directory and the entry data. */
    static int freeBytes(byte[] page) {
        return dataStart(page) - slotAt(count(page));
    }

    /**
     * Finds the slot of a key.
     *
     * @return the slot index, or -1
     */
    static int find(byte[] page, int prefixHash, int keyTag, byte[] key, int keyOffset, int keyLength) {
        int count = count(page);
        for (int i = 0, at = HEADER; i < count; i++, at += SLOT) {
            if (i32(page, at) == prefixHash && u16(page, at + 4) == keyTag) {
                int entry = u16(page, at + 6);
                if (u16(page, entry) == keyLength
                        && java.util.Arrays.equals(
                                page, entry + ENTRY_HEADER, entry + ENTRY_HEADER + keyLength,
                                key, keyOffset, keyOffset + keyLength)) {
                    return i;
                }
            }
        }
        return -1;
    }

    /**
     * Appends an entry whose value is {@code valueBytes} long (the caller writes the value at
     * the returned entry's value offset). The page must have room: {@code SLOT + entrySize}.
     *
     * @return the entry offset
     */
    static int insert(byte[] page, int prefixHash, int keyTag, byte[] key, int keyOffset, int keyLength,
            int valueWord, int valueBytes) {
        int size = entrySize(keyLength, valueBytes);
        int count = count(page);
        int entry = dataStart(page) - size;
        assert entry >= slotAt(count + 1) : "no room";
        u16(page, entry, keyLength);
        i32(page, entry + 2, valueWord);
        System.arraycopy(key, keyOffset, page, entry + ENTRY_HEADER, keyLength);
        int at = slotAt(count);
        i32(page, at, prefixHash);
        u16(page, at + 4, keyTag);
        u16(page, at + 6, entry);
        u16(page, 0, count + 1);
        dataStart(page, entry);
        return entry;
    }

    /** Removes the entry of slot {@code index}; its data becomes garbage. */
    static void remove(byte[] page, int index) {
        int count = count(page);
        int entry = slotEntry(page, index);
        int size = storedEntrySize(page, entry);
        System.arraycopy(page, slotAt(index + 1), page, slotAt(index), SLOT * (count - 1 - index));
        u16(page, 0, count - 1);
        if (count == 1) {
            // empty again: all zeros but the chain link, so a bucket with no overflow is a tag
            int next = i32(page, 8);
            initBucket(page);
            i32(page, 8, next);
        } else if (entry == dataStart(page)) {
            dataStart(page, entry + size);
        } else {
            u16(page, 4, garbage(page) + size);
        }
    }

    /** Rewrites the entry data contiguously at the page end, dropping garbage. */
    static void compactInPlace(byte[] page, byte[] scratch) {
        int count = count(page);
        int end = page.length;
        System.arraycopy(page, 0, scratch, 0, page.length);
        for (int i = 0; i < count; i++) {
            int entry = slotEntry(scratch, i);
            int size = storedEntrySize(scratch, entry);
            end -= size;
            System.arraycopy(scratch, entry, page, end, size);
            u16(page, slotAt(i) + 6, end);
        }
        dataStart(page, end);
        u16(page, 4, 0);
    }
}

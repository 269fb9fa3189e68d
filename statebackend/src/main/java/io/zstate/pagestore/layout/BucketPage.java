package io.zstate.pagestore.layout;

import java.util.Arrays;

/**
 * A bucket page: a slotted page of entries (composite key and value) whose key prefixes hash to
 * the bucket. The common header is {@link Pages}'.
 *
 * <pre>
 *    0 u16 count        entries
 *    2 u16 dataUsed     pageSize - dataStart, where dataStart is the lowest entry byte
 *                       (entry data grows down from the page end)
 *    4 u16 garbage      bytes of dead entry data, reclaimed by compactInPlace
 *    6 u16 (zero)
 *    8 i32 next + 1     the next page of the bucket's overflow chain (Pages.next)
 *   12 i32 (zero)
 *   16 ...              slot directory, then free space, then entry data
 *
 * An empty bucket is all zero bytes. Its extendible-hashing depth is kept in the page table,
 * not in the page.
 *
 * Slot (8 bytes, in insertion order; deleting shifts the rest down):
 *   i32 prefixHash      hash of the key's prefix (key | namespace): places the entry
 *   u16 keyTag          16 bits of the hash of the key past the prefix (0 if none)
 *   u16 entryOffset
 *
 * Entry at entryOffset:
 *   u16 keyWord, i32 valueWord, key bytes, value bytes
 *   keyWord < KEY_BLOB: the key's length, inline
 *   keyWord == KEY_BLOB: the key is a BlobRef (12 bytes) to a chain of blob pages (a key that
 *                        would take more than half a page with a blob reference for its value)
 *   valueWord >= 0: the value's length, inline
 *   valueWord == BLOB: the value is a BlobRef (12 bytes) to a chain of blob pages
 *   valueWord == MAP_ROOT: a map root (MapRoot, 32 bytes): the key is a map's prefix, and every
 *                        entry under that prefix lives in the map's own index (main chains only)
 *
 *   +--------+-----------------------+.......free.......+---------+---------+
 *   | header | slot | slot | slot ... |                  | entry 2 | entry 1 |
 *   +--------+-----------------------+..................+---------+---------+
 *   0        16                 16+8*count          dataStart          pageSize
 * </pre>
 *
 * A lookup compares 32-bit prefix hashes and 16-bit key tags over the slot array and compares
 * key bytes only where both match, so a miss rarely touches entry data. A key in a blob is
 * compared by its owner ({@code BucketIndex}), which can read blobs; {@link #find} matches inline
 * keys only (a key is a blob key exactly when it is too long to be inline, so a key never has
 * both forms).
 */
public final class BucketPage {

    /** Bytes of a slot. */
    public static final int SLOT = 8;
    /** The value word of an entry whose value is a {@link BlobRef}. */
    public static final int BLOB = -1;
    /** The value word of a map-root entry, whose value is a {@link MapRoot}. */
    public static final int MAP_ROOT = -2;
    /** The key word of an entry whose key is a {@link BlobRef}. */
    public static final int KEY_BLOB = 0xFFFF;

    private static final int COUNT = 0;
    private static final int DATA_USED = 2;
    private static final int GARBAGE = 4;
    private static final int ENTRY_HEADER = 6;

    private BucketPage() {}

    // ---- header --------------------------------------------------------------------------------

    /** An empty bucket: all zeros. */
    public static void init(byte[] page) {
        Arrays.fill(page, (byte) 0);
    }

    public static int count(byte[] page) {
        return Pages.u16(page, COUNT);
    }

    private static int dataStart(byte[] page) {
        return page.length - Pages.u16(page, DATA_USED);
    }

    private static void dataStart(byte[] page, int start) {
        Pages.u16(page, DATA_USED, page.length - start);
    }

    /** Bytes of dead entry data that {@link #compactInPlace} would reclaim. */
    public static int garbage(byte[] page) {
        return Pages.u16(page, GARBAGE);
    }

    /** Free bytes between the slot directory and the entry data. */
    public static int freeBytes(byte[] page) {
        return dataStart(page) - slotAt(count(page));
    }

    // ---- slots and entries ---------------------------------------------------------------------

    private static int slotAt(int index) {
        return Pages.HEADER + SLOT * index;
    }

    public static int slotPrefixHash(byte[] page, int index) {
        return Pages.i32(page, slotAt(index));
    }

    public static int slotKeyTag(byte[] page, int index) {
        return Pages.u16(page, slotAt(index) + 4);
    }

    /** The entry offset of slot {@code index}. */
    public static int slotEntry(byte[] page, int index) {
        return Pages.u16(page, slotAt(index) + 6);
    }

    /** The length of an entry's inline key (not for a {@linkplain #isKeyBlob blob key}). */
    public static int entryKeyLength(byte[] page, int entry) {
        return Pages.u16(page, entry);
    }

    /** Whether an entry's key is a {@link BlobRef} at {@link #entryKeyOffset}. */
    public static boolean isKeyBlob(byte[] page, int entry) {
        return Pages.u16(page, entry) == KEY_BLOB;
    }

    /** Bytes the key of an entry takes in the page: its length, or a blob reference's. */
    public static int storedKeyBytes(byte[] page, int entry) {
        int word = Pages.u16(page, entry);
        return word == KEY_BLOB ? BlobRef.SIZE : word;
    }

    /** The entry's value length, or {@link #BLOB}. */
    public static int entryValueWord(byte[] page, int entry) {
        return Pages.i32(page, entry + 2);
    }

    public static int entryKeyOffset(int entry) {
        return entry + ENTRY_HEADER;
    }

    public static int entryValueOffset(byte[] page, int entry) {
        return entry + ENTRY_HEADER + storedKeyBytes(page, entry);
    }

    /** Bytes an entry with a key of {@code keyBytes} and a value of {@code valueBytes} occupies. */
    public static int entrySize(int keyBytes, int valueBytes) {
        return ENTRY_HEADER + keyBytes + valueBytes;
    }

    /** Bytes a new entry needs in the page: its slot and its data (stored key and value bytes). */
    public static int needed(int keyBytes, int valueBytes) {
        return SLOT + entrySize(keyBytes, valueBytes);
    }

    /** Bytes the value of an entry with this value word takes in the page. */
    public static int valueBytes(int valueWord) {
        return valueWord == BLOB ? BlobRef.SIZE : valueWord == MAP_ROOT ? MapRoot.SIZE : valueWord;
    }

    /** Whether an entry is a map root ({@link MapRoot} at its value offset). */
    public static boolean isMapRoot(byte[] page, int entry) {
        return entryValueWord(page, entry) == MAP_ROOT;
    }

    /** Whether an entry has a key or value blob. */
    public static boolean hasBlob(byte[] page, int entry) {
        return isKeyBlob(page, entry) || entryValueWord(page, entry) == BLOB;
    }

    private static int storedEntrySize(byte[] page, int entry) {
        return entrySize(storedKeyBytes(page, entry), valueBytes(entryValueWord(page, entry)));
    }

    /**
     * Finds the slot of a key.
     *
     * @return the slot index, or -1
     */
    public static int find(byte[] page, int prefixHash, int keyTag, byte[] key, int keyOffset, int keyLength) {
        int count = count(page);
        for (int i = 0, at = Pages.HEADER; i < count; i++, at += SLOT) {
            if (Pages.i32(page, at) == prefixHash && Pages.u16(page, at + 4) == keyTag) {
                int entry = Pages.u16(page, at + 6);
                if (Pages.u16(page, entry) == keyLength
                        && Arrays.equals(page, entry + ENTRY_HEADER, entry + ENTRY_HEADER + keyLength,
                                key, keyOffset, keyOffset + keyLength)) {
                    return i;
                }
            }
        }
        return -1;
    }

    /**
     * Finds a key, or the map root that stands for its prefix, in one pass over the slots.
     *
     * @return the slot index of the key; {@code -2 - index} for the slot of a {@link #MAP_ROOT}
     *     entry whose key is the first {@code prefixLength} bytes of the key; -1 for neither
     */
    public static int findOrRoot(byte[] page, int prefixHash, int keyTag, byte[] key, int keyOffset, int keyLength,
            int prefixLength) {
        int count = count(page);
        for (int i = 0, at = Pages.HEADER; i < count; i++, at += SLOT) {
            if (Pages.i32(page, at) != prefixHash) {
                continue;
            }
            int entry = Pages.u16(page, at + 6);
            int tag = Pages.u16(page, at + 4);
            int length = Pages.u16(page, entry);
            if (tag == keyTag && length == keyLength
                    && Arrays.equals(page, entry + ENTRY_HEADER, entry + ENTRY_HEADER + keyLength,
                            key, keyOffset, keyOffset + keyLength)) {
                return i;
            }
            if (tag == 0 && length == prefixLength && entryValueWord(page, entry) == MAP_ROOT
                    && Arrays.equals(page, entry + ENTRY_HEADER, entry + ENTRY_HEADER + prefixLength,
                            key, keyOffset, keyOffset + prefixLength)) {
                return -2 - i;
            }
        }
        return -1;
    }

    /**
     * Whether slot {@code index} holds an inline key that starts with the given prefix (and has
     * its hash); a blob key must be compared by reading its blob.
     */
    public static boolean hasPrefix(byte[] page, int index, int prefixHash, byte[] prefix, int offset, int length) {
        if (slotPrefixHash(page, index) != prefixHash) {
            return false;
        }
        int entry = slotEntry(page, index);
        int keyOffset = entryKeyOffset(entry);
        return !isKeyBlob(page, entry) && entryKeyLength(page, entry) >= length
                && Arrays.equals(page, keyOffset, keyOffset + length, prefix, offset, offset + length);
    }

    /**
     * Appends an entry with an inline key whose value is {@code valueBytes} long (the caller
     * writes the value at the returned entry's value offset). The page must have room: {@link
     * #needed}.
     *
     * @return the entry offset
     */
    public static int insert(byte[] page, int prefixHash, int keyTag, byte[] key, int keyOffset, int keyLength,
            int valueWord, int valueBytes) {
        return place(page, prefixHash, keyTag, keyLength, key, keyOffset, keyLength, valueWord, valueBytes);
    }

    /**
     * Appends an entry whose key is in a blob chain ({@code first} .. {@code last}, {@code
     * keyLength} bytes); the value as for {@link #insert}.
     *
     * @return the entry offset
     */
    public static int insertBlobKey(byte[] page, int prefixHash, int keyTag, int keyLength, int first, int last,
            int valueWord, int valueBytes) {
        int entry = place(page, prefixHash, keyTag, KEY_BLOB, null, 0, BlobRef.SIZE, valueWord, valueBytes);
        BlobRef.write(page, entryKeyOffset(entry), keyLength, first, last);
        return entry;
    }

    private static int place(byte[] page, int prefixHash, int keyTag, int keyWord, byte[] key, int keyOffset,
            int keyBytes, int valueWord, int valueBytes) {
        int size = entrySize(keyBytes, valueBytes);
        int count = count(page);
        int entry = dataStart(page) - size;
        if (entry < slotAt(count + 1)) {
            throw new IllegalStateException("a bucket page with " + freeBytes(page) + " free bytes cannot take an"
                    + " entry of " + needed(keyBytes, valueBytes) + ": the page store is corrupt");
        }
        Pages.u16(page, entry, keyWord);
        Pages.i32(page, entry + 2, valueWord);
        if (key != null) {
            System.arraycopy(key, keyOffset, page, entry + ENTRY_HEADER, keyBytes);
        }
        int at = slotAt(count);
        Pages.i32(page, at, prefixHash);
        Pages.u16(page, at + 4, keyTag);
        Pages.u16(page, at + 6, entry);
        Pages.u16(page, COUNT, count + 1);
        dataStart(page, entry);
        return entry;
    }

    /**
     * Copies slot {@code index} of {@code from} (key, hashes and value bytes as they are, blob
     * references included) into {@code to}, which must have room.
     */
    public static void copyEntry(byte[] from, int index, byte[] to) {
        copyEntry(from, index, to, slotPrefixHash(from, index), slotKeyTag(from, index));
    }

    /** Copies slot {@code index} of {@code from} into {@code to} under other hashes (into a map index). */
    public static void copyEntry(byte[] from, int index, byte[] to, int hash, int tag) {
        int entry = slotEntry(from, index);
        int keyWord = Pages.u16(from, entry);
        int keyBytes = storedKeyBytes(from, entry);
        int word = entryValueWord(from, entry);
        int valueBytes = valueBytes(word);
        int at = place(to, hash, tag, keyWord, from, entryKeyOffset(entry), keyBytes, word, valueBytes);
        System.arraycopy(from, entryValueOffset(from, entry), to, entryValueOffset(to, at), valueBytes);
    }

    /** Bytes slot {@code index} would need in another page ({@link #copyEntry}). */
    public static int neededToCopy(byte[] page, int index) {
        return SLOT + storedEntrySize(page, slotEntry(page, index));
    }

    /** Removes the entry of slot {@code index}; its data becomes garbage. */
    public static void remove(byte[] page, int index) {
        int count = count(page);
        int entry = slotEntry(page, index);
        int size = storedEntrySize(page, entry);
        System.arraycopy(page, slotAt(index + 1), page, slotAt(index), SLOT * (count - 1 - index));
        Pages.u16(page, COUNT, count - 1);
        if (count == 1) {
            // empty again: all zeros but the chain link, so a bucket with no overflow is a tag
            int next = Pages.next(page);
            init(page);
            Pages.next(page, next);
        } else if (entry == dataStart(page)) {
            dataStart(page, entry + size);
        } else {
            Pages.u16(page, GARBAGE, garbage(page) + size);
        }
    }

    /** Rewrites the entry data contiguously at the page end, dropping garbage. */
    public static void compactInPlace(byte[] page, byte[] scratch) {
        int count = count(page);
        int end = page.length;
        System.arraycopy(page, 0, scratch, 0, page.length);
        for (int i = 0; i < count; i++) {
            int entry = slotEntry(scratch, i);
            int size = storedEntrySize(scratch, entry);
            end -= size;
            System.arraycopy(scratch, entry, page, end, size);
            Pages.u16(page, slotAt(i) + 6, end);
        }
        dataStart(page, end);
        Pages.u16(page, GARBAGE, 0);
    }
}

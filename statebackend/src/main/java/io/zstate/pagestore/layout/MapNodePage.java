package io.zstate.pagestore.layout;

import java.util.Arrays;

/**
 * An inner node of a map index's B+tree: separators (user-key bytes) in sorted slots, each with
 * the child that holds the keys from it up to the next separator; the first child holds the keys
 * below the first separator.
 *
 * <pre>
 *    0 u16 count        separators
 *    2 u16 dataUsed     pageSize - dataStart (entry data grows down from the page end)
 *    4 u16 garbage      bytes of dead entry data, reclaimed by compaction
 *    6 u16 (zero)
 *    8 i32 (zero)       no chain
 *   12 i32 child0 + 1   the child below the first separator
 *   16 ...              slots: u16 entry offset each, in separator order
 *
 *   entry: u16 length, i32 child, separator bytes
 *
 *   child0 | sep0 child1 | sep1 child2 | ...     child i+1 holds keys in [sep i, sep i+1)
 * </pre>
 *
 * Separators compare as unsigned bytes, a prefix before every longer key that starts with it
 * (the order of RocksDB's bytewise comparator).
 */
public final class MapNodePage {

    private static final int COUNT = 0;
    private static final int DATA_USED = 2;
    private static final int GARBAGE = 4;
    private static final int CHILD0 = 12;
    private static final int SLOT = 2;
    private static final int ENTRY_HEADER = 6;

    private MapNodePage() {}

    /** A node with one child and no separator. */
    public static void init(byte[] page, int child0) {
        Arrays.fill(page, (byte) 0);
        Pages.i32(page, CHILD0, child0 + 1);
    }

    public static int count(byte[] page) {
        return Pages.u16(page, COUNT);
    }

    /** Child {@code i}: 0 is below the first separator, i > 0 from separator i-1 on. */
    public static int child(byte[] page, int i) {
        if (i == 0) {
            return Pages.i32(page, CHILD0) - 1;
        }
        return Pages.i32(page, entry(page, i - 1) + 2);
    }

    private static int entry(byte[] page, int index) {
        return Pages.u16(page, Pages.HEADER + SLOT * index);
    }

    public static int separatorLength(byte[] page, int index) {
        return Pages.u16(page, entry(page, index));
    }

    public static int separatorOffset(byte[] page, int index) {
        return entry(page, index) + ENTRY_HEADER;
    }

    /**
     * The child that holds {@code key}: 1 + the index of the last separator at or below it, or 0.
     */
    public static int childFor(byte[] page, byte[] key, int offset, int length) {
        int lo = 0;
        int hi = count(page) - 1;
        while (lo <= hi) { // the last separator <= key
            int mid = (lo + hi) >>> 1;
            int at = separatorOffset(page, mid);
            if (Arrays.compareUnsigned(page, at, at + separatorLength(page, mid), key, offset, offset + length) <= 0) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** Bytes a separator of {@code length} needs: slot and entry. */
    public static int needed(int length) {
        return SLOT + ENTRY_HEADER + length;
    }

    private static int dataStart(byte[] page) {
        return page.length - Pages.u16(page, DATA_USED);
    }

    /** Whether a separator of {@code length} fits (after compaction if garbage makes the room). */
    public static boolean hasRoom(byte[] page, int length) {
        return dataStart(page) - (Pages.HEADER + SLOT * count(page)) + Pages.u16(page, GARBAGE) >= needed(length);
    }

    /**
     * Inserts separator {@code key} with its child as child {@code position} (after separator
     * {@code position - 2}); the page must have room ({@link #hasRoom}).
     */
    public static void insert(byte[] page, int position, byte[] key, int offset, int length, int child, byte[] scratch) {
        int count = count(page);
        if (dataStart(page) - (Pages.HEADER + SLOT * (count + 1)) < ENTRY_HEADER + length) {
            compact(page, scratch);
        }
        int entry = dataStart(page) - ENTRY_HEADER - length;
        if (entry < Pages.HEADER + SLOT * (count + 1)) {
            throw new IllegalStateException("a map node cannot take a separator of " + length
                    + " bytes: the page store is corrupt");
        }
        Pages.u16(page, entry, length);
        Pages.i32(page, entry + 2, child);
        System.arraycopy(key, offset, page, entry + ENTRY_HEADER, length);
        int index = position - 1;
        int at = Pages.HEADER + SLOT * index;
        System.arraycopy(page, at, page, at + SLOT, SLOT * (count - index));
        Pages.u16(page, at, entry);
        Pages.u16(page, COUNT, count + 1);
        Pages.u16(page, DATA_USED, page.length - entry);
    }

    /**
     * Where to split a full node so that each half keeps about half of its bytes: the index of
     * the first separator at which the bytes before it reach half (that separator goes up).
     * Counting separators instead would let one half keep all the long ones and have no room
     * for the separator the split was for.
     */
    public static int middleByBytes(byte[] page) {
        int count = count(page);
        long total = 0;
        for (int i = 0; i < count; i++) {
            total += needed(separatorLength(page, i));
        }
        long before = 0;
        for (int i = 0; i < count; i++) {
            before += needed(separatorLength(page, i));
            if (2 * before >= total) {
                return i;
            }
        }
        return count - 1;
    }

    /**
     * Moves separators {@code from ..} of {@code page} into the empty node {@code right}: separator
     * {@code from} goes up (the caller copied it), its child becomes right's child0, the rest
     * follow. {@code page} keeps separators {@code 0 .. from-1}.
     */
    public static void splitInto(byte[] page, int from, byte[] right, byte[] scratch) {
        int count = count(page);
        init(right, child(page, from + 1));
        for (int i = from + 1; i < count; i++) {
            int at = separatorOffset(page, i);
            insert(right, i - from, page, at, separatorLength(page, i), child(page, i + 1), scratch);
        }
        for (int i = from; i < count; i++) {
            Pages.u16(page, GARBAGE, Pages.u16(page, GARBAGE) + ENTRY_HEADER + separatorLength(page, i));
        }
        Pages.u16(page, COUNT, from);
    }

    /** Rewrites the entries contiguously at the page end, dropping garbage. */
    private static void compact(byte[] page, byte[] scratch) {
        System.arraycopy(page, 0, scratch, 0, page.length);
        int count = count(page);
        int end = page.length;
        for (int i = 0; i < count; i++) {
            int entry = entry(scratch, i);
            int size = ENTRY_HEADER + Pages.u16(scratch, entry);
            end -= size;
            System.arraycopy(scratch, entry, page, end, size);
            Pages.u16(page, Pages.HEADER + SLOT * i, end);
        }
        Pages.u16(page, DATA_USED, page.length - end);
        Pages.u16(page, GARBAGE, 0);
    }
}

package io.zstate.pagestore.tier;

import java.util.Arrays;

/**
 * The hot tier: decompressed pages on the heap, a fixed number of slots, CLOCK replacement.
 *
 * <pre>
 *   slot -> page bytes, page id, referenced bit, dirty bit, pin count, write stamp
 *
 *   victim(): the hand sweeps the slots; a referenced slot loses its bit and is passed over,
 *   a pinned one is passed over; the first unreferenced, unpinned slot is the victim.
 *   cleaning candidates (the background reaper): the dirty, unreferenced, unpinned slots in a
 *   window ahead of the hand, the next victims; a second hand (cleanLead slots ahead of the
 *   first) scans a few slots per eviction.
 *   write stamp: a number that changes whenever a slot's bytes may have changed (a write, a new
 *   occupant), so a copy taken of a page can be told still current later.
 * </pre>
 *
 * The cache does not know what a victim's eviction means; the pager decides (store a dirty
 * page, drop a clean one). Owns the slots and their bits; touches nothing else. Used only by
 * the {@link Pager}, under the store's lock.
 */
final class PageCache {

    static final int FREE = -1;

    private final byte[][] pages;
    private final int pageSize;
    private int allocated;
    private final int[] pageIds;
    private final boolean[] referenced;
    private final boolean[] dirty;
    private final int[] pins;
    private final long[] stamps;
    private long writeClock;
    /** The stamp at which the cleaner last took each slot. */
    private final long[] cleaningStamps;
    /** How many slots from the hand the cleaner has scanned. */
    private int cleanLead;
    private final int[] freeSlots;
    private int freeCount;
    private int hand;
    private int used;
    /** How many slots may hold pages: all of them, until {@link #limit} gives some up. */
    private int limit;

    PageCache(int slots, int pageSize) {
        if (slots < 4) {
            throw new IllegalArgumentException(
                    "page cache of " + slots + " pages is too small: it must hold at least 4 pages");
        }
        this.pageSize = pageSize;
        pages = new byte[slots][]; // page arrays are allocated on first use
        pageIds = new int[slots];
        Arrays.fill(pageIds, FREE);
        referenced = new boolean[slots];
        dirty = new boolean[slots];
        pins = new int[slots];
        stamps = new long[slots];
        cleaningStamps = new long[slots];
        freeSlots = new int[slots];
        for (int i = 0; i < slots; i++) {
            freeSlots[i] = slots - 1 - i;
        }
        freeCount = slots;
        limit = slots;
    }

    int slots() {
        return pages.length;
    }

    int used() {
        return used;
    }

    byte[] page(int slot) {
        byte[] page = pages[slot];
        if (page == null) {
            page = pages[slot] = new byte[pageSize];
            allocated++;
        }
        return page;
    }

    int pageId(int slot) {
        return pageIds[slot];
    }

    void touch(int slot) {
        referenced[slot] = true;
    }

    boolean isDirty(int slot) {
        return dirty[slot];
    }

    void dirty(int slot, boolean value) {
        dirty[slot] = value;
    }

    /** The slot's bytes may change now (a write follows, or a new page moves in). */
    void stamp(int slot) {
        stamps[slot] = ++writeClock;
    }

    long stampOf(int slot) {
        return stamps[slot];
    }

    /**
     * The next slot a background cleaner should take, or FREE: a dirty, unreferenced, unpinned
     * slot ahead of the hand (a next victim) that it has not taken at its current stamp. The scan
     * goes on from where the last one stopped, looks at most {@code scan} slots, and stays within
     * {@code window} slots of the hand: a few slots per eviction keep it ahead, since the hand
     * moves about two slots per victim.
     */
    int nextToClean(int window, int scan) {
        int limit = Math.min(window, pages.length);
        int slot = hand + cleanLead;
        if (slot >= pages.length) {
            slot -= pages.length;
        }
        for (int i = 0; i < scan && cleanLead < limit; i++) {
            int candidate = slot;
            cleanLead++;
            slot = slot + 1 == pages.length ? 0 : slot + 1;
            if (pageIds[candidate] != FREE && dirty[candidate] && !referenced[candidate] && pins[candidate] == 0
                    && cleaningStamps[candidate] != stamps[candidate]) {
                cleaningStamps[candidate] = stamps[candidate];
                return candidate;
            }
        }
        return FREE;
    }

    void pin(int slot) {
        pins[slot]++;
    }

    void unpin(int slot) {
        assert pins[slot] > 0;
        pins[slot]--;
    }

    boolean isPinned(int slot) {
        return pins[slot] > 0;
    }

    /** A free slot, or FREE when every slot the limit allows holds a page. */
    int freeSlot() {
        return freeCount == 0 || used >= limit ? FREE : freeSlots[freeCount - 1];
    }

    /**
     * Lets at most {@code slots} slots hold pages from now on (at least 4); the caller evicts
     * until {@link #used} is within it ({@link #overLimit}) and {@link #release}s the arrays.
     */
    void limit(int slots) {
        if (slots < 4 || slots > pages.length) {
            throw new IllegalArgumentException("a page cache limit of " + slots + " pages: use 4 to " + pages.length);
        }
        limit = slots;
    }

    int limit() {
        return limit;
    }

    /** Whether more slots hold pages than the limit allows. */
    boolean overLimit() {
        return used > limit;
    }

    /** Frees a vacated slot's page array (the memory a smaller limit gives back). */
    void release(int slot) {
        assert pageIds[slot] == FREE;
        if (pages[slot] != null) {
            pages[slot] = null;
            allocated--;
        }
    }

    /** The next CLOCK victim among the occupied, unpinned slots. */
    int victim() {
        for (int sweep = 0; sweep < 2 * pages.length + 1; sweep++) {
            int slot = hand;
            hand = hand + 1 == pages.length ? 0 : hand + 1;
            if (cleanLead > 0) {
                cleanLead--;
            }
            if (pageIds[slot] == FREE || pins[slot] > 0) {
                continue;
            }
            if (referenced[slot]) {
                referenced[slot] = false;
                continue;
            }
            return slot;
        }
        throw new IllegalStateException(
                "every page-cache slot is pinned: the page cache of " + pages.length + " pages is too small");
    }

    void occupy(int slot, int pageId, boolean isDirty) {
        assert pageIds[slot] == FREE;
        if (freeCount > 0 && freeSlots[freeCount - 1] == slot) {
            freeCount--;
        } else {
            // a slot just vacated by eviction is reused at once; it was pushed last
            throw new IllegalStateException("cache slot " + slot + " is not the next free slot");
        }
        pageIds[slot] = pageId;
        referenced[slot] = true;
        dirty[slot] = isDirty;
        stamps[slot] = ++writeClock;
        used++;
    }

    void vacate(int slot) {
        assert pageIds[slot] != FREE && pins[slot] == 0;
        pageIds[slot] = FREE;
        dirty[slot] = false;
        referenced[slot] = false;
        freeSlots[freeCount++] = slot;
        used--;
    }

    /** Heap bytes of the page arrays allocated so far and the per-slot bookkeeping. */
    long heapBytes() {
        return (long) allocated * (pageSize + 16) + (long) pages.length * (8 + 4 + 1 + 1 + 4 + 4 + 8 + 8);
    }
}

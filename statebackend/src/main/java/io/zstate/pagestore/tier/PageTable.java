package io.zstate.pagestore.tier;

import java.util.Arrays;

/**
 * Where every page is: page id -> the copies that exist of it. A page has exactly one
 * authoritative place at any time:
 *
 * <pre>
 *   hot and dirty   the page cache; no other copy is current (POOL, SPILLED, SAME all clear)
 *   otherwise       exactly one of: a pool handle (compressed, in memory), SPILLED (a current
 *                   copy in RocksDB), SAME (every word of the page equals one long, kept here);
 *                   a clean hot copy may sit in the page cache beside it
 *   RAW             with a pool handle: the pool object holds the page uncompressed (kept raw
 *                   while the pool had room; compressed later, see Pager.drainRaw)
 * </pre>
 *
 * Arrays indexed by page id; freed ids are reused (LIFO). Owns only this bookkeeping; the
 * {@link Pager} keeps it true, under the store's lock.
 */
final class PageTable {

    static final int NOT_CACHED = -1;

    static final byte LIVE = 1;
    static final byte SPILLED = 2;
    static final byte SAME = 4;
    /** RocksDB may hold a copy, current or stale: delete it when the page is freed. */
    static final byte ON_DISK = 8;
    /** The pool object is the page uncompressed (StoredPage.RAW), kept so while the pool had room. */
    static final byte RAW = 16;
    /** In RocksDB alone, and a write to it came soon after its last use there (Pager.writeMayWait). */
    static final byte WARM_OUT = 32;

    /** Pool handle, or the repeated word of a SAME page; 0 when neither. */
    private long[] word = new long[1024];
    private int[] cacheSlot = new int[1024];
    private byte[] flags = new byte[1024];
    /** Extendible-hashing depth of bucket pages. */
    private byte[] depth = new byte[1024];
    /**
     * The snapshot epoch stamped on the page when it was created or last saved for a snapshot:
     * open snapshots frozen in this epoch or later still read its current copy (SnapshotPins).
     */
    private int[] version = new int[1024];
    /**
     * The pager's leave clock ({@link Pager}: pages that left memory for RocksDB) when the page was
     * last used while out of memory: when it left, or when a write to it waited. The clock's
     * distance from it is the page's refault distance, as in the kernel's workingset detection.
     */
    private int[] lastUsedOut = new int[1024];
    private int[] freeIds = new int[64];
    private int freeCount;
    private int idsUsed;
    private int live;
    /** Pages with the RAW flag. */
    private int rawCopies;
    /** Pages with the SPILLED flag. */
    private int spilledPages;
    /**
     * Whether pages are being placed at ids of their own ({@link #place}); {@link #allocate}
     * refuses until {@link #finishPlacing} lists the ids left between them as free.
     */
    private boolean placing;

    /** A new live page, changed in {@code epoch}. */
    int allocate(int epoch) {
        if (placing) {
            throw new IllegalStateException("pages are being placed from a checkpoint: finish placing first");
        }
        int id;
        if (freeCount > 0) {
            id = freeIds[--freeCount];
        } else {
            id = idsUsed++;
            grow(id);
        }
        occupy(id, epoch);
        return id;
    }

    private void grow(int id) {
        if (id >= flags.length) {
            int grown = Math.max(id + 1, flags.length + (flags.length >> 1));
            word = Arrays.copyOf(word, grown);
            cacheSlot = Arrays.copyOf(cacheSlot, grown);
            flags = Arrays.copyOf(flags, grown);
            depth = Arrays.copyOf(depth, grown);
            version = Arrays.copyOf(version, grown);
            lastUsedOut = Arrays.copyOf(lastUsedOut, grown);
        }
    }

    /**
     * Makes page {@code id} live (a page placed from a checkpoint keeps the id its pages refer to
     * it by). Only before this table allocated anything, or between placements.
     *
     * @throws IllegalStateException if the id is live already
     */
    void place(int id, int epoch) {
        if (!canPlace()) {
            throw new IllegalStateException("pages can be placed only into an empty page table");
        }
        placing = true;
        if (id < 0) {
            throw new IllegalStateException("page id " + id + " is not a page id");
        }
        if (id < idsUsed && isLive(id)) {
            throw new IllegalStateException("page " + id + " was placed twice");
        }
        grow(id);
        idsUsed = Math.max(idsUsed, id + 1);
        occupy(id, epoch);
    }

    boolean canPlace() {
        return placing || (idsUsed == 0 && freeCount == 0);
    }

    /** The placing is done: every id below the highest placed that is not live is free. */
    void finishPlacing() {
        if (!placing) {
            return;
        }
        placing = false;
        for (int id = idsUsed - 1; id >= 0; id--) { // the lowest ids are handed out first
            if (!isLive(id)) {
                if (freeCount == freeIds.length) {
                    freeIds = Arrays.copyOf(freeIds, freeCount * 2);
                }
                freeIds[freeCount++] = id;
            }
        }
    }

    private void occupy(int id, int epoch) {
        word[id] = 0;
        cacheSlot[id] = NOT_CACHED;
        flags[id] = LIVE;
        depth[id] = 0;
        version[id] = epoch;
        lastUsedOut[id] = 0;
        live++;
    }

    void release(int id) {
        assert isLive(id);
        rawCopies -= (flags[id] & RAW) != 0 ? 1 : 0;
        spilledPages -= (flags[id] & SPILLED) != 0 ? 1 : 0;
        flags[id] = 0;
        word[id] = 0;
        cacheSlot[id] = NOT_CACHED;
        if (freeCount == freeIds.length) {
            freeIds = Arrays.copyOf(freeIds, freeCount * 2);
        }
        freeIds[freeCount++] = id;
        live--;
    }

    boolean isLive(int id) {
        return id >= 0 && id < idsUsed && (flags[id] & LIVE) != 0;
    }

    int cacheSlot(int id) {
        return cacheSlot[id];
    }

    void cacheSlot(int id, int slot) {
        cacheSlot[id] = slot;
    }

    long poolHandle(int id) {
        return (flags[id] & SAME) != 0 ? 0 : word[id];
    }

    /** Points the page at a pool object (0: none) that holds it compressed. */
    void poolHandle(int id, long handle) {
        word[id] = handle;
        clearRaw(id);
        flags[id] &= ~SAME;
    }

    /** Points the page at a pool object that holds it uncompressed. */
    void rawPoolHandle(int id, long handle) {
        poolHandle(id, handle);
        flags[id] |= RAW;
        rawCopies++;
    }

    /** Whether the page's pool object holds it uncompressed. */
    boolean isRaw(int id) {
        return (flags[id] & RAW) != 0;
    }

    private void clearRaw(int id) {
        if ((flags[id] & RAW) != 0) {
            flags[id] &= ~RAW;
            rawCopies--;
        }
    }

    /** Pages whose pool object holds them uncompressed. */
    int rawCopies() {
        return rawCopies;
    }

    boolean isSpilled(int id) {
        return (flags[id] & SPILLED) != 0;
    }

    void spilled(int id, boolean spilled) {
        if (spilled != isSpilled(id)) {
            spilledPages += spilled ? 1 : -1;
        }
        flags[id] = (byte) (spilled ? flags[id] | SPILLED | ON_DISK : flags[id] & ~SPILLED);
    }

    /** RocksDB holds a copy of the page that is not its current one: deleted when the page is freed. */
    void onDisk(int id) {
        flags[id] |= ON_DISK;
    }

    /** Pages whose current copy is in RocksDB (a clean copy may be in the cache beside it). */
    int spilledPages() {
        return spilledPages;
    }

    /** The page was used while out of memory (it left, or a write to it waited) at {@code clock}. */
    void usedOut(int id, int clock) {
        lastUsedOut[id] = clock;
    }

    int lastUsedOut(int id) {
        return lastUsedOut[id];
    }

    boolean isWarmOut(int id) {
        return (flags[id] & WARM_OUT) != 0;
    }

    void warmOut(int id, boolean warm) {
        flags[id] = (byte) (warm ? flags[id] | WARM_OUT : flags[id] & ~WARM_OUT);
    }

    boolean isOnDisk(int id) {
        return (flags[id] & ON_DISK) != 0;
    }

    boolean isSame(int id) {
        return (flags[id] & SAME) != 0;
    }

    long sameWord(int id) {
        return word[id];
    }

    void same(int id, long value) {
        clearRaw(id);
        word[id] = value;
        flags[id] |= SAME;
    }

    void clearSame(int id) {
        if ((flags[id] & SAME) != 0) {
            flags[id] &= ~SAME;
            word[id] = 0;
        }
    }

    int depth(int id) {
        return depth[id];
    }

    void depth(int id, int value) {
        depth[id] = (byte) value;
    }

    int version(int id) {
        return version[id];
    }

    void version(int id, int epoch) {
        version[id] = epoch;
    }

    int live() {
        return live;
    }

    int idsUsed() {
        return idsUsed;
    }

    long metadataBytes() {
        return 22L * flags.length + 4L * freeIds.length;
    }
}

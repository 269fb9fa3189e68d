package io.zstate.pagestore.tier;

import io.zstate.pagestore.layout.StoredPage;
import java.nio.ByteBuffer;

/**
 * Writeback off the task's thread: copies of the objects of a pool's coldest frames on their way
 * to RocksDB, committed by the background reaper without the store's lock (kswapd's writeback,
 * the zsmalloc isolation of {@code ZPool#isolateColdest} on the allocator's side).
 *
 * <pre>
 *   IDLE --copy (task, store's lock: the pool isolates its coldest frames)--> COPIED
 *   COPIED --commit (the reaper, or the task when it cannot wait: this monitor)--> COMMITTED | FAILED
 *   COMMITTED | FAILED --complete (task, store's lock)--> IDLE
 *
 *   copy      every object that is a page's current copy (the pager decides) is copied here with
 *             its page id and handle; snapshot pins are not (their victims stay in the pool)
 *   commit    raw objects are compressed (as the store path would: RocksDB holds raw only pages
 *             that do not compress), every copy is put under its page's own key in one RocksDB
 *             write batch, and the batch is written; a failure is kept for the task
 *   complete  the pager frees each object whose page still names it (the pool ends the
 *             isolation), the page is then in RocksDB; a failure fails the store
 * </pre>
 *
 * The state is volatile: the copies written before COPIED is published are seen by the committing
 * thread, and the commit's outcome before COMMITTED/FAILED by the task. One batch per pager, so
 * one isolation at a time, as the pool allows. Commits run under this object's monitor (a leaf
 * below the store's lock: the task takes it under the lock, the reaper alone), which {@link
 * #close} takes too: no RocksDB write runs after the pager closed. Entries are found by handle at
 * completion through a small open-addressing table. Heap: the copies (at most the isolated frames'
 * bytes) and the entries' arrays, grown as needed and kept (counted in the pager's heap bytes).
 */
public final class WritebackBatch {

    static final int IDLE = 0;
    static final int COPIED = 1;
    static final int COMMITTED = 2;
    static final int FAILED = 3;

    private final SpillStore spill;
    private final PageCodec codec;
    private final int pageSize;
    private final double bouncerMinRatio;
    private volatile int state = IDLE;
    private int count;
    private int[] pageIds = new int[64];
    private long[] handles = new long[64];
    private int[] offsets = new int[64];
    private int[] lengths = new int[64];
    private byte[] bytes = new byte[16 * 1024];
    private int used;
    /** Handle -> entry + 1 (0: empty), for {@link #indexOf}; built when copying ends. */
    private long[] tableKeys = new long[128];
    private int[] tableValues = new int[128];
    private final org.rocksdb.WriteBatch writes = new org.rocksdb.WriteBatch();
    /** A raw copy on its way to being compressed (the committing thread's). */
    private final byte[] page;
    private final byte[] compressed;
    private Throwable failure;
    /** Frames the pool isolated for this batch. */
    private int frames;
    private volatile boolean closed;
    /** Commits by the task, which could not wait for the reaper (for the metrics). */
    private long committedByTask;

    WritebackBatch(SpillStore spill, PageCodec codec, int pageSize, int maxStored, double bouncerMinRatio) {
        this.spill = spill;
        this.codec = codec;
        this.pageSize = pageSize;
        this.bouncerMinRatio = bouncerMinRatio;
        this.page = new byte[pageSize];
        this.compressed = new byte[maxStored];
    }

    // ==== the task's side (under the store's lock) ===============================================

    /** Whether no batch is on its way (a new isolation may start). */
    boolean isIdle() {
        return state == IDLE;
    }

    /** Whether copies wait for their commit (the reaper has work). */
    public boolean hasWork() {
        return state == COPIED;
    }

    /** Whether the commit is done (COMMITTED or FAILED): the task completes. */
    boolean isDone() {
        int s = state;
        return s == COMMITTED || s == FAILED;
    }

    /**
     * Copies one pool object into the batch (the pool's copier calls this) and returns its entry;
     * the page id is read from the copy ({@link #pageId}).
     */
    int add(long handle, ByteBuffer object) {
        int length = object.remaining();
        if (count == pageIds.length) {
            int n = count * 2;
            pageIds = java.util.Arrays.copyOf(pageIds, n);
            handles = java.util.Arrays.copyOf(handles, n);
            offsets = java.util.Arrays.copyOf(offsets, n);
            lengths = java.util.Arrays.copyOf(lengths, n);
        }
        if (used + length > bytes.length) {
            bytes = java.util.Arrays.copyOf(bytes, Math.max(bytes.length * 2, used + length));
        }
        object.get(bytes, used, length);
        pageIds[count] = StoredPage.pageId(bytes, used);
        handles[count] = handle;
        offsets[count] = used;
        lengths[count] = length;
        used += length;
        return count++;
    }

    /** Forgets the entry {@link #add} made last (not a page's current copy). */
    void dropLast() {
        count--;
        used -= lengths[count];
    }

    /**
     * The copies are complete ({@code frames} isolated): builds the handle table and publishes the
     * batch to the committing thread. A batch without copies goes straight to COMMITTED.
     */
    void copied(int frames) {
        this.frames = frames;
        int capacity = Integer.highestOneBit(Math.max(count, 32) * 2 - 1) << 1;
        if (tableKeys.length < capacity) {
            tableKeys = new long[capacity];
            tableValues = new int[capacity];
        } else {
            java.util.Arrays.fill(tableValues, 0);
        }
        int mask = tableKeys.length - 1;
        for (int i = 0; i < count; i++) {
            int slot = slot(handles[i], mask);
            while (tableValues[slot] != 0) {
                slot = (slot + 1) & mask;
            }
            tableKeys[slot] = handles[i];
            tableValues[slot] = i + 1;
        }
        state = count == 0 ? COMMITTED : COPIED; // publishes the copies
    }

    /** The entry that copied {@code handle}, or -1. */
    int indexOf(long handle) {
        int mask = tableKeys.length - 1;
        for (int slot = slot(handle, mask); tableValues[slot] != 0; slot = (slot + 1) & mask) {
            if (tableKeys[slot] == handle) {
                return tableValues[slot] - 1;
            }
        }
        return -1;
    }

    private static int slot(long handle, int mask) {
        long h = handle * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 32) & mask;
    }

    /** Whether the batch holds a copy of page {@code pageId} (a linear scan: the task's rare paths only). */
    boolean holds(int pageId) {
        for (int i = 0; i < count; i++) {
            if (pageIds[i] == pageId) {
                return true;
            }
        }
        return false;
    }

    int count() {
        return count;
    }

    int pageId(int i) {
        return pageIds[i];
    }

    int frames() {
        return frames;
    }

    /** The failure of a FAILED commit. */
    Throwable failure() {
        return failure;
    }

    /**
     * Commits the copies on the task's thread if the reaper has not begun, or waits for the
     * reaper's commit to end: afterwards the batch is done (or idle). Returns whether the task
     * committed it itself.
     */
    boolean commitOrWait() {
        synchronized (this) {
            if (state != COPIED) {
                return false;
            }
            commitLocked();
            committedByTask++;
            return true;
        }
    }

    /** The batch is completed: its entries are forgotten, and it is idle again. */
    void completed() {
        count = 0;
        used = 0;
        frames = 0;
        failure = null;
        state = IDLE;
    }

    /** Commits by the task that could not wait for the reaper so far. */
    long committedByTask() {
        return committedByTask;
    }

    long heapBytes() {
        return bytes.length + (long) pageIds.length * (4 + 8 + 4 + 4) + tableKeys.length * 12L + 2L * pageSize;
    }

    /** Whether the pager closed: the reaper forgets the batch. */
    public boolean isClosed() {
        return closed;
    }

    /** Waits for a commit running, then frees the codec and the write batch: nothing commits after. */
    void close() {
        synchronized (this) {
            closed = true;
            codec.close();
            writes.close();
        }
    }

    // ==== the committing thread (the reaper; no store lock) ======================================

    /** Commits the copies if there are any to commit; returns the pages written (0 if none waited). */
    public int commitIfCopied() {
        if (state != COPIED) {
            return 0;
        }
        synchronized (this) {
            if (state != COPIED) {
                return 0;
            }
            return commitLocked();
        }
    }

    private int commitLocked() {
        if (closed) {
            failure = new IllegalStateException("the page store closed while pages were being written back");
            state = FAILED;
            return 0;
        }
        try {
            for (int i = 0; i < count; i++) {
                putCopy(i);
            }
            spill.writeFromReaper(writes);
            state = COMMITTED; // publishes the outcome
            return count;
        } catch (RuntimeException | Error e) {
            failure = e;
            state = FAILED;
            return 0;
        } finally {
            writes.clear();
        }
    }

    /**
     * Puts entry {@code i} into the write batch under its page's key: a raw copy compressed first
     * (RocksDB holds raw only the pages that do not compress), as the direct writeback does.
     */
    private void putCopy(int i) {
        int at = offsets[i];
        int length = lengths[i];
        if (bytes[at + StoredPage.PAGE_ID] == StoredPage.RAW) {
            int stored = codec.encodeRawObject(bytes, at, length, page, compressed, bouncerMinRatio);
            spill.putInto(writes, pageIds[i], compressed, StoredPage.PAGE_ID, stored - StoredPage.PAGE_ID);
        } else {
            spill.putInto(writes, pageIds[i], bytes, at + StoredPage.PAGE_ID, length - StoredPage.PAGE_ID);
        }
    }
}

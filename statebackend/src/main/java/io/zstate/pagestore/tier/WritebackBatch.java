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
 * completion ({@link LongKeyMap}). Heap: the copies (at most the isolated frames' bytes) and the
 * entries, grown as needed and kept (counted in the pager's heap bytes).
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
    private int[] offsets = new int[64];
    private int[] lengths = new int[64];
    private byte[] bytes = new byte[16 * 1024];
    private int used;
    /** Pool handle -> its entry ({@link #indexOf}). */
    private final LongKeyMap<Integer> entries = new LongKeyMap<>();
    private final org.rocksdb.WriteBatch writes = new org.rocksdb.WriteBatch();
    /** A raw copy on its way to being compressed (the committing thread's). */
    private final byte[] page;
    private final byte[] compressed;
    private Throwable failure;
    private volatile boolean closed;

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
            offsets = java.util.Arrays.copyOf(offsets, n);
            lengths = java.util.Arrays.copyOf(lengths, n);
        }
        if (used + length > bytes.length) {
            bytes = java.util.Arrays.copyOf(bytes, Math.max(bytes.length * 2, used + length));
        }
        object.get(bytes, used, length);
        pageIds[count] = StoredPage.pageId(bytes, used);
        entries.put(handle, count);
        offsets[count] = used;
        lengths[count] = length;
        used += length;
        return count++;
    }

    /** Forgets the entry {@link #add} made last, for {@code handle} (not a page's current copy). */
    void dropLast(long handle) {
        entries.remove(handle);
        count--;
        used -= lengths[count];
    }

    /**
     * The copies are complete: the batch is published to the committing thread. A batch without
     * copies goes straight to COMMITTED.
     */
    void copied() {
        state = count == 0 ? COMMITTED : COPIED; // publishes the copies
    }

    /** The entry that copied {@code handle}, or -1. */
    int indexOf(long handle) {
        Integer i = entries.get(handle);
        return i == null ? -1 : i;
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

    /** The failure of a FAILED commit. */
    Throwable failure() {
        return failure;
    }

    /**
     * Commits the copies on the task's thread if the reaper has not begun, or waits for the
     * reaper's commit to end: afterwards the batch is done (or idle).
     */
    void commitOrWait() {
        synchronized (this) {
            if (state == COPIED) {
                commitLocked();
            }
        }
    }

    /** The batch is completed: its entries are forgotten, and it is idle again. */
    void completed() {
        count = 0;
        used = 0;
        entries.clear();
        failure = null;
        state = IDLE;
    }

    long heapBytes() {
        // the entries' arrays, and the map's: at most half full, a key, a reference and an Integer each
        return bytes.length + (long) pageIds.length * (4 + 4 + 4) + 2L * pageIds.length * (8 + 4 + 16)
                + 2L * pageSize;
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

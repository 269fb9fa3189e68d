package io.zstate.pagestore.tier;

import io.zstate.pagestore.layout.SameFilled;

/**
 * Every live page as it was at one instant, readable by one other thread (a checkpoint's
 * asynchronous part) while the pager goes on, without a copy of the state: a page unchanged since
 * the freeze is read from wherever it is now (page cache, pool, RocksDB, a same-filled tag); a
 * page changed since is read from the copy the pager saved before changing it ({@link
 * SnapshotPins}). Reads copy one page's stored bytes under the store's lock (or, for a page in
 * RocksDB, take what keeps its record: a view or its pin) and read RocksDB and decode after
 * releasing it, with the codec's one {@link PageCodec#decode}.
 *
 * <p>Costs the pins it holds (counted in the pool's budget or kept in RocksDB). Close it when done: the last snapshot to release
 * a pin frees it, and a pager closed under open snapshots releases its memory when the last one
 * closes.
 */
public final class FrozenPages implements AutoCloseable {

    static final byte RAW = 1;
    static final byte STORED = 2;
    static final byte SAME = 3;
    /** In RocksDB: read outside the lock, through {@link #readView} or the pin {@link #readPin}. */
    static final byte SPILL_READ = 4;

    final int epoch;
    /** Pages changed since the freeze: the copies saved for this snapshot. */
    final LongKeyMap<SnapshotPins.Pin> saved = new LongKeyMap<>();
    private final Pager pager;
    private final Object lock;
    private final int pageSize;
    private final PageCodec codec;

    // one page's copy, written under the lock by Pager.copyFrozen, decoded after
    final byte[] copy;
    byte copyKind;
    int copyOffset;
    int copyLength;
    long copyWord;
    SpillStore.View readView;
    /** Whether {@link #readView} was taken for this read (dropped after it) or is a pin's. */
    boolean readViewOwned;
    long readPin;
    /** This snapshot thread's own key scratch for RocksDB reads outside the lock. */
    final byte[] key = new byte[8];
    private boolean closed;
    /** A RocksDB read is running outside the lock: a close meanwhile releases after it. */
    private boolean reading;
    private boolean releaseAfterRead;

    /** {@code codec}: this view's own (closed with it), which reads the pager's stored pages. */
    FrozenPages(Pager pager, Object lock, int epoch, int pageSize, int maxStored, PageCodec codec) {
        this.pager = pager;
        this.lock = lock;
        this.epoch = epoch;
        this.pageSize = pageSize;
        this.codec = codec;
        this.copy = new byte[maxStored];
    }

    /** A bucket page's extendible-hashing depth when frozen. */
    public int depth(int pageId) {
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("this snapshot of the page store was released");
            }
            return pager.frozenDepth(this, pageId);
        }
    }

    /** The bytes of a page as frozen, in {@code into} (a page-sized buffer of the caller's). */
    public byte[] read(int pageId, byte[] into) {
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("this snapshot of the page store was released");
            }
            pager.copyFrozen(this, pageId, into);
            reading = copyKind == SPILL_READ;
        }
        if (copyKind == SPILL_READ) {
            try {
                pager.readFrozenSpilled(this, pageId); // RocksDB, without the task's lock
            } finally {
                synchronized (lock) {
                    reading = false;
                    if (readViewOwned && readView != null) {
                        readView.close();
                    }
                    readView = null;
                    if (releaseAfterRead) {
                        releaseAfterRead = false;
                        pager.release(this);
                    }
                }
            }
        }
        switch (copyKind) {
            case RAW:
                return into; // copied straight from the page cache
            case STORED:
                synchronized (codec) { // a close on another thread waits for the decode
                    codec.decode(copy, copyOffset, copyLength, into);
                }
                return into;
            case SAME:
                SameFilled.fill(into, copyWord);
                return into;
            default:
                throw new IllegalStateException("frozen page " + pageId + " has no copy");
        }
    }

    public int pageSize() {
        return pageSize;
    }

    /**
     * Releases the pins of this snapshot (under the store's lock); idempotent. If another thread
     * is reading RocksDB for this snapshot right now (a cancellation racing the snapshot's
     * thread), the pins are released when that read ends.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            codec.close(); // waits for a decode running on the snapshot's thread
            if (reading) {
                releaseAfterRead = true;
                return;
            }
            pager.release(this);
        }
    }
}

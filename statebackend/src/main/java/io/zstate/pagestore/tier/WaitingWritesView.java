package io.zstate.pagestore.tier;

/**
 * The write buffer's waiting writes in RocksDB as they were at one instant (a RocksDB snapshot,
 * shared with the pinned copies' views), for a checkpoint's asynchronous part to read while the
 * store goes on applying and sending them: the index keeps them under page ids, this reads them
 * by page id. Reads need not hold the store's lock (RocksDB reads are thread-safe and the
 * snapshot keeps the records); one reading thread. Close it when done.
 */
public final class WaitingWritesView implements AutoCloseable {

    private final SpillStore.View view;
    private final byte[] key = new byte[8];
    private boolean closed;

    WaitingWritesView(SpillStore.View view) {
        this.view = view;
    }

    /**
     * Reads the waiting writes kept for a page id into {@code dst}: their length (larger than
     * {@code dst} if it had too little room: ask again), or -1 if there were none.
     */
    public int read(int pageId, byte[] dst) {
        return view.getWrites(pageId, key, dst);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            view.close();
        }
    }
}

package io.zstate.pagestore.index;

import io.zstate.pagestore.WriteVisitor;
import io.zstate.pagestore.tier.WaitingWritesView;

/**
 * The write buffer's waiting writes as they were when a store was frozen without applying them
 * (an incremental checkpoint's base, whose pages then hold everything else): a copy of the
 * records in the log, and the buckets with records in RocksDB with a view of RocksDB at that
 * instant. Read by one other thread (the checkpoint's asynchronous part) while the store goes on.
 *
 * <pre>
 *   order    every bucket's records in RocksDB (each bucket's in the order they came), then the
 *            log's in the order they came: a key's writes are all in its bucket, and a bucket's
 *            records in RocksDB are older than its records in the log
 * </pre>
 *
 * Holds the view (a RocksDB snapshot) until closed; the log's copy is heap, the size of the log's
 * waiting records at most.
 */
public final class FrozenWaitingWrites implements AutoCloseable {

    /** None waiting. */
    public static final FrozenWaitingWrites NONE = new FrozenWaitingWrites(new byte[0], new int[0], null);

    private final byte[] log;
    private final int[] keptBuckets;
    private final WaitingWritesView view;
    private byte[] scratch = new byte[1024];

    FrozenWaitingWrites(byte[] log, int[] keptBuckets, WaitingWritesView view) {
        this.log = log;
        this.keptBuckets = keptBuckets;
        this.view = view;
    }

    /** Whether any write was waiting. */
    public boolean isEmpty() {
        return log.length == 0 && keptBuckets.length == 0;
    }

    /** Hands every waiting write to {@code visitor}, in the order of the class header. */
    public void forEach(WriteVisitor visitor) {
        PendingWrites.Applier applier = visitor::visit;
        for (int bucket : keptBuckets) {
            int n = view.read(bucket, scratch);
            if (n > scratch.length) {
                scratch = new byte[Math.max(n, 2 * scratch.length)];
                n = view.read(bucket, scratch);
            }
            if (n <= 0) {
                throw new IllegalStateException("RocksDB kept no waiting writes for bucket " + bucket
                        + " when the store was frozen, where the write buffer counted some: the spill store is corrupt");
            }
            PendingWrites.forEachRecord(scratch, n, bucket, applier);
        }
        PendingWrites.forEachRecord(log, log.length, -1, applier);
    }

    @Override
    public void close() {
        if (view != null) {
            view.close();
        }
    }
}

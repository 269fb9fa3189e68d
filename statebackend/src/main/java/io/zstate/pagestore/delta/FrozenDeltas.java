package io.zstate.pagestore.delta;

/**
 * The records of a {@link DeltaLog} between two freezes, immutable: what one incremental
 * checkpoint writes (and what a later one writes again while this one is not yet confirmed).
 * Safe to read from any thread once handed over.
 */
public final class FrozenDeltas {

    /** What a walk over the records meets, in the order they were written. */
    @FunctionalInterface
    public interface RecordVisitor {
        /**
         * One record; {@code bytes} holds the key (for a barrier, the prefix) at
         * {@code keyOffset} and the value at {@code valueOffset}. Valid only during the call.
         */
        void record(byte op, int table, int keyGroup, byte[] bytes, int keyOffset, int keyLength, int prefixLength,
                int valueOffset, int valueLength) throws java.io.IOException;
    }

    private final byte[] log;
    private final int size;
    private final long liveBytes;
    private final boolean complete;

    FrozenDeltas(byte[] log, int size, long liveBytes, boolean complete) {
        this.log = log;
        this.size = size;
        this.liveBytes = liveBytes;
        this.complete = complete;
    }

    /** Whether every change between the two freezes is here (false: the log gave up). */
    public boolean isComplete() {
        return complete;
    }

    /** Bytes of the live records (heap held is about this, plus dead records). */
    public long liveBytes() {
        return liveBytes;
    }

    /** Heap bytes this holds. */
    public long heapBytes() {
        return log.length;
    }

    /** Visits the live records in order. */
    public void forEach(RecordVisitor visitor) throws java.io.IOException {
        RecordHeader header = new RecordHeader();
        for (int at = 0; at < size; ) {
            int end = header.decode(log, at);
            if (header.op != DeltaLog.DEAD) {
                visitor.record(header.op, header.table, header.keyGroup, log, header.keyAt, header.keyLength,
                        header.prefixLength, header.valueAt(), header.valueLength);
            }
            at = end;
        }
    }
}

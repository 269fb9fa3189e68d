package io.zstate.pagestore.index;

import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.WriteVisitor;
import io.zstate.pagestore.tier.WaitingWritesView;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The write buffer's waiting writes as they were when a store was frozen, left waiting (a freeze
 * applies none of them): a copy of the records in the log, and the buckets with records in
 * RocksDB with a view of RocksDB at that instant. Read by one other thread (the checkpoint's
 * asynchronous part) while the store goes on, two ways:
 *
 * <pre>
 *   all, in order    every bucket's records in RocksDB (each bucket's in the order they came),
 *   ({@link #forEach})  then the log's in the order they came: a key's writes are all in its
 *                    bucket, and a bucket's records in RocksDB are older than its records in the
 *                    log; what an incremental base writes beside its pages, replayed on restore
 *   one bucket's     the net effect of a bucket's records on each key it names ({@link Overlay}):
 *   ({@link #overlay})  the value it ends with, its removal, or bytes appended to the value the
 *                    pages hold; a walk of the frozen pages lays it over the bucket's entries, so
 *                    a full snapshot sees every write without a fault at the freeze
 * </pre>
 *
 * Holds the view (a RocksDB snapshot) until closed; the log's copy is heap, the size of the log's
 * waiting records at most; an overlay holds one bucket's records' net effect (bounded by the
 * merges RocksDB holds for a bucket and the log).
 */
public final class FrozenWaitingWrites implements AutoCloseable {

    /** None waiting. */
    public static final FrozenWaitingWrites NONE = new FrozenWaitingWrites(new byte[0], new int[0], null);

    private final byte[] log;
    /** Ascending. */
    private final int[] keptBuckets;
    private final WaitingWritesView view;
    private final PendingWrites.KeptScratch scratch = new PendingWrites.KeptScratch();
    /** The log's records by bucket: offsets in log order (built at the first overlay). */
    private Map<Integer, int[]> logByBucket;

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
            forEachKept(bucket, applier);
        }
        PendingWrites.forEachRecord(log, 0, log.length, -1, applier);
    }

    private void forEachKept(int bucket, PendingWrites.Applier applier) {
        int n = scratch.read(view::read, bucket, "the write buffer counted some when the store was frozen");
        PendingWrites.forEachRecord(scratch.bytes(), 0, n, bucket, applier);
    }

    /** The net effect of the writes waiting for a bucket, or null if none waited for it. */
    public Overlay overlay(int bucket) {
        if (isEmpty()) {
            return null;
        }
        if (logByBucket == null) {
            logByBucket = indexLog();
        }
        boolean kept = Arrays.binarySearch(keptBuckets, bucket) >= 0;
        int[] inLog = logByBucket.get(bucket);
        if (!kept && inLog == null) {
            return null;
        }
        Overlay overlay = new Overlay();
        if (kept) {
            forEachKept(bucket, overlay::add);
        }
        if (inLog != null) {
            for (int at : inLog) {
                PendingWrites.forEachRecord(log, at, at + PendingWrites.recordLength(log, at), -1, overlay::add);
            }
        }
        return overlay;
    }

    private Map<Integer, int[]> indexLog() {
        Map<Integer, int[]> byBucket = new HashMap<>();
        for (int at = 0; at < log.length; at += PendingWrites.recordLength(log, at)) {
            int bucket = PendingWrites.bucketOf(log, at);
            int[] offsets = byBucket.get(bucket);
            if (offsets == null) {
                offsets = new int[] {at};
            } else {
                offsets = Arrays.copyOf(offsets, offsets.length + 1);
                offsets[offsets.length - 1] = at;
            }
            byBucket.put(bucket, offsets);
        }
        return byBucket;
    }

    @Override
    public void close() {
        if (view != null) {
            view.close();
        }
    }

    /**
     * The net effect of one bucket's waiting writes on each key they name, laid over the
     * bucket's entries as a walk visits them ({@link #over}), the keys no entry held given after
     * ({@link #rest}).
     */
    public static final class Overlay {
        private static final byte PUT = 1;
        private static final byte REMOVED = 2;
        /**
         * Bytes appended to whatever value the pages hold for the key; if they hold none, the
         * bytes after the separator are the key's value ({@link WriteVisitor#APPEND}).
         */
        private static final byte APPENDED = 3;

        /** What the writes leave of a key: a kind and its bytes (none for a removal). */
        private record Effect(byte kind, byte[] value) {}

        private final Map<ByteBuffer, Effect> effects = new LinkedHashMap<>();

        void add(int op, int table, int keyGroup, byte[] bytes, int keyOffset, int keyLength, int prefixLength,
                int valueOffset, int valueLength) {
            ByteBuffer key = ByteBuffer.wrap(Arrays.copyOfRange(bytes, keyOffset, keyOffset + keyLength));
            byte[] value = Arrays.copyOfRange(bytes, valueOffset, valueOffset + valueLength);
            Effect before = effects.get(key);
            Effect after = switch (op) {
                case WriteVisitor.PUT -> new Effect(PUT, value);
                case WriteVisitor.REMOVE -> new Effect(REMOVED, null);
                case WriteVisitor.APPEND -> before == null ? new Effect(APPENDED, value)
                        : before.kind() == REMOVED ? new Effect(PUT, withoutSeparator(value)) // appended to nothing
                        : new Effect(before.kind(), concat(before.value(), value));
                default -> throw new IllegalStateException("a waiting write of unknown kind " + op);
            };
            effects.put(key, after);
        }

        private static byte[] withoutSeparator(byte[] appended) {
            return Arrays.copyOfRange(appended, WriteVisitor.APPEND_SEPARATOR_BYTES, appended.length);
        }

        private static byte[] concat(byte[] a, byte[] b) {
            byte[] c = Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, c, a.length, b.length);
            return c;
        }

        /** {@code visitor} with this overlay laid over the entries it is handed. */
        public EntryVisitor over(EntryVisitor visitor) {
            return (k, ko, kl, v, vo, vl) -> {
                Effect effect = effects.remove(ByteBuffer.wrap(k, ko, kl));
                if (effect == null) {
                    visitor.visit(k, ko, kl, v, vo, vl);
                } else if (effect.kind() == PUT) {
                    visitor.visit(k, ko, kl, effect.value(), 0, effect.value().length);
                } else if (effect.kind() == APPENDED) {
                    byte[] whole = concat(Arrays.copyOfRange(v, vo, vo + vl), effect.value());
                    visitor.visit(k, ko, kl, whole, 0, whole.length);
                } // REMOVED: left out
            };
        }

        /** Hands {@code visitor} the keys no entry held that the writes leave with a value; returns how many. */
        public int rest(EntryVisitor visitor) {
            int n = 0;
            for (Iterator<Map.Entry<ByteBuffer, Effect>> it = effects.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<ByteBuffer, Effect> e = it.next();
                it.remove();
                Effect effect = e.getValue();
                if (effect.kind() != REMOVED) {
                    byte[] key = e.getKey().array();
                    // appended to a key the pages do not hold: the value starts after the separator
                    byte[] value = effect.kind() == APPENDED ? withoutSeparator(effect.value()) : effect.value();
                    visitor.visit(key, 0, key.length, value, 0, value.length);
                    n++;
                }
            }
            return n;
        }
    }
}

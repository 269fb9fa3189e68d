package io.zstate.benchmarks.state;

import io.zstate.flink.metrics.ZStateLocalStats;
import io.zstate.pagestore.PageStoreStats;
import java.lang.management.ManagementFactory;
import org.apache.flink.runtime.state.KeyedStateBackend;

/**
 * Bytes of memory per state entry after loading a benchmark's setup keys: the heap the loaded
 * backend retains (used heap after a full GC, minus before) plus its off-heap memory. For zstate
 * that is the page cache and the page table and directories on the heap, plus the pool frames
 * it holds off-heap (unsafe memory, like Flink's managed memory, so no JVM counter sees it:
 * {@code poolBytesHeld} of its page-store counters); for HashMap the retained object graph; for
 * RocksDB and ForSt their native memory as RocksDB reports it (memtables and table readers
 * summed over the column families, the shared block cache once) and, apart, their SST files on
 * disk: state still in a memtable counts as memory, not disk. Measured in the running JVM, so
 * keep other live objects steady around it.
 */
public final class MemoryFootprint {

    /**
     * One measurement: heap and off-heap bytes retained, bytes on local disk (RocksDB's and
     * ForSt's SST files; 0 for the others), and the entries they hold.
     */
    public record Footprint(String backend, StateSize.Kind kind, long entries, long heapBytes, long offHeapBytes,
            long diskBytes) {
        /** Memory (heap and off-heap) per entry. */
        public double bytesPerEntry() {
            return (double) (heapBytes + offHeapBytes) / entries;
        }

        public double diskBytesPerEntry() {
            return (double) diskBytes / entries;
        }
    }

    private MemoryFootprint() {}

    /** Loads {@code kind} into a fresh {@code backend} sized by the pool regime and measures it. */
    public static Footprint measure(String backend, StateSize.Kind kind, StateSize.Sizes sizes) throws Exception {
        MemoryRegime regime = MemoryRegime.pool;
        StateConstants.touch(); // its boxed keys and values are not the backend's
        long heapBefore = settledHeap();
        try (BenchmarkBackend b = BenchmarkBackend.create(backend, regime.managedMemoryBytes(sizes),
                regime.pageCacheBytes(sizes))) {
            KeyedStateBackend<Long> keyed = b.keyed;
            long entries = switch (kind) {
                case value -> {
                    ValueStateBenchmark.load(keyed);
                    yield StateConstants.SETUP_KEYS;
                }
                case list -> {
                    ListStateBenchmark.load(keyed);
                    yield StateConstants.SETUP_KEYS;
                }
                case map -> {
                    MapStateBenchmark.load(keyed);
                    yield (long) StateConstants.SETUP_KEYS * StateConstants.MAP_KEYS;
                }
            };
            long heap = settledHeap() - heapBefore;
            PageStoreStats stats = ZStateLocalStats.of(keyed);
            if (stats != null) {
                return new Footprint(backend, kind, entries, heap, stats.poolBytesHeld(), 0);
            }
            NativeDb db = NativeDb.of(keyed);
            if (db != null) {
                return new Footprint(backend, kind, entries, heap, db.aggregated("rocksdb.cur-size-all-mem-tables")
                        + db.aggregated("rocksdb.estimate-table-readers-mem") + db.property("rocksdb.block-cache-usage"),
                        db.aggregated("rocksdb.total-sst-files-size"));
            }
            return new Footprint(backend, kind, entries, heap, 0, 0);
        }
    }

    /**
     * The RocksDB instance of a RocksDB or ForSt keyed backend (their protected {@code db} field;
     * {@code org.rocksdb.RocksDB} and {@code org.forstdb.RocksDB} share the property calls), read
     * by reflection: neither backend exposes it.
     */
    private record NativeDb(Object db) {

        static NativeDb of(Object keyed) throws ReflectiveOperationException {
            for (Class<?> c = keyed.getClass(); c != null; c = c.getSuperclass()) {
                try {
                    java.lang.reflect.Field field = c.getDeclaredField("db");
                    field.setAccessible(true);
                    return new NativeDb(field.get(keyed));
                } catch (NoSuchFieldException e) {
                    // up the hierarchy
                }
            }
            return null;
        }

        /** A property summed over the column families. */
        long aggregated(String property) throws ReflectiveOperationException {
            return (long) db.getClass().getMethod("getAggregatedLongProperty", String.class).invoke(db, property);
        }

        /** A property of the default column family (the block cache is shared: once, not per family). */
        long property(String property) throws ReflectiveOperationException {
            return (long) db.getClass().getMethod("getLongProperty", String.class).invoke(db, property);
        }
    }

    private static long settledHeap() throws InterruptedException {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(100);
            used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }
}

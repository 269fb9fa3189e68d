package io.zstate.benchmarks.state;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import org.apache.flink.runtime.state.KeyedStateBackend;

/**
 * Bytes of memory per state entry after loading a benchmark's setup keys: the heap the loaded
 * backend retains (used heap after a full GC, minus before) plus the direct memory it allocated
 * (the JVM's "direct" buffer pool, where zstate's pool arenas live). For zstate that is the
 * off-heap pool, the page cache and the on-heap page table together; for HashMap the retained
 * object graph. Measured in the running JVM, so run it in a JVM of its own.
 */
public final class MemoryFootprint {

    /** One measurement: heap and direct bytes retained, and the entries they hold. */
    public record Footprint(String backend, StateSize.Kind kind, long entries, long heapBytes, long directBytes) {
        public double bytesPerEntry() {
            return (double) (heapBytes + directBytes) / entries;
        }
    }

    private MemoryFootprint() {}

    /** Loads {@code kind} into a fresh {@code backend} sized by the pool regime and measures it. */
    public static Footprint measure(String backend, StateSize.Kind kind, StateSize.Sizes sizes) throws Exception {
        MemoryRegime regime = MemoryRegime.pool;
        long heapBefore = settledHeap();
        long directBefore = direct();
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
            long directBytes = direct() - directBefore;
            return new Footprint(backend, kind, entries, heap, directBytes);
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

    private static long direct() {
        for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
            if (pool.getName().equals("direct")) {
                return pool.getMemoryUsed();
            }
        }
        return 0;
    }
}

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
 * {@code poolBytesHeld} of its page-store counters); for HashMap the retained object graph.
 * Measured in the running JVM, so keep other live objects steady around it.
 */
public final class MemoryFootprint {

    /** One measurement: heap and direct bytes retained, and the entries they hold. */
    public record Footprint(String backend, StateSize.Kind kind, long entries, long heapBytes, long offHeapBytes) {
        public double bytesPerEntry() {
            return (double) (heapBytes + offHeapBytes) / entries;
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
            long offHeap = stats == null ? 0 : stats.poolBytesHeld();
            return new Footprint(backend, kind, entries, heap, offHeap);
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

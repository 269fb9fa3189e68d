package io.zstate.benchmarks.state;

import io.zstate.flink.ZStateOptions;
import io.zstate.flink.metrics.ZStateLocalStats;
import io.zstate.pagestore.PageStoreStats;
import java.util.HashMap;
import java.util.Map;

/**
 * The sizes {@link MemoryRegime} scales memory by, measured by loading a benchmark's setup keys
 * into a zstate backend with the smallest page cache and a pool that holds everything:
 *
 * <pre>
 *   pageBytes        S: zstate's live pages times the page size (the uncompressed state)
 *   compressedBytes  C: the pool frames those pages occupy once compressed, plus the few pages
 *                    still in the page cache; what a pool must hold for the state to fit
 * </pre>
 *
 * Deterministic for a state kind (keys, values and layout are), so the suite measures it once
 * and passes it to every trial.
 */
public final class StateSize {

    /** S and C of a state, in bytes. */
    public record Sizes(long pageBytes, long compressedBytes) {}

    /** The state kinds of the suite. */
    public enum Kind { value, list, map }

    private static final Map<String, Sizes> MEASURED = new HashMap<>();

    private StateSize() {}

    /** S and C for {@code kind} with zstate's default page size (measured on first use in this JVM). */
    public static Sizes measure(Kind kind) throws Exception {
        return measure(kind, ZStateOptions.PAGE_SIZE.defaultValue().getBytes());
    }

    /** S and C for {@code kind} with pages of {@code pageSize} bytes (measured on first use in this JVM). */
    public static synchronized Sizes measure(Kind kind, long pageSize) throws Exception {
        Sizes known = MEASURED.get(kind + "/" + pageSize);
        if (known != null) {
            return known;
        }
        try (BenchmarkBackend backend = BenchmarkBackend.create("zstate-compressed", 2L << 30, 8 * pageSize, pageSize)) {
            switch (kind) {
                case value -> ValueStateBenchmark.load(backend.keyed);
                case list -> ListStateBenchmark.load(backend.keyed);
                case map -> MapStateBenchmark.load(backend.keyed);
            }
            PageStoreStats stats = ZStateLocalStats.of(backend.keyed);
            Sizes sizes = new Sizes((stats.livePages() - stats.sameFilledPages()) * pageSize,
                    stats.poolBytesHeld() + stats.hotBytes());
            MEASURED.put(kind + "/" + pageSize, sizes);
            return sizes;
        }
    }
}

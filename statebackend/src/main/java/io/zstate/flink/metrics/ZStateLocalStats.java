package io.zstate.flink.metrics;

import io.zstate.flink.ZKeyedStateBackend;
import io.zstate.pagestore.PageStoreStats;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.runtime.state.KeyedStateBackend;

/**
 * The page-store counters of the keyed backends this JVM ran, kept when each is disposed, for
 * embedded runs that print a summary at the end (the runner). In a cluster, read the same
 * counters as Flink metrics under {@code <operator>.zstate}.
 *
 * <p>Owns the kept counters (one JVM-wide map); must not touch a backend's page store (disposed
 * backends hand in what they counted, live ones are asked through {@link
 * ZKeyedStateBackend#pageStoreStats()}).
 */
public final class ZStateLocalStats {

    private static final Map<String, PageStoreStats> FINAL = new ConcurrentHashMap<>();
    private static volatile boolean enabled;

    private ZStateLocalStats() {}

    /**
     * Starts keeping the counters of disposed backends (off by default, so a long-running
     * TaskManager keeps nothing), and forgets what was kept before.
     */
    public static void enable() {
        FINAL.clear();
        enabled = true;
    }

    /** Whether counters are being kept. Internal: for {@code io.zstate.flink.ZKeyedStateBackend}. */
    public static boolean isEnabled() {
        return enabled;
    }

    /**
     * Keeps the counters of a disposed backend, if counters are being kept. Internal: for {@code
     * io.zstate.flink.ZKeyedStateBackend}.
     */
    public static void record(String backend, PageStoreStats stats) {
        if (enabled) {
            FINAL.put(backend, stats);
        }
    }

    /**
     * The counters of every backend disposed since the last {@link #enable()}, added up; null if
     * none.
     */
    public static PageStoreStats total() {
        PageStoreStats total = null;
        for (PageStoreStats stats : FINAL.values()) {
            total = total == null ? stats : total.plus(stats);
        }
        return total;
    }

    /**
     * The page-store counters of a live keyed backend as they are now, or null if it is not a
     * zstate backend. Walks the page table: for reports and benchmarks, not per record.
     */
    public static PageStoreStats of(KeyedStateBackend<?> backend) {
        return backend instanceof ZKeyedStateBackend<?> zstate ? zstate.pageStoreStats() : null;
    }

    /** Stops keeping counters and forgets them. */
    public static void disable() {
        enabled = false;
        FINAL.clear();
    }
}

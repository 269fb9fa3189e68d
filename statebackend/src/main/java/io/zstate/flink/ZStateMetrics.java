package io.zstate.flink;

import io.zstate.pagestore.PageStoreStats;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

/**
 * The page store's counters as Flink gauges, in the keyed backend's metric group under {@code
 * zstate}: for example {@code <operator>.zstate.cacheHitRate}. Each gauge reads a fresh snapshot
 * of the counters when the reporter asks.
 */
final class ZStateMetrics {

    private ZStateMetrics() {}

    static void register(MetricGroup group, ZKeyedStateBackend<?> backend) {
        longGauge(group, "hotPages", backend, PageStoreStats::hotPages);
        longGauge(group, "poolPages", backend, PageStoreStats::poolPages);
        longGauge(group, "spilledPages", backend, PageStoreStats::spilledPages);
        longGauge(group, "sameFilledPages", backend, PageStoreStats::sameFilledPages);
        longGauge(group, "hotBytes", backend, PageStoreStats::hotBytes);
        longGauge(group, "poolFrameBytes", backend, PageStoreStats::poolBytesHeld);
        longGauge(group, "poolPayloadBytes", backend, PageStoreStats::poolPayloadBytes);
        longGauge(group, "spillDiskBytes", backend, PageStoreStats::spillDiskBytes);
        longGauge(group, "swapIns", backend, PageStoreStats::swapIns);
        longGauge(group, "writebacks", backend, PageStoreStats::writebacks);
        longGauge(group, "bouncedPages", backend, PageStoreStats::bounced);
        longGauge(group, "cleanDrops", backend, PageStoreStats::cleanDrops);
        longGauge(group, "framesReclaimed", backend, PageStoreStats::framesReclaimed);
        doubleGauge(group, "compressionRatio", backend, PageStoreStats::compressionRatio);
        doubleGauge(group, "cacheHitRate", backend, PageStoreStats::cacheHitRate);
        doubleGauge(group, "poolHitRate", backend, PageStoreStats::poolHitRate);
        doubleGauge(group, "framesReleasedPerWriteback", backend, PageStoreStats::framesReleasedPerWriteback);
    }

    private static void longGauge(MetricGroup group, String name, ZKeyedStateBackend<?> backend,
            ToLongFunction<PageStoreStats> value) {
        group.gauge(name, (Gauge<Long>) () -> value.applyAsLong(backend.stats()));
    }

    private static void doubleGauge(MetricGroup group, String name, ZKeyedStateBackend<?> backend,
            ToDoubleFunction<PageStoreStats> value) {
        group.gauge(name, (Gauge<Double>) () -> value.applyAsDouble(backend.stats()));
    }
}

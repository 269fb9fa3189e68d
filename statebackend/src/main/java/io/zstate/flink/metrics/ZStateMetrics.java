package io.zstate.flink.metrics;

import io.zstate.pagestore.PageStoreStats;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

/**
 * The page store's counters as Flink gauges, in the keyed backend's metric group under {@code
 * zstate}: for example {@code <operator>.zstate.cacheHitRate}. Each gauge asks the backend for
 * the counters when the reporter reads it; the backend computes them by a walk of the page table
 * and reuses one result for up to a second ({@code ZKeyedStateBackend.stats()}), so the gauges of
 * one report agree and a value may be up to a second old.
 *
 * <p>Owns the gauges' names and what each reads; must not touch the page store itself (it sees
 * only the counters the backend hands it). Public, internal: for {@code
 * io.zstate.flink.ZKeyedStateBackend}.
 */
public final class ZStateMetrics {

    private ZStateMetrics() {}

    /**
     * Registers every gauge in {@code group}, each reading {@code stats} when asked. Internal: for
     * {@code io.zstate.flink.ZKeyedStateBackend}.
     */
    public static void register(MetricGroup group, Supplier<PageStoreStats> stats) {
        longGauge(group, "hotPages", stats, PageStoreStats::hotPages);
        longGauge(group, "poolPages", stats, PageStoreStats::poolPages);
        longGauge(group, "spilledPages", stats, PageStoreStats::spilledPages);
        longGauge(group, "sameFilledPages", stats, PageStoreStats::sameFilledPages);
        longGauge(group, "hotBytes", stats, PageStoreStats::hotBytes);
        longGauge(group, "poolFrameBytes", stats, PageStoreStats::poolBytesHeld);
        longGauge(group, "poolPayloadBytes", stats, PageStoreStats::poolPayloadBytes);
        longGauge(group, "spillMemoryBytes", stats, PageStoreStats::spillMemoryBytes);
        longGauge(group, "spillDiskBytes", stats, PageStoreStats::spillDiskBytes);
        longGauge(group, "swapIns", stats, PageStoreStats::swapIns);
        longGauge(group, "writebacks", stats, PageStoreStats::writebacks);
        longGauge(group, "bouncedPages", stats, PageStoreStats::bounced);
        longGauge(group, "cleanDrops", stats, PageStoreStats::cleanDrops);
        longGauge(group, "directStores", stats, PageStoreStats::stores);
        longGauge(group, "backgroundCleans", stats, PageStoreStats::backgroundCleans);
        longGauge(group, "cleaningRaces", stats, PageStoreStats::cleaningRaces);
        longGauge(group, "entryCacheHits", stats, PageStoreStats::entryHits);
        longGauge(group, "entryCacheMisses", stats, PageStoreStats::entryMisses);
        longGauge(group, "entryCacheWriteBacks", stats, PageStoreStats::entryWriteBacks);
        longGauge(group, "cachedEntries", stats, PageStoreStats::cachedEntries);
        longGauge(group, "entryCacheAdmissions", stats, PageStoreStats::entryAdmissions);
        longGauge(group, "entryCacheSleeps", stats, PageStoreStats::entrySleeps);
        longGauge(group, "entryCacheWakes", stats, PageStoreStats::entryWakes);
        longGauge(group, "framesReclaimed", stats, PageStoreStats::framesReclaimed);
        longGauge(group, "framesReclaimedForSlot", stats, PageStoreStats::framesReclaimedForSlot);
        longGauge(group, "backgroundWritebacks", stats, PageStoreStats::backgroundWritebacks);
        longGauge(group, "framesWrittenBackInBackground", stats, PageStoreStats::framesWrittenBackInBackground);
        longGauge(group, "writebackWaits", stats, PageStoreStats::writebackWaits);
        longGauge(group, "writebackWaitNanos", stats, PageStoreStats::writebackWaitNanos);
        longGauge(group, "underLowMarkNanos", stats, PageStoreStats::underLowMarkNanos);
        longGauge(group, "slotShortfalls", stats, PageStoreStats::slotShortfalls);
        longGauge(group, "rawPoolPages", stats, PageStoreStats::rawPoolPages);
        longGauge(group, "rawStores", stats, PageStoreStats::rawStores);
        longGauge(group, "rawDrained", stats, PageStoreStats::rawDrained);
        longGauge(group, "bufferedWrites", stats, PageStoreStats::bufferedWrites);
        longGauge(group, "bufferApplications", stats, PageStoreStats::bufferApplications);
        longGauge(group, "waitingWrites", stats, PageStoreStats::waitingWrites);
        longGauge(group, "writesToRocksDb", stats, PageStoreStats::writesToRocksDb);
        longGauge(group, "writeMergesToRocksDb", stats, PageStoreStats::writeMergesToRocksDb);
        longGauge(group, "warmPageWrites", stats, PageStoreStats::warmPageWrites);
        longGauge(group, "dictionaryStores", stats, PageStoreStats::dictionaryStores);
        longGauge(group, "dictionaryBytes", stats, PageStoreStats::dictionaryBytes);
        longGauge(group, "recompressions", stats, PageStoreStats::recompressions);
        longGauge(group, "compressFailures", stats, PageStoreStats::compressFailures);
        longGauge(group, "arenaRefusals", stats, PageStoreStats::arenaRefusals);
        longGauge(group, "mapIndexes", stats, PageStoreStats::mapIndexes);
        longGauge(group, "openSnapshots", stats, PageStoreStats::openSnapshots);
        longGauge(group, "pinnedPoolObjects", stats, PageStoreStats::pinnedPoolObjects);
        longGauge(group, "pinnedPoolBytes", stats, PageStoreStats::pinnedPoolBytes);
        longGauge(group, "pinnedSpilled", stats, PageStoreStats::pinnedSpilled);
        longGauge(group, "pinSaves", stats, PageStoreStats::pinSaves);
        longGauge(group, "pinCopies", stats, PageStoreStats::pinCopies);
        longGauge(group, "pinWritebacks", stats, PageStoreStats::pinWritebacks);
        doubleGauge(group, "compressionRatio", stats, PageStoreStats::compressionRatio);
        doubleGauge(group, "cacheHitRate", stats, PageStoreStats::cacheHitRate);
        doubleGauge(group, "poolHitRate", stats, PageStoreStats::poolHitRate);
        doubleGauge(group, "slotPoolShare", stats, PageStoreStats::slotPoolShare);
        doubleGauge(group, "framesReleasedPerWriteback", stats, PageStoreStats::framesReleasedPerWriteback);
    }

    private static void longGauge(MetricGroup group, String name, Supplier<PageStoreStats> stats,
            ToLongFunction<PageStoreStats> value) {
        group.gauge(name, (Gauge<Long>) () -> value.applyAsLong(stats.get()));
    }

    private static void doubleGauge(MetricGroup group, String name, Supplier<PageStoreStats> stats,
            ToDoubleFunction<PageStoreStats> value) {
        group.gauge(name, (Gauge<Double>) () -> value.applyAsDouble(stats.get()));
    }
}

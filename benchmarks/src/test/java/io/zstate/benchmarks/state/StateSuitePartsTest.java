package io.zstate.benchmarks.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zstate.allocator.PoolTrace;
import io.zstate.benchmarks.state.StateSuite.SuiteResult;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.flink.api.common.state.ValueState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Regime sizing, the backends the suite creates (and their pool traces), and the report's verdicts. */
class StateSuitePartsTest {

    private static final StateSize.Sizes SIZES = new StateSize.Sizes(400L << 20, 120L << 20);

    @Test
    void regimesSizeMemoryFromTheState() {
        assertThat(MemoryRegime.pool.pageCacheBytes(SIZES)).isEqualTo(SIZES.pageBytes() / 10);
        assertThat(MemoryRegime.hot.managedMemoryBytes(SIZES)).isEqualTo(180L << 20);
        assertThat(MemoryRegime.spill.managedMemoryBytes(SIZES)).isEqualTo(30L << 20);
        assertThat(MemoryRegime.hot.distribution).isEqualTo(KeyDistribution.zipf);
        assertThat(MemoryRegime.spill.distribution).isEqualTo(KeyDistribution.uniform);
    }

    @Test
    void everyBackendHoldsTheLoadedStateAndReturnsItsMemory() throws Exception {
        for (String backend : new String[] {"zstate", "zstate-zsmalloc4", "zstate-xcfmalloc", "zstate-zlog", "rocksdb",
                "rocksdb-partitioned", "forst", "hashmap"}) {
            try (BenchmarkBackend b = BenchmarkBackend.create(backend, 16L << 20, 1L << 20)) {
                ValueState<Long> state = ValueStateBenchmark.load(b.keyed);
                b.keyed.setCurrentKey(123_456L);
                assertThat(state.value()).as(backend).isEqualTo(StateConstants.RANDOM_VALUE_OBJECTS[123_456]);
                b.keyed.setCurrentKey(StateConstants.NEW_KEY_OBJECTS[0]);
                assertThat(state.value()).as(backend).isNull();
            }
        }
    }

    @Test
    void outOfRangeChainSizesAndUnknownVariantsAreRefused() {
        assertThatThrownBy(() -> BenchmarkBackend.create("zstate-zsmalloc3", 16L << 20, 1L << 20))
                .hasMessageContaining("'state.backend.zstate.zsmalloc-chain-size': 3");
        assertThatThrownBy(() -> BenchmarkBackend.create("zstate-slab", 16L << 20, 1L << 20))
                .hasMessageContaining("zstate-xcfmalloc, zstate-zlog, zstate-zstd, zstate-zsmallocN");
        assertThatThrownBy(() -> BenchmarkBackend.create("zstate-zsmalloc", 16L << 20, 1L << 20))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("takes a number, as zstate-zsmalloc4");
        assertThatThrownBy(() -> BenchmarkBackend.create("zstate-entriesX", 16L << 20, 1L << 20))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("zstate-entries25 (a percentage)");
    }

    @Test
    void aZstateBackendRecordsItsPoolsTraceWhenTheSuiteAsks(@TempDir Path traces) throws Exception {
        System.setProperty(BenchmarkBackend.POOL_TRACE_PROPERTY, traces.toString());
        try (BenchmarkBackend b = BenchmarkBackend.create("zstate", 16L << 20, 1L << 20)) {
            ValueStateBenchmark.load(b.keyed);
        } finally {
            System.clearProperty(BenchmarkBackend.POOL_TRACE_PROPERTY);
        }
        List<Path> files;
        try (Stream<Path> list = Files.list(traces)) {
            files = list.filter(f -> f.toString().endsWith(".trace.gz")).toList();
        }
        assertThat(files).hasSize(1);
        long stores = 0;
        try (InputStream in = Files.newInputStream(files.get(0)); PoolTrace.Reader r = new PoolTrace.Reader(in)) {
            while (r.next()) { // to the end mark: the backend closed its trace
                stores += r.code() == PoolTrace.MALLOC ? 1 : 0;
            }
        }
        assertThat(stores).as("pages stored into the pool while 500,000 keys load into a 1 MiB page cache").isPositive();
    }

    @Test
    void footprintsCountEachBackendsOwnMemory() throws Exception {
        StateSize.Sizes sizes = new StateSize.Sizes(64L << 20, 24L << 20);
        MemoryFootprint.Footprint zstate = MemoryFootprint.measure("zstate", StateSize.Kind.value, sizes);
        assertThat(zstate.offHeapBytes()).as("zstate's pool frames").isPositive();
        assertThat(zstate.diskBytes()).isZero();
        for (String backend : new String[] {"rocksdb", "forst"}) {
            MemoryFootprint.Footprint f = MemoryFootprint.measure(backend, StateSize.Kind.value, sizes);
            // 500k entries of 8-byte keys and values: whatever is not in a memtable is in SST files
            assertThat(f.offHeapBytes() + f.diskBytes()).as(backend).isGreaterThan(4L << 20);
            assertThat(f.offHeapBytes()).as(backend + "'s memtables, readers and cache").isPositive();
        }
    }

    @Test
    void reportGivesRatiosAndSaysByHowMuchATargetIsMissed() throws Exception {
        List<SuiteResult> results = List.of(
                new SuiteResult(StateSize.Kind.value, "valueGet", MemoryRegime.hot, "zstate", 1000, 10),
                new SuiteResult(StateSize.Kind.value, "valueGet", MemoryRegime.hot, "rocksdb", 400, 10),
                new SuiteResult(StateSize.Kind.value, "valueGet", MemoryRegime.hot, "hashmap", 1200, 10),
                new SuiteResult(StateSize.Kind.value, "valueGet", MemoryRegime.spill, "zstate", 300, 10),
                new SuiteResult(StateSize.Kind.value, "valueGet", MemoryRegime.spill, "rocksdb", 200, 10));
        List<MemoryFootprint.Footprint> footprints = List.of(
                new MemoryFootprint.Footprint("zstate", StateSize.Kind.value, 1000, 20_000, 10_000, 0),
                new MemoryFootprint.Footprint("hashmap", StateSize.Kind.value, 1000, 100_000, 0, 0));
        String md = SuiteReport.markdown(results, footprints, Map.of(StateSize.Kind.value, SIZES), 1, 3, 10,
                LocalDate.of(2026, 11, 23));
        assertThat(md).contains("| valueGet | hot | 1000 ± 10 | 400 ± 10 | 1200 ± 10 | 2.50 | 0.83 |");
        assertThat(md).contains("| hot: >= 5x RocksDB | valueGet | 2.50x | missed by 50% |");
        assertThat(md).contains("| hot: within 1.5x of HashMap | valueGet | 0.83x | met |");
        assertThat(md).contains("| spill: >= RocksDB | valueGet | 1.50x | met |");
        assertThat(md).contains("zstate 30.0 B/entry is 0.30 of HashMap's 100.0 (target <= 0.10): missed, 3.0x too much");
    }
}

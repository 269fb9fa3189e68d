package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.StateBackendLoader;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading by name, option errors, metrics, and the leak check: nothing remains after dispose. */
class ZStateBackendLifecycleTest {

    @TempDir
    Path spill;

    @Test
    void loadsThroughStateBackendTypeWithItsOptions() throws Exception {
        Configuration config = new Configuration();
        config.set(StateBackendOptions.STATE_BACKEND, ZStateBackendFactory.class.getName());
        config.set(ZStateOptions.ALLOCATOR, "zbud");
        StateBackend backend = StateBackendLoader.loadStateBackendFromConfig(config, getClass().getClassLoader(), null);
        assertThat(backend).isInstanceOf(ZStateBackend.class);
        assertThat(backend.toString()).contains("allocator=zbud");
    }

    @Test
    void invalidOptionsNameThemselvesAndTheirAllowedValues() {
        assertThatThrownBy(() -> configured(ZStateOptions.ALLOCATOR.key(), "slab"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.allocator': slab")
                .hasMessageContaining("zsmalloc");
        assertThatThrownBy(() -> configured(ZStateOptions.PAGE_SIZE.key(), "3kb"))
                .hasMessageContaining("'state.backend.zstate.page-size'")
                .hasMessageContaining("power of two from 1024 to 32768");
        assertThatThrownBy(() -> configured(ZStateOptions.FRAME_SIZE.key(), "1kb"))
                .hasMessageContaining("'state.backend.zstate.frame-size'");
        assertThatThrownBy(() -> configured(ZStateOptions.PAGE_CACHE_SIZE.key(), "2kb"))
                .hasMessageContaining("'state.backend.zstate.page-cache-size'")
                .hasMessageContaining("at least 8 pages");
        assertThatThrownBy(() -> configured(ZStateOptions.POOL_SIZE.key(), "8kb"))
                .hasMessageContaining("'state.backend.zstate.pool-size'");
        assertThatThrownBy(() -> configured(ZStateOptions.BOUNCER_RATIO.key(), "0.5"))
                .hasMessageContaining("'state.backend.zstate.bouncer-ratio': 0.5");
        for (String chain : List.of("3", "17")) {
            assertThatThrownBy(() -> configured(ZStateOptions.ZSMALLOC_CHAIN_SIZE.key(), chain))
                    .isInstanceOf(IllegalConfigurationException.class)
                    .hasMessageContaining("'state.backend.zstate.zsmalloc-chain-size': " + chain)
                    .hasMessageContaining("Allowed: 4 to 16 frames per span");
        }
        assertThatThrownBy(() -> configured(ZStateOptions.ALLOCATOR.key(), "xcfmalloc",
                        ZStateOptions.ZSMALLOC_CHAIN_SIZE.key(), "32"))
                .as("checked whatever the allocator")
                .hasMessageContaining("'state.backend.zstate.zsmalloc-chain-size': 32");
        assertThatThrownBy(() -> configured(ZStateOptions.PAGE_COMPRESSION.key(), "snappy"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.page-compression': snappy")
                .hasMessageContaining("[lz4, zstd]");
        assertThatThrownBy(() -> configured(ZStateOptions.BACKGROUND_REAPER.key(), "sometimes"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.background-reaper': sometimes")
                .hasMessageContaining("auto, true, false");
        assertThatThrownBy(() -> configured(ZStateOptions.REAPER_CPU_LIMIT.key(), "0.01"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.reaper-cpu-limit': 0.01")
                .hasMessageContaining("from 0.05 to 1");
        assertThatThrownBy(() -> configured(ZStateOptions.RAW_POOL_FILL.key(), "0.95"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.raw-pool-fill': 0.95")
                .hasMessageContaining("from 0 (every page compressed) to 0.9");
        assertThatThrownBy(() -> configured(ZStateOptions.WRITE_BUFFER_FRACTION.key(), "-0.1"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.write-buffer-fraction': -0.1")
                .hasMessageContaining("from 0 (no write buffer) to 0.9");
        assertThatThrownBy(() -> configured(ZStateOptions.WRITE_BUFFER_FRACTION.key(), "0.5",
                        ZStateOptions.ENTRY_CACHE_FRACTION.key(), "0.5"))
                .as("with the entry cache's, at most 0.9")
                .hasMessageContaining("'state.backend.zstate.write-buffer-fraction': 0.5")
                .hasMessageContaining("entry-cache-fraction' (0.5)");
        assertThatThrownBy(() -> configured(ZStateOptions.WRITE_BUFFER_WAITS_FOR.key(), "cold-pages"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.write-buffer-waits-for': cold-pages")
                .hasMessageContaining("one of [spilled-pages, uncached-pages]");
        assertThatThrownBy(() -> configured(ZStateOptions.PAGE_CACHE_SIZE.key(), "16kb",
                        ZStateOptions.WRITE_BUFFER_FRACTION.key(), "0.6"))
                .hasMessageContaining("'state.backend.zstate.write-buffer-fraction': 0.6")
                .hasMessageContaining("at least 8 pages");
    }

    @Test
    void theReaperRunsAsConfiguredOrWhereCoresAreToSpare() {
        assertThat(ZStateBackend.reaperRuns("true", 1, 4)).isTrue();
        assertThat(ZStateBackend.reaperRuns("false", 64, 1)).isFalse();
        assertThat(ZStateBackend.reaperRuns("auto", 3, 1)).as("two cores beyond the one slot's task").isTrue();
        assertThat(ZStateBackend.reaperRuns("auto", 2, 1)).as("one core beyond: RocksDB's background work has it")
                .isFalse();
        assertThat(ZStateBackend.reaperRuns("auto", 2, 2)).as("a busy task per core").isFalse();
        assertThat(ZStateBackend.reaperRuns("auto", 8, 4)).isTrue();
        assertThat(ZStateBackend.reaperRuns("auto", 4, 8)).isFalse();
        assertThat(ZStateBackend.reaperRuns("auto", 1, 0)).as("no slots configured: one").isFalse();
        assertThat(configured().toString()).contains("backgroundReaper=auto");
        assertThat(configured(ZStateOptions.BACKGROUND_REAPER.key(), " TRUE ").toString())
                .contains("backgroundReaper=true");
    }

    @Test
    void thePageCompressionReachesTheStore() throws Exception {
        assertThat(compressesWithZstd(configured())).as("the default: LZ4").isFalse();
        assertThat(compressesWithZstd(configured(ZStateOptions.PAGE_COMPRESSION.key(), "ZSTD"))).isTrue();
        assertThat(configured(ZStateOptions.PAGE_COMPRESSION.key(), "zstd").toString())
                .contains("pageCompression=zstd");
        assertThat(files(spill)).as("nothing left behind").isEmpty();
    }

    private boolean compressesWithZstd(ZStateBackend backend) throws Exception {
        return withKeyedBackend(backend, ZKeyedStateBackend::compressesWithZstd);
    }

    @Test
    void theZsmallocChainSizeReachesThePool() throws Exception {
        assertThat(poolChainSizeOf(configured())).as("the default").isEqualTo(8);
        assertThat(poolChainSizeOf(configured(ZStateOptions.ZSMALLOC_CHAIN_SIZE.key(), "4"))).isEqualTo(4);
        assertThat(poolChainSizeOf(configured(ZStateOptions.ZSMALLOC_CHAIN_SIZE.key(), "16"))).isEqualTo(16);
        assertThat(configured(ZStateOptions.ZSMALLOC_CHAIN_SIZE.key(), "4").toString())
                .contains("allocator=zsmalloc, zsmallocChainSize=4");
        assertThat(poolChainSizeOf(configured(ZStateOptions.ALLOCATOR.key(), "xcfmalloc",
                        ZStateOptions.ZSMALLOC_CHAIN_SIZE.key(), "4")))
                .as("other allocators ignore it: no spans").isZero();
        assertThat(files(spill)).as("nothing left behind").isEmpty();
    }

    private int poolChainSizeOf(ZStateBackend backend) throws Exception {
        return withKeyedBackend(backend, ZKeyedStateBackend::poolChainSize);
    }

    /** What {@code read} answers of a keyed backend {@code backend} creates, disposed afterwards. */
    private <T> T withKeyedBackend(ZStateBackend backend, java.util.function.Function<ZKeyedStateBackend<Integer>, T> read)
            throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = backend.createKeyedStateBackend(
                    new KeyedStateBackendParametersImpl<>(env, new JobID(), "test", IntSerializer.INSTANCE, 10,
                            new KeyGroupRange(0, 9), env.getTaskKvStateRegistry(), TtlTimeProvider.DEFAULT,
                            new UnregisteredMetricsGroup(), (n, v) -> {}, List.of(), new CloseableRegistry(), 1.0));
            try {
                return read.apply((ZKeyedStateBackend<Integer>) keyed);
            } finally {
                keyed.dispose();
            }
        }
    }

    @Test
    void optionsThatContradictEachOtherNameEveryKeyInvolved() {
        // 32 KiB pages admitted at ratio 1.2 are objects of up to 27,311 bytes; 4 KiB zsmalloc frames hold 4,088
        assertThatThrownBy(() -> configured(ZStateOptions.PAGE_SIZE.key(), "32kb"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.page-size' (32768 bytes)")
                .hasMessageContaining("'state.backend.zstate.frame-size' (4096 bytes)")
                .hasMessageContaining("'state.backend.zstate.allocator' (zsmalloc)")
                .hasMessageContaining("'state.backend.zstate.bouncer-ratio' (1.2)")
                .hasMessageContaining("up to 27311 bytes")
                .hasMessageContaining("largest object of zsmalloc at that frame size is 4088 bytes")
                .hasMessageContaining("frame-size of at least 32768 bytes");
        assertThat(configured(ZStateOptions.PAGE_SIZE.key(), "32kb", ZStateOptions.FRAME_SIZE.key(), "32kb"))
                .as("the frame size the message asks for is accepted").isNotNull();
        // 4 KiB pages fit 4 KiB frames at ratio 1.2 (3,418 bytes) but not at 1.0 (4,101 > 3,968 for zbud)
        assertThat(configured(ZStateOptions.PAGE_SIZE.key(), "4kb", ZStateOptions.ALLOCATOR.key(), "zbud")).isNotNull();
        assertThatThrownBy(() -> configured(ZStateOptions.PAGE_SIZE.key(), "4kb", ZStateOptions.ALLOCATOR.key(), "zbud",
                        ZStateOptions.BOUNCER_RATIO.key(), "1.0"))
                .hasMessageContaining("'state.backend.zstate.bouncer-ratio' (1.0)")
                .hasMessageContaining("largest object of zbud at that frame size is 3968 bytes")
                .hasMessageContaining("frame-size of at least 8192 bytes");
        assertThatThrownBy(() -> configured(ZStateOptions.POOL_SIZE.key(), "64mb",
                        TaskManagerOptions.MANAGED_MEMORY_SIZE.key(), "32mb"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.pool-size': 67108864 bytes")
                .hasMessageContaining("33554432 bytes of managed memory (per slot: 'taskmanager.memory.managed.size'"
                        + " over 1 slot(s), 'taskmanager.numberOfTaskSlots')");
        // 4 slots share 128 MiB: 32 MiB each, as the TaskManager will check it per slot
        assertThatThrownBy(() -> configured(ZStateOptions.POOL_SIZE.key(), "64mb",
                        TaskManagerOptions.MANAGED_MEMORY_SIZE.key(), "128mb", TaskManagerOptions.NUM_TASK_SLOTS.key(), "4"))
                .hasMessageContaining("33554432 bytes of managed memory (per slot");
        assertThatThrownBy(() -> configured(ZStateOptions.PAGE_CACHE_SIZE.key(), "300mb",
                        TaskManagerOptions.TASK_HEAP_MEMORY.key(), "1gb"))
                .isInstanceOf(IllegalConfigurationException.class)
                .hasMessageContaining("'state.backend.zstate.page-cache-size': 314572800 bytes")
                .hasMessageContaining("at most a quarter of the task heap (1073741824 bytes,"
                        + " 'taskmanager.memory.task.heap.size')");
        assertThat(configured(ZStateOptions.PAGE_CACHE_SIZE.key(), "256mb",
                TaskManagerOptions.TASK_HEAP_MEMORY.key(), "1gb")).as("exactly a quarter").isNotNull();
    }

    @Test
    void theTaskManagerChecksPoolAndPageCacheAgainstItsOwnMemory() throws Exception {
        // MockEnvironment's slot has 32 MiB of managed memory
        assertThatThrownBy(() -> createIn(configured(ZStateOptions.POOL_SIZE.key(), "64mb")))
                .hasMessageContaining("'state.backend.zstate.pool-size': 67108864 bytes")
                .hasMessageContaining("33554432 bytes of managed memory (the managed memory of this slot)");
        long heap = Runtime.getRuntime().maxMemory();
        assertThatThrownBy(() -> createIn(configured(ZStateOptions.PAGE_CACHE_SIZE.key(), (heap / 4 + 4096) + "b")))
                .hasMessageContaining("'state.backend.zstate.page-cache-size'")
                .hasMessageContaining("at most a quarter of the task heap (" + heap
                        + " bytes, the TaskManager JVM's maximum heap)");
        assertThat(files(spill)).as("nothing left behind by a refused backend").isEmpty();
    }

    private void createIn(ZStateBackend backend) throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = backend.createKeyedStateBackend(
                    new KeyedStateBackendParametersImpl<>(env, new JobID(), "refused", IntSerializer.INSTANCE, 10,
                            new KeyGroupRange(0, 9), env.getTaskKvStateRegistry(), TtlTimeProvider.DEFAULT,
                            new UnregisteredMetricsGroup(), (n, v) -> {}, List.of(), new CloseableRegistry(), 1.0));
            keyed.dispose();
            throw new AssertionError("the backend was created");
        }
    }

    private ZStateBackend configured(String... keysAndValues) {
        Configuration config = new Configuration();
        config.set(ZStateOptions.SPILL_DIRECTORY, spill.toString());
        for (int i = 0; i < keysAndValues.length; i += 2) {
            config.setString(keysAndValues[i], keysAndValues[i + 1]);
        }
        return new ZStateBackend().configure(config, ZStateBackendLifecycleTest.class.getClassLoader());
    }

    @Test
    void disposeReturnsManagedMemoryAndDeletesSpillFiles() throws Exception {
        Map<String, Metric> metrics = new HashMap<>();
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = leakChecked(env, recording(metrics));
            ValueState<String> state = fill(keyed);
            assertThat(env.getMemoryManager().verifyEmpty()).as("the pool holds managed memory").isFalse();
            assertThat(files(spill)).as("spill files while running").isNotEmpty();
            assertThat(((Gauge<?>) metrics.get("zstate.hotPages")).getValue()).isEqualTo(8L);
            // the state fits the pool raw (raw-pool-fill): pages stay uncompressed there, and go with it on dispose
            assertThat((Long) ((Gauge<?>) metrics.get("zstate.rawPoolPages")).getValue()).isPositive();
            assertThat((Double) ((Gauge<?>) metrics.get("zstate.compressionRatio")).getValue()).isZero();
            assertThat(metrics).containsKeys("zstate.entryCacheSleeps", "zstate.entryCacheWakes");
            keyed.close();
            keyed.dispose();
            assertThat(env.getMemoryManager().verifyEmpty()).as("managed memory returned").isTrue();
            assertThat(files(spill)).as("spill files after dispose").isEmpty();
        }
    }

    /**
     * Dispose while a checkpoint's asynchronous part has not run: Flink cancels it, its pins are
     * released, and the managed memory and spill files go as with no checkpoint.
     */
    @Test
    void aCheckpointCancelledByDisposeReturnsEverything() throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = leakChecked(env, new UnregisteredMetricsGroup());
            ValueState<String> state = fill(keyed);
            java.util.concurrent.RunnableFuture<?> checkpoint = keyed.snapshot(1L, 1L,
                    new org.apache.flink.runtime.state.memory.MemCheckpointStreamFactory(64 << 20),
                    org.apache.flink.runtime.checkpoint.CheckpointOptions.forCheckpointWithDefaultLocation());
            for (int key = 0; key < 20_000; key++) {
                keyed.setCurrentKey(key);
                state.update("changed after the barrier " + key); // pins copies for the checkpoint
            }
            io.zstate.pagestore.PageStoreStats stats = ((ZKeyedStateBackend<Integer>) keyed).pageStoreStats();
            assertThat(stats.openSnapshots()).isEqualTo(1);
            assertThat(stats.pinSaves()).isPositive();
            keyed.close();
            keyed.dispose();
            assertThat(checkpoint.isCancelled()).as("dispose cancels the checkpoint, as for Flink's backends").isTrue();
            assertThat(((ZKeyedStateBackend<Integer>) keyed).pageStoreStats().openSnapshots()).isZero();
            assertThat(env.getMemoryManager().verifyEmpty()).as("managed memory returned").isTrue();
            assertThat(files(spill)).as("spill files after dispose").isEmpty();
        }
    }

    /**
     * A keyed backend of 10 key-groups on managed memory, spilling under {@link #spill}, with an
     * 8 KiB page cache: what the leak checks dispose.
     */
    private CheckpointableKeyedStateBackend<Integer> leakChecked(MockEnvironment env, MetricGroup metrics)
            throws Exception {
        Configuration config = new Configuration();
        config.set(ZStateOptions.SPILL_DIRECTORY, spill.toString());
        config.set(ZStateOptions.PAGE_CACHE_SIZE, MemorySize.parse("8kb"));
        config.set(ZStateOptions.BACKGROUND_REAPER, "true"); // (off by default): its thread is part of the leak check
        ZStateBackend backend = new ZStateBackend().configure(config, getClass().getClassLoader());
        return backend.createKeyedStateBackend(
                new KeyedStateBackendParametersImpl<>(env, new JobID(), "leak check", IntSerializer.INSTANCE, 10,
                        new KeyGroupRange(0, 9), env.getTaskKvStateRegistry(), TtlTimeProvider.DEFAULT,
                        metrics, (n, v) -> {}, List.of(), new CloseableRegistry(), 1.0));
    }

    /**
     * Two keyed backends of one slot (one MemoryManager) share its zstate memory: one pool budget
     * and one RocksDB block cache with the memtables charged to it, all inside the managed
     * memory; both spill, the cache stays within its share, and everything is returned once both
     * are disposed.
     */
    @Test
    void theBackendsOfASlotShareOnePoolAndOneSpillCacheInsideManagedMemory() throws Exception {
        long managed = 8L << 20;
        try (MockEnvironment env = new MockEnvironmentBuilder().setManagedMemorySize(managed).build()) {
            CheckpointableKeyedStateBackend<Integer> a = leakChecked(env, new UnregisteredMetricsGroup());
            CheckpointableKeyedStateBackend<Integer> b = leakChecked(env, new UnregisteredMetricsGroup());
            io.zstate.pagestore.SlotMemory slot = ((ZKeyedStateBackend<Integer>) a).slotMemory();
            long peakSpillUsage = 0;
            for (int key = 0; key < 60_000; key++) {
                for (CheckpointableKeyedStateBackend<Integer> keyed : List.of(a, b)) { // both stores write at once
                    ValueState<String> state = keyed.getPartitionedState(VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE, new ValueStateDescriptor<>("s", String.class));
                    keyed.setCurrentKey(key);
                    byte[] noise = new byte[60];
                    new java.util.Random(key).nextBytes(noise);
                    state.update(java.util.HexFormat.of().formatHex(noise)); // compresses only 2:1
                }
                if (key % 64 == 0) {
                    peakSpillUsage = Math.max(peakSpillUsage, slot.spillUsage());
                }
            }
            io.zstate.pagestore.PageStoreStats sa = ((ZKeyedStateBackend<Integer>) a).pageStoreStats();
            io.zstate.pagestore.PageStoreStats sb = ((ZKeyedStateBackend<Integer>) b).pageStoreStats();
            assertThat(sa.spilledPages()).as("the first backend spilled").isPositive();
            assertThat(sa.compressionRatio()).as("a pool over its fill line compresses").isGreaterThan(1.0);
            assertThat(sb.spilledPages()).as("the second backend spilled").isPositive();
            long spillShare = (long) (managed * ZStateOptions.SPILL_MEMORY_FRACTION.defaultValue());
            assertThat(sa.poolBytesHeld() + sb.poolBytesHeld()).as("both pools together")
                    .isLessThanOrEqualTo(managed - spillShare);
            assertThat(((ZKeyedStateBackend<Integer>) b).slotMemory()).as("one slot memory for both").isSameAs(slot);
            long cache = Math.max(io.zstate.pagestore.SlotMemory.MIN_SPILL_CACHE_BYTES, spillShare);
            assertThat(slot.spillBytes()).isEqualTo(cache);
            // one cache for the slot, memtables charged to it (in 256 KiB steps). Their use, at
            // its peak while both stores wrote, is bounded by what RocksDB may hold: two memtables
            // a store, each at most one arena block (an eighth) over its size. The manager's
            // flushes keep it lower (1.0 to 1.75 MiB measured with this 1 MiB share), not strictly.
            long step = 256L << 10;
            long memtableCharge = (slot.memtableBytes() * 9 / 8 + step - 1) / step * step + 1024;
            long structuralBound = 2 * 2 * memtableCharge;
            assertThat(peakSpillUsage).as("the memtables' peak").isPositive().isLessThanOrEqualTo(structuralBound);
            assertThat(slot.spillUsage()).isPositive().isLessThanOrEqualTo(structuralBound);
            assertThat(sa.spillMemoryBytes()).isPositive();
            assertThat(env.getMemoryManager().verifyEmpty()).isFalse();
            // one reaper thread for the slot compressed pages of both (it runs beside the task:
            // wait for it, then evictions install what it compressed)
            io.zstate.pagestore.Reaper reaper = slot.reaper();
            assertThat(reaper.isRunning()).isTrue();
            long deadline = System.nanoTime() + 20_000_000_000L;
            long cleansA = 0;
            long cleansB = 0;
            for (int round = 0; (cleansA == 0 || cleansB == 0) && System.nanoTime() < deadline; round++) {
                for (CheckpointableKeyedStateBackend<Integer> keyed : List.of(a, b)) {
                    ValueState<String> state = keyed.getPartitionedState(VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE, new ValueStateDescriptor<>("s", String.class));
                    for (int key = round * 500; key < round * 500 + 500; key++) {
                        keyed.setCurrentKey(key % 60_000);
                        state.update("rewritten " + key);
                    }
                }
                cleansA = ((ZKeyedStateBackend<Integer>) a).pageStoreStats().backgroundCleans();
                cleansB = ((ZKeyedStateBackend<Integer>) b).pageStoreStats().backgroundCleans();
            }
            assertThat(cleansA).as("pages of the first backend cleaned by the slot's reaper").isPositive();
            assertThat(cleansB).as("pages of the second backend cleaned by the slot's reaper").isPositive();
            assertThat(reaper.pagesCompressed()).isGreaterThanOrEqualTo(cleansA + cleansB);
            for (CheckpointableKeyedStateBackend<Integer> keyed : List.of(a, b)) {
                keyed.close();
                keyed.dispose();
            }
            assertThat(env.getMemoryManager().verifyEmpty()).as("managed memory returned").isTrue();
            for (long until = System.nanoTime() + 10_000_000_000L; reaper.isRunning() && System.nanoTime() < until; ) {
                Thread.sleep(10);
            }
            assertThat(reaper.isRunning()).as("the slot's reaper thread ends with the slot's memory").isFalse();
            assertThat(files(spill)).as("spill files after dispose").isEmpty();
        }
    }

    /** 20,000 keys of a value state: far more than the 8 KiB page cache holds. */
    private static ValueState<String> fill(CheckpointableKeyedStateBackend<Integer> keyed) throws Exception {
        ValueState<String> state = keyed.getPartitionedState(
                VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, new ValueStateDescriptor<>("s", String.class));
        for (int key = 0; key < 20_000; key++) {
            keyed.setCurrentKey(key);
            state.update("value of key " + key);
        }
        return state;
    }

    private static List<File> files(Path dir) throws Exception {
        try (Stream<Path> paths = Files.walk(dir)) {
            return paths.filter(Files::isRegularFile).map(Path::toFile).toList();
        }
    }

    /** A metric group that records the gauges registered under it, by dotted name. */
    private static MetricGroup recording(Map<String, Metric> metrics) {
        return new UnregisteredMetricsGroup() {
            @Override
            public MetricGroup addGroup(String name) {
                String prefix = name;
                return new UnregisteredMetricsGroup() {
                    @Override
                    public <T, G extends Gauge<T>> G gauge(String gaugeName, G gauge) {
                        metrics.put(prefix + "." + gaugeName, gauge);
                        return gauge;
                    }
                };
            }
        };
    }
}

package io.zstate.benchmarks.state;

import io.zstate.flink.ZStateBackend;
import io.zstate.flink.ZStateOptions;
import java.util.List;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.AbstractStateBackend;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;

/**
 * One keyed state backend of the kind under test, created the way a TaskManager creates it:
 * through {@code StateBackend#createKeyedStateBackend} in a task environment whose
 * MemoryManager holds the regime's managed memory, with a managed-memory fraction of 1. zstate
 * takes its pool from that memory, RocksDB its block cache and write buffers (Flink's default,
 * {@code state.backend.rocksdb.memory.managed: true}); HashMap uses none. 128 key groups, one
 * operator with the default maximum parallelism.
 */
public final class BenchmarkBackend implements AutoCloseable {

    public static final int KEY_GROUPS = 128;

    /**
     * System property naming a directory where zstate backends record their pools' traces
     * ({@code state.backend.zstate.debug.pool-trace-directory}); the state suite sets it in its
     * forks for {@code --pool-trace-directory}.
     */
    public static final String POOL_TRACE_PROPERTY = "zstate.benchmark.pool-trace-directory";

    public final CheckpointableKeyedStateBackend<Long> keyed;
    private final MockEnvironment environment;
    private final AbstractStateBackend stateBackend;
    private final List<CheckpointableKeyedStateBackend<Long>> neighbours = new java.util.ArrayList<>();

    private BenchmarkBackend(MockEnvironment environment, AbstractStateBackend stateBackend,
            CheckpointableKeyedStateBackend<Long> keyed) {
        this.environment = environment;
        this.stateBackend = stateBackend;
        this.keyed = keyed;
    }

    /**
     * Another keyed backend of the same kind in this one's task environment: a second stateful
     * operator of the slot (slot sharing), with the same managed-memory fraction of 1, so the two
     * share the slot's memory as a TaskManager's do. Closed with this one.
     */
    public CheckpointableKeyedStateBackend<Long> neighbour() throws Exception {
        CheckpointableKeyedStateBackend<Long> other = keyedIn(environment, stateBackend, List.of());
        neighbours.add(other);
        return other;
    }

    /**
     * @param backend zstate (its defaults), zstate-reaper and zstate-noreaper (its background reaper on, off;
     *     by default "auto"), zstate-reaperNN (on, held to NN% of a core), zstate-pages (its entry cache off),
     *     zstate-unbalanced (slot-pool-balancing off), zstate-compressed (every page compressed in the pool:
     *     raw-pool-fill 0), zstate-rawNN (pages kept raw under NN% of the pool's budget),
     *     zstate-entriesNN (NN% of the page cache's heap for entries), zstate-writesNN (NN% of it for the
     *     write buffer, writes waiting for pages in RocksDB), zstate-poolwritesNN (the same, writes waiting
     *     for pages in the pool too), zstate-nowrites (no write buffer), zstate-xcfmalloc, zstate-zlog (that
     *     allocator for the pool), zstate-zsmallocN (zsmalloc with chain size N, 4 to 16), rocksdb, rocksdb-partitioned (with partitioned index and filter
     *     blocks), forst (Flink 2.x's ForSt, through its synchronous keyed backend) or hashmap
     * @param managedMemory managed memory of the slot, bytes
     * @param pageCache zstate's page cache, bytes
     */
    public static BenchmarkBackend create(String backend, long managedMemory, long pageCache) throws Exception {
        return create(backend, managedMemory, pageCache, ZStateOptions.PAGE_SIZE.defaultValue().getBytes());
    }

    /** The number after a variant's name (zstate-entries25: 25), or an error naming the backend. */
    private static int number(String backend, String name) {
        try {
            return Integer.parseInt(backend.substring(name.length()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("backend '" + backend + "': " + name + " takes a number, as " + name
                    + (name.endsWith("entries") || name.endsWith("writes") || name.endsWith("reaper") ? "25 (a percentage)" : "4 (a chain size)"), e);
        }
    }

    /** As {@link #create(String, long, long)}, with zstate pages of {@code pageSize} bytes. */
    public static BenchmarkBackend create(String backend, long managedMemory, long pageCache, long pageSize)
            throws Exception {
        return create(backend, managedMemory, pageCache, pageSize, false);
    }

    /**
     * As {@link #create(String, long, long, long)}; {@code incremental} sets Flink's {@code
     * execution.checkpointing.incremental} for the backend (RocksDB's and zstate's incremental
     * checkpoints).
     */
    public static BenchmarkBackend create(String backend, long managedMemory, long pageCache, long pageSize,
            boolean incremental) throws Exception {
        return create(backend, managedMemory, pageCache, pageSize, incremental, List.of());
    }

    /** As {@link #create(String, long, long, long, boolean)}, restored from {@code restoreFrom}. */
    public static BenchmarkBackend create(String backend, long managedMemory, long pageCache, long pageSize,
            boolean incremental, List<org.apache.flink.runtime.state.KeyedStateHandle> restoreFrom) throws Exception {
        String variant = backend;
        double entryFraction = ZStateOptions.ENTRY_CACHE_FRACTION.defaultValue();
        double writeFraction = ZStateOptions.WRITE_BUFFER_FRACTION.defaultValue();
        String allocator = ZStateOptions.ALLOCATOR.defaultValue();
        int chainSize = ZStateOptions.ZSMALLOC_CHAIN_SIZE.defaultValue();
        String compression = ZStateOptions.PAGE_COMPRESSION.defaultValue();
        boolean balancing = ZStateOptions.SLOT_POOL_BALANCING.defaultValue();
        double reaperCpuLimit = ZStateOptions.REAPER_CPU_LIMIT.defaultValue();
        double rawFill = ZStateOptions.RAW_POOL_FILL.defaultValue();
        String waitsFor = ZStateOptions.WRITE_BUFFER_WAITS_FOR.defaultValue();
        if (backend.equals("zstate-compressed")) { // every page compressed in the pool (raw-pool-fill 0)
            rawFill = 0;
            variant = "zstate";
        } else if (backend.startsWith("zstate-raw")) { // zstate-rawNN: pages kept raw under NN% of the pool's budget
            rawFill = number(backend, "zstate-raw") / 100.0;
            variant = "zstate";
        } else if (backend.equals("zstate-zstd")) { // zstd with a dictionary the store trains on its pages
            compression = "zstd";
            variant = "zstate";
        } else if (backend.startsWith("zstate-entries")) { // zstate-entriesNN: NN% of the page cache's heap for entries
            entryFraction = number(backend, "zstate-entries") / 100.0;
            variant = "zstate";
        } else if (backend.startsWith("zstate-writes")) { // zstate-writesNN: NN% of the page cache's heap for waiting writes
            writeFraction = number(backend, "zstate-writes") / 100.0;
            variant = "zstate";
        } else if (backend.startsWith("zstate-poolwrites")) { // zstate-poolwritesNN: writes wait for pool pages too
            writeFraction = number(backend, "zstate-poolwrites") / 100.0;
            waitsFor = io.zstate.pagestore.PageStoreConfig.UNCACHED_PAGES;
            variant = "zstate";
        } else if (backend.equals("zstate-nowrites")) { // no write buffer
            writeFraction = 0;
            variant = "zstate";
        } else if (backend.startsWith("zstate-zsmalloc")) { // zstate-zsmallocN: zsmalloc with chain size N
            allocator = "zsmalloc";
            chainSize = number(backend, "zstate-zsmalloc");
            variant = "zstate";
        } else if (backend.startsWith("zstate-reaper") && !backend.equals("zstate-reaper")) {
            // zstate-reaperNN: the background reaper on, held to NN% of one core
            reaperCpuLimit = number(backend, "zstate-reaper") / 100.0;
            variant = "zstate-reaper";
        } else if (backend.equals("zstate-unbalanced")) { // the slot's pools not balanced (slot-pool-balancing off)
            balancing = false;
            variant = "zstate";
        } else if (backend.equals("zstate-xcfmalloc") || backend.equals("zstate-zlog")) { // that allocator
            allocator = backend.substring("zstate-".length());
            variant = "zstate";
        }
        AbstractStateBackend stateBackend = switch (variant) {
            case "zstate", "zstate-reaper", "zstate-noreaper", "zstate-pages" -> {
                // zstate-reaper / -noreaper: the background reaper on / off (else "auto"); zstate-pages: no entry cache
                Configuration config = new Configuration();
                // the reaper as configured by default ("auto": on with two cores beyond one per slot), or forced
                config.set(ZStateOptions.BACKGROUND_REAPER, variant.equals("zstate-reaper") ? "true"
                        : backend.equals("zstate-noreaper") ? "false" : ZStateOptions.BACKGROUND_REAPER.defaultValue());
                config.set(ZStateOptions.REAPER_CPU_LIMIT, reaperCpuLimit);
                config.set(ZStateOptions.ENTRY_CACHE_FRACTION, backend.equals("zstate-pages") ? 0.0 : entryFraction);
                config.set(ZStateOptions.WRITE_BUFFER_FRACTION, writeFraction);
                config.set(ZStateOptions.WRITE_BUFFER_WAITS_FOR, waitsFor);
                config.set(ZStateOptions.ALLOCATOR, allocator);
                config.set(ZStateOptions.ZSMALLOC_CHAIN_SIZE, chainSize);
                config.set(ZStateOptions.PAGE_COMPRESSION, compression);
                config.set(ZStateOptions.SLOT_POOL_BALANCING, balancing);
                config.set(ZStateOptions.RAW_POOL_FILL, rawFill);
                config.set(ZStateOptions.PAGE_CACHE_SIZE, new MemorySize(pageCache));
                config.set(ZStateOptions.PAGE_SIZE, new MemorySize(pageSize));
                config.set(org.apache.flink.configuration.CheckpointingOptions.INCREMENTAL_CHECKPOINTS, incremental);
                String traces = System.getProperty(POOL_TRACE_PROPERTY);
                if (traces != null && !traces.isEmpty()) { // the suite's --pool-trace-directory, set in its forks
                    config.set(ZStateOptions.POOL_TRACE_DIRECTORY, traces);
                }
                yield new ZStateBackend().configure(config, BenchmarkBackend.class.getClassLoader());
            }
            case "rocksdb" -> new EmbeddedRocksDBStateBackend(incremental);
            case "rocksdb-partitioned" -> { // what a user sets when state outgrows memory
                Configuration config = new Configuration();
                config.set(org.apache.flink.state.rocksdb.RocksDBOptions.USE_PARTITIONED_INDEX_FILTERS, true);
                yield new EmbeddedRocksDBStateBackend().configure(config, BenchmarkBackend.class.getClassLoader());
            }
            case "forst" -> { // Flink 2.x's disaggregated backend, its working state on local disk here
                Configuration config = new Configuration();
                config.set(org.apache.flink.configuration.CheckpointingOptions.INCREMENTAL_CHECKPOINTS, incremental);
                yield new org.apache.flink.state.forst.ForStStateBackend()
                        .configure(config, BenchmarkBackend.class.getClassLoader());
            }
            case "hashmap" -> new HashMapStateBackend();
            default -> throw new IllegalArgumentException("backend '" + backend
                    + "' is not known: use zstate, zstate-reaper, zstate-noreaper, zstate-pages, zstate-entriesNN, zstate-writesNN,"
                    + " zstate-reaperNN, zstate-unbalanced,"
                    + " zstate-xcfmalloc, zstate-zlog,"
                    + " zstate-zstd,"
                    + " zstate-zsmallocN (chain size N, 4 to 16), rocksdb, rocksdb-partitioned, forst or hashmap");
        };
        MockEnvironment environment = new MockEnvironmentBuilder()
                .setManagedMemorySize(Math.max(managedMemory, 1 << 20))
                .build();
        try {
            // a task always has checkpoint storage; ForSt's backend asks for it (and MockEnvironment
            // throws when none was set). The JobManager's storage: nothing is written anywhere
            environment.setCheckpointStorageAccess(new org.apache.flink.runtime.state.storage.JobManagerCheckpointStorage()
                    .createCheckpointStorage(environment.getJobID()));
            return new BenchmarkBackend(environment, stateBackend, keyedIn(environment, stateBackend, restoreFrom));
        } catch (Exception | Error e) {
            try {
                environment.close();
            } catch (Exception | Error closing) {
                e.addSuppressed(closing); // (a backend failing half-built may leave memory leased: the cause first)
            }
            throw e;
        }
    }

    private static CheckpointableKeyedStateBackend<Long> keyedIn(MockEnvironment environment,
            AbstractStateBackend stateBackend, List<org.apache.flink.runtime.state.KeyedStateHandle> restoreFrom)
            throws Exception {
        return stateBackend.createKeyedStateBackend(
                new KeyedStateBackendParametersImpl<>(environment, new JobID(), "state-benchmark",
                        LongSerializer.INSTANCE, KEY_GROUPS, new KeyGroupRange(0, KEY_GROUPS - 1),
                        environment.getTaskKvStateRegistry(), TtlTimeProvider.DEFAULT,
                        new UnregisteredMetricsGroup(), (name, value) -> {}, restoreFrom,
                        new CloseableRegistry(), 1.0));
    }

    @Override
    public void close() throws Exception {
        try {
            for (CheckpointableKeyedStateBackend<Long> other : neighbours) {
                other.close();
                other.dispose();
            }
            keyed.close();
            keyed.dispose();
        } finally {
            environment.close();
        }
    }
}

package io.zstate.flink;

import io.zstate.allocator.ZPools;
import io.zstate.pagestore.Faults;
import io.zstate.pagestore.PageStoreConfig;
import io.zstate.pagestore.SlotMemory;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import org.apache.flink.annotation.VisibleForTesting;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.runtime.execution.Environment;
import org.apache.flink.runtime.memory.OpaqueMemoryResource;
import org.apache.flink.runtime.state.AbstractKeyedStateBackend;
import org.apache.flink.runtime.state.AbstractManagedMemoryStateBackend;
import org.apache.flink.runtime.state.ConfigurableStateBackend;
import org.apache.flink.runtime.state.DefaultOperatorStateBackendBuilder;
import org.apache.flink.runtime.state.OperatorStateBackend;
import org.apache.flink.runtime.state.metrics.LatencyTrackingStateConfig;
import org.apache.flink.runtime.state.metrics.SizeTrackingStateConfig;

/**
 * The zstate state backend: keyed state as compressed pages in off-heap memory (see {@code
 * io.zstate.pagestore.PageStore}), spilled to RocksDB when the pool is full. Configure it with
 * {@code state.backend.type: io.zstate.flink.ZStateBackendFactory} and the options in {@link
 * ZStateOptions}; operator state uses Flink's default operator state backend.
 *
 * <p>The pool's memory comes from Flink managed memory unless {@link ZStateOptions#POOL_SIZE} is
 * set: the keyed backends of a slot share one budget, the operator's managed-memory share.
 *
 * <p>Owns the options (each checked, and checked against the others, naming every key involved)
 * and what one keyed backend needs from the TaskManager: its managed-memory share, its spill
 * directory, its page-store configuration; {@link ZKeyedStateBackendBuilder} builds the backend
 * from them. Must not keep what it hands out (the keyed backend owns it and releases it on
 * dispose): one configured object serves every task of a job.
 */
public class ZStateBackend extends AbstractManagedMemoryStateBackend implements ConfigurableStateBackend {

    private static final long serialVersionUID = 1L;

    /**
     * Internal, for tests that fail a running job's page store (a MiniCluster shares the test's
     * JVM): the faults every keyed backend created from now on injects. {@link Faults#NONE} in
     * production; nothing sets it but tests.
     */
    @VisibleForTesting
    static volatile Faults faultsForTests = Faults.NONE;

    /** The type under which the slot's shared budget is registered with the memory manager. */
    static final String MANAGED_MEMORY_TYPE = "state-zstate-managed-memory";

    private final String allocator;
    private final String pageCompression;
    private final int zsmallocChainSize;
    private final int pageSize;
    private final long pageCacheBytes;
    private final double entryCacheFraction;
    private final double writeBufferFraction;
    private final String writeBufferWaitsFor;
    private final double rawPoolFill;
    private final long poolBytes; // -1: managed memory
    private final int frameSize;
    private final double bouncerRatio;
    private final int reclaimBatchFrames;
    /** "auto", "true" or "false" ({@link ZStateOptions#BACKGROUND_REAPER}). */
    private final String backgroundReaper;
    private final boolean slotPoolBalancing;
    /** Flink's timers in zstate's {@code TimerHeap} ({@link ZStateOptions#TIMER_HEAP}). */
    private final boolean timerHeap;
    private final double reaperCpuLimit;
    private final double spillMemoryFraction;
    private final String spillDirectory; // null: the TaskManager's working directory
    private final String poolTraceDirectory; // null: no pool trace
    private final IncrementalSettings incremental;

    /** A backend with every option at its default. */
    public ZStateBackend() {
        this.allocator = ZStateOptions.ALLOCATOR.defaultValue();
        this.pageCompression = ZStateOptions.PAGE_COMPRESSION.defaultValue();
        this.zsmallocChainSize = ZStateOptions.ZSMALLOC_CHAIN_SIZE.defaultValue();
        this.pageSize = (int) ZStateOptions.PAGE_SIZE.defaultValue().getBytes();
        this.pageCacheBytes = ZStateOptions.PAGE_CACHE_SIZE.defaultValue().getBytes();
        this.entryCacheFraction = ZStateOptions.ENTRY_CACHE_FRACTION.defaultValue();
        this.writeBufferFraction = ZStateOptions.WRITE_BUFFER_FRACTION.defaultValue();
        this.writeBufferWaitsFor = ZStateOptions.WRITE_BUFFER_WAITS_FOR.defaultValue();
        this.rawPoolFill = ZStateOptions.RAW_POOL_FILL.defaultValue();
        this.poolBytes = -1;
        this.frameSize = (int) ZStateOptions.FRAME_SIZE.defaultValue().getBytes();
        this.bouncerRatio = ZStateOptions.BOUNCER_RATIO.defaultValue();
        this.reclaimBatchFrames = ZStateOptions.RECLAIM_BATCH_FRAMES.defaultValue();
        this.backgroundReaper = ZStateOptions.BACKGROUND_REAPER.defaultValue();
        this.slotPoolBalancing = ZStateOptions.SLOT_POOL_BALANCING.defaultValue();
        this.timerHeap = ZStateOptions.TIMER_HEAP.defaultValue();
        this.reaperCpuLimit = ZStateOptions.REAPER_CPU_LIMIT.defaultValue();
        this.spillMemoryFraction = ZStateOptions.SPILL_MEMORY_FRACTION.defaultValue();
        this.spillDirectory = null;
        this.poolTraceDirectory = null;
        this.incremental = IncrementalSettings.OFF;
    }

    private ZStateBackend(ZStateBackend original, ReadableConfig config) {
        this.latencyTrackingConfigBuilder = original.latencyTrackingConfigBuilder.configure(config);
        this.sizeTrackingConfigBuilder = original.sizeTrackingConfigBuilder.configure(config);
        this.allocator = config.getOptional(ZStateOptions.ALLOCATOR).orElse(original.allocator)
                .toLowerCase(Locale.ROOT);
        if (!ZPools.TYPES.contains(allocator)) {
            throw invalid(ZStateOptions.ALLOCATOR.key(), allocator, "one of " + ZPools.TYPES);
        }
        this.pageCompression = config.getOptional(ZStateOptions.PAGE_COMPRESSION).orElse(original.pageCompression)
                .toLowerCase(Locale.ROOT);
        if (!PageStoreConfig.PAGE_COMPRESSIONS.contains(pageCompression)) {
            throw invalid(ZStateOptions.PAGE_COMPRESSION.key(), pageCompression, "one of "
                    + PageStoreConfig.PAGE_COMPRESSIONS);
        }
        this.zsmallocChainSize = config.getOptional(ZStateOptions.ZSMALLOC_CHAIN_SIZE)
                .orElse(original.zsmallocChainSize);
        if (zsmallocChainSize < ZPools.MIN_ZSMALLOC_CHAIN_SIZE || zsmallocChainSize > ZPools.MAX_ZSMALLOC_CHAIN_SIZE) {
            // checked whatever the allocator, so a typo does not wait for a switch to zsmalloc
            throw invalid(ZStateOptions.ZSMALLOC_CHAIN_SIZE.key(), String.valueOf(zsmallocChainSize),
                    ZPools.MIN_ZSMALLOC_CHAIN_SIZE + " to " + ZPools.MAX_ZSMALLOC_CHAIN_SIZE + " frames per span");
        }
        this.pageSize = powerOfTwo(config, ZStateOptions.PAGE_SIZE, original.pageSize,
                PageStoreConfig.MIN_PAGE_SIZE, PageStoreConfig.MAX_PAGE_SIZE);
        this.frameSize = powerOfTwo(config, ZStateOptions.FRAME_SIZE, original.frameSize, 4096, 65536);
        this.pageCacheBytes = config.getOptional(ZStateOptions.PAGE_CACHE_SIZE).map(MemorySize::getBytes)
                .orElse(original.pageCacheBytes);
        if (pageCacheBytes / pageSize < 8) {
            throw invalid(ZStateOptions.PAGE_CACHE_SIZE.key(), pageCacheBytes + " bytes",
                    "at least 8 pages (" + 8L * pageSize + " bytes at page size " + pageSize + ")");
        }
        this.entryCacheFraction = config.getOptional(ZStateOptions.ENTRY_CACHE_FRACTION)
                .orElse(original.entryCacheFraction);
        if (!(entryCacheFraction >= 0 && entryCacheFraction <= 0.9)) {
            throw invalid(ZStateOptions.ENTRY_CACHE_FRACTION.key(), String.valueOf(entryCacheFraction),
                    "a fraction from 0 (no entry cache) to 0.9");
        }
        if ((pageCacheBytes - entryCacheBytes()) / pageSize < 8) {
            throw invalid(ZStateOptions.ENTRY_CACHE_FRACTION.key(), String.valueOf(entryCacheFraction),
                    "a fraction that leaves the pages of '" + ZStateOptions.PAGE_CACHE_SIZE.key() + "' ("
                            + pageCacheBytes + " bytes) at least 8 pages (" + 8L * pageSize + " bytes)");
        }
        this.writeBufferFraction = config.getOptional(ZStateOptions.WRITE_BUFFER_FRACTION)
                .orElse(original.writeBufferFraction);
        if (!(writeBufferFraction >= 0 && writeBufferFraction + entryCacheFraction <= 0.9)) {
            throw invalid(ZStateOptions.WRITE_BUFFER_FRACTION.key(), String.valueOf(writeBufferFraction),
                    "a fraction from 0 (no write buffer) to 0.9 less '" + ZStateOptions.ENTRY_CACHE_FRACTION.key()
                            + "' (" + entryCacheFraction + ")");
        }
        if ((pageCacheBytes - entryCacheBytes() - writeBufferBytes()) / pageSize < 8) {
            throw invalid(ZStateOptions.WRITE_BUFFER_FRACTION.key(), String.valueOf(writeBufferFraction),
                    "a fraction that, with the entry cache's, leaves the pages of '"
                            + ZStateOptions.PAGE_CACHE_SIZE.key() + "' (" + pageCacheBytes + " bytes) at least 8"
                            + " pages (" + 8L * pageSize + " bytes)");
        }
        this.writeBufferWaitsFor = config.getOptional(ZStateOptions.WRITE_BUFFER_WAITS_FOR)
                .orElse(original.writeBufferWaitsFor).toLowerCase(Locale.ROOT);
        if (!PageStoreConfig.WAITS_FOR.contains(writeBufferWaitsFor)) {
            throw invalid(ZStateOptions.WRITE_BUFFER_WAITS_FOR.key(), writeBufferWaitsFor,
                    "one of " + PageStoreConfig.WAITS_FOR);
        }
        this.rawPoolFill = config.getOptional(ZStateOptions.RAW_POOL_FILL).orElse(original.rawPoolFill);
        if (!(rawPoolFill >= 0 && rawPoolFill <= PageStoreConfig.MAX_RAW_POOL_FILL)) {
            throw invalid(ZStateOptions.RAW_POOL_FILL.key(), String.valueOf(rawPoolFill),
                    "a fraction of the pool's budget from 0 (every page compressed) to "
                            + PageStoreConfig.MAX_RAW_POOL_FILL);
        }
        this.poolBytes = config.getOptional(ZStateOptions.POOL_SIZE).map(MemorySize::getBytes)
                .orElse(original.poolBytes);
        if (poolBytes != -1 && poolBytes < 16L * frameSize) {
            throw invalid(ZStateOptions.POOL_SIZE.key(), poolBytes + " bytes",
                    "at least 16 frames (" + 16L * frameSize + " bytes), or unset to use managed memory");
        }
        this.bouncerRatio = config.getOptional(ZStateOptions.BOUNCER_RATIO).orElse(original.bouncerRatio);
        if (!(bouncerRatio >= 1.0)) {
            throw invalid(ZStateOptions.BOUNCER_RATIO.key(), String.valueOf(bouncerRatio), "1.0 (off) or more");
        }
        this.reclaimBatchFrames = config.getOptional(ZStateOptions.RECLAIM_BATCH_FRAMES)
                .orElse(original.reclaimBatchFrames);
        if (reclaimBatchFrames < 1) {
            throw invalid(ZStateOptions.RECLAIM_BATCH_FRAMES.key(), String.valueOf(reclaimBatchFrames), "1 or more");
        }
        this.backgroundReaper = config.getOptional(ZStateOptions.BACKGROUND_REAPER)
                .map(v -> v.trim().toLowerCase(java.util.Locale.ROOT)).orElse(original.backgroundReaper);
        if (!ZStateOptions.BACKGROUND_REAPER_VALUES.contains(backgroundReaper)) {
            throw invalid(ZStateOptions.BACKGROUND_REAPER.key(), backgroundReaper,
                    String.join(", ", ZStateOptions.BACKGROUND_REAPER_VALUES));
        }
        this.slotPoolBalancing = config.getOptional(ZStateOptions.SLOT_POOL_BALANCING).orElse(original.slotPoolBalancing);
        this.timerHeap = config.getOptional(ZStateOptions.TIMER_HEAP).orElse(original.timerHeap);
        this.reaperCpuLimit = config.getOptional(ZStateOptions.REAPER_CPU_LIMIT).orElse(original.reaperCpuLimit);
        if (!(reaperCpuLimit >= io.zstate.pagestore.Reaper.MIN_CPU_LIMIT && reaperCpuLimit <= 1.0)) {
            throw invalid(ZStateOptions.REAPER_CPU_LIMIT.key(), String.valueOf(reaperCpuLimit),
                    "a fraction of one core from " + io.zstate.pagestore.Reaper.MIN_CPU_LIMIT + " to 1");
        }
        this.spillMemoryFraction = config.getOptional(ZStateOptions.SPILL_MEMORY_FRACTION)
                .orElse(original.spillMemoryFraction);
        if (!(spillMemoryFraction > 0 && spillMemoryFraction < 1)) {
            throw invalid(ZStateOptions.SPILL_MEMORY_FRACTION.key(), String.valueOf(spillMemoryFraction),
                    "a fraction between 0 and 1, exclusive");
        }
        this.spillDirectory = config.getOptional(ZStateOptions.SPILL_DIRECTORY).orElse(original.spillDirectory);
        this.poolTraceDirectory = config.getOptional(ZStateOptions.POOL_TRACE_DIRECTORY)
                .filter(dir -> !dir.isBlank()).orElse(original.poolTraceDirectory);
        double consolidateRatio = config.getOptional(ZStateOptions.CONSOLIDATE_RATIO)
                .orElse(original.incremental.consolidateRatio());
        if (!(consolidateRatio > 0)) {
            throw invalid(ZStateOptions.CONSOLIDATE_RATIO.key(), String.valueOf(consolidateRatio), "a number above 0");
        }
        long deltaMemory = config.getOptional(ZStateOptions.DELTA_MEMORY).map(MemorySize::getBytes)
                .orElse(original.incremental.deltaMemoryBytes());
        if (deltaMemory < (1L << 20) || deltaMemory > Integer.MAX_VALUE - 8) {
            throw invalid(ZStateOptions.DELTA_MEMORY.key(), deltaMemory + " bytes", "1mb to 2047mb");
        }
        this.incremental = new IncrementalSettings(
                config.getOptional(CheckpointingOptions.INCREMENTAL_CHECKPOINTS).orElse(original.incremental.enabled()),
                deltaMemory, consolidateRatio);
        checkPagesFitThePool(pageSize, frameSize, allocator, bouncerRatio);
        int slots = Math.max(1, config.get(TaskManagerOptions.NUM_TASK_SLOTS));
        config.getOptional(TaskManagerOptions.MANAGED_MEMORY_SIZE).ifPresent(
                managed -> checkPoolAgainstManagedMemory(poolBytes, managed.getBytes() / slots,
                        "per slot: '" + TaskManagerOptions.MANAGED_MEMORY_SIZE.key() + "' over " + slots + " slot(s), '"
                                + TaskManagerOptions.NUM_TASK_SLOTS.key() + "'"));
        config.getOptional(TaskManagerOptions.TASK_HEAP_MEMORY).ifPresent(
                heap -> checkPageCacheAgainstHeap(pageCacheBytes, heap.getBytes(),
                        "'" + TaskManagerOptions.TASK_HEAP_MEMORY.key() + "'"));
    }

    /**
     * Whether a keyed backend gets the background reaper: as configured, or with "auto" when the
     * machine has two cores beyond one per task slot: one for the reaper threads, one for the
     * spill stores' RocksDB flushes and compactions. Measured on two cores and one slot (state
     * suite, 2026-12-03): writes with the state in the pool 0.90-0.98x (raw pages leave it little
     * to compress, the hand-off costs what it saves), writes with state four times the pool
     * 0.67-1.06x (the reaper took the core RocksDB's background work had); with a busy task per
     * core it competes with the tasks (0.72-0.80x).
     */
    static boolean reaperRuns(String mode, int processors, int slots) {
        return switch (mode) {
            case "true" -> true;
            case "false" -> false;
            default -> processors >= Math.max(1, slots) + 2;
        };
    }

    /** The entry cache's share of the page cache's heap; 0 when that is below the smallest entry cache. */
    private long entryCacheBytes() {
        return pageCacheShare(entryCacheFraction, PageStoreConfig.MIN_ENTRY_CACHE_BYTES);
    }

    /** The write buffer's share of the page cache's heap; 0 when that is below the smallest write buffer. */
    private long writeBufferBytes() {
        return pageCacheShare(writeBufferFraction, PageStoreConfig.MIN_WRITE_BUFFER_BYTES);
    }

    /** {@code fraction} of the page cache's heap; 0 when that is below {@code smallest}. */
    private long pageCacheShare(double fraction, long smallest) {
        long bytes = (long) (pageCacheBytes * fraction);
        return bytes < smallest ? 0 : bytes;
    }

    /** The most of the task heap one keyed backend's page cache may take. */
    static final double MAX_PAGE_CACHE_HEAP_SHARE = 0.25;

    /**
     * Every page the bouncer lets into the pool must fit one pool object; otherwise pages that
     * compress too little for the allocator all go to RocksDB and the pool sits idle.
     */
    private static void checkPagesFitThePool(int pageSize, int frameSize, String allocator, double bouncerRatio) {
        int largestObject = ZPools.maxObjectSize(allocator, frameSize);
        int largestPage = PageStoreConfig.largestAdmittedObject(pageSize, bouncerRatio);
        if (largestPage <= largestObject) {
            return;
        }
        int frame = PageStoreConfig.smallestFrameFor(pageSize, bouncerRatio, allocator);
        throw new IllegalConfigurationException("Invalid combination of '" + ZStateOptions.PAGE_SIZE.key() + "' ("
                + pageSize + " bytes), '" + ZStateOptions.FRAME_SIZE.key() + "' (" + frameSize + " bytes), '"
                + ZStateOptions.ALLOCATOR.key() + "' (" + allocator + ") and '" + ZStateOptions.BOUNCER_RATIO.key()
                + "' (" + bouncerRatio + "): a page that passes the bouncer is a pool object of up to " + largestPage
                + " bytes, but the largest object of " + allocator + " at that frame size is " + largestObject
                + " bytes, so pages that compress too little for it would all go to RocksDB. Allowed: page-size / bouncer-ratio + "
                + (largestPage - (int) Math.floor(pageSize / bouncerRatio)) + " bytes at most the allocator's"
                + " largest object (frame-size - 8 for zsmalloc, frame-size * 62/64 for zbud and z3fold, frame-size - 24 for zlog and xcfmalloc)"
                + (frame > 0 ? "; here a frame-size of at least " + frame + " bytes" : "")
                + ", or a smaller page-size.");
    }

    /** A pool sized by hand may not exceed the managed memory it replaces. */
    private static void checkPoolAgainstManagedMemory(long poolBytes, long managedBytes, String managedSource) {
        if (poolBytes != -1 && poolBytes > managedBytes) {
            throw new IllegalConfigurationException("Invalid value for '" + ZStateOptions.POOL_SIZE.key() + "': "
                    + poolBytes + " bytes, more than the " + managedBytes + " bytes of managed memory ("
                    + managedSource + "). Allowed: at most the managed memory; or leave '"
                    + ZStateOptions.POOL_SIZE.key() + "' unset so the pool takes the operator's share of it.");
        }
    }

    /** The page cache lives on the task heap: one backend's cache may take a quarter of it at most. */
    private static void checkPageCacheAgainstHeap(long pageCacheBytes, long heapBytes, String heapSource) {
        long allowed = (long) (heapBytes * MAX_PAGE_CACHE_HEAP_SHARE);
        if (pageCacheBytes > allowed) {
            throw new IllegalConfigurationException("Invalid value for '" + ZStateOptions.PAGE_CACHE_SIZE.key() + "': "
                    + pageCacheBytes + " bytes. Allowed: at most a quarter of the task heap (" + heapBytes
                    + " bytes, " + heapSource + "), " + allowed + " bytes, per keyed backend; or give the TaskManager"
                    + " more task heap ('" + TaskManagerOptions.TASK_HEAP_MEMORY.key() + "').");
        }
    }

    private static int powerOfTwo(ReadableConfig config,
            org.apache.flink.configuration.ConfigOption<MemorySize> option, int fallback, int min, int max) {
        long value = config.getOptional(option).map(MemorySize::getBytes).orElse((long) fallback);
        if (value < min || value > max || Long.bitCount(value) != 1) {
            throw invalid(option.key(), value + " bytes", "a power of two from " + min + " to " + max + " bytes");
        }
        return (int) value;
    }

    private static IllegalConfigurationException invalid(String key, String value, String allowed) {
        return new IllegalConfigurationException(
                "Invalid value for '" + key + "': " + value + ". Allowed: " + allowed + ".");
    }

    @Override
    public ZStateBackend configure(ReadableConfig config, ClassLoader classLoader) {
        return new ZStateBackend(this, config);
    }

    @Override
    public String getName() {
        return "zstate";
    }

    @Override
    public boolean supportsNoClaimRestoreMode() {
        return true; // every checkpoint is a self-contained full snapshot
    }

    @Override
    public <K> AbstractKeyedStateBackend<K> createKeyedStateBackend(KeyedStateBackendParameters<K> parameters)
            throws IOException {
        Environment env = parameters.getEnv();
        checkAgainstTaskManager(env);
        // everything that may throw comes before the managed memory is reserved, or releases it
        LatencyTrackingStateConfig latency =
                latencyTrackingConfigBuilder.setMetricGroup(parameters.getMetricGroup()).build();
        SizeTrackingStateConfig size = sizeTrackingConfigBuilder.setMetricGroup(parameters.getMetricGroup()).build();
        OpaqueMemoryResource<SlotMemory> sharedMemory = null;
        long poolBudget = poolBytes;
        if (poolBytes == -1) {
            try {
                sharedMemory = env.getMemoryManager().getSharedMemoryResourceForManagedMemory(
                        MANAGED_MEMORY_TYPE, total -> new SlotMemory(total, spillMemoryFraction, reaperCpuLimit),
                        parameters.getManagedMemoryFraction());
            } catch (Exception e) {
                throw new IOException("Could not reserve managed memory for the zstate pool.", e);
            }
            poolBudget = sharedMemory.getResourceHandle().pool().capacity();
            if (poolBudget < 16L * frameSize) {
                closeQuietly(sharedMemory);
                throw new IOException(new IllegalConfigurationException(
                        "The zstate pool got " + poolBudget + " bytes of managed memory (after the spill stores' share,"
                                + " '" + ZStateOptions.SPILL_MEMORY_FRACTION.key() + "'), less than 16 frames of "
                                + frameSize + " bytes. Give the TaskManager managed memory"
                                + " (taskmanager.memory.managed.size or .fraction) or set '"
                                + ZStateOptions.POOL_SIZE.key() + "'."));
            }
        }
        // a hand-sized pool's spill store gets the same share of it, in addition, of its own
        long ownSpillBytes = Math.max(SlotMemory.MIN_SPILL_CACHE_BYTES,
                (long) (Math.max(poolBytes, 0) * spillMemoryFraction));
        Path spillParent;
        PageStoreConfig config;
        try {
            spillParent = spillParent(env, parameters.getJobID().toString(), parameters.getOperatorIdentifier());
            config = new PageStoreConfig(pageSize, pageCacheBytes, poolBudget, frameSize, allocator,
                    bouncerRatio, reclaimBatchFrames, spillParent, ownSpillBytes / 2, ownSpillBytes / 2,
                    poolTraceDirectory == null ? null : Path.of(poolTraceDirectory), entryCacheBytes(), zsmallocChainSize,
                    pageCompression, 0, writeBufferBytes(), rawPoolFill, writeBufferWaitsFor);
        } catch (RuntimeException e) {
            if (sharedMemory != null) {
                closeQuietly(sharedMemory);
            }
            throw new IOException("Could not configure the zstate keyed backend.", e);
        }
        // the builder releases the shared memory if the build fails
        return new ZKeyedStateBackendBuilder<>(parameters)
                .setPageStoreConfig(config)
                .setSharedMemory(sharedMemory)
                .setSpillParent(spillParent)
                .setLatencyTrackingStateConfig(latency)
                .setSizeTrackingStateConfig(size)
                .setIncremental(incremental)
                .setBackgroundReaper(reaperRuns(backgroundReaper, Runtime.getRuntime().availableProcessors(),
                        env.getTaskManagerInfo().getConfiguration().get(TaskManagerOptions.NUM_TASK_SLOTS)))
                .setSlotPoolBalancing(slotPoolBalancing)
                .setTimerHeap(timerHeap)
                .setReaperCpuLimit(reaperCpuLimit)
                .setFaults(faultsForTests)
                .build();
    }

    /**
     * The checks only a TaskManager can answer: the page cache against its task heap (the JVM's
     * heap where the task heap is not configured, as in a MiniCluster) and a hand-sized pool
     * against the slot's managed memory.
     */
    private void checkAgainstTaskManager(Environment env) throws IOException {
        try {
            Optional<MemorySize> taskHeap = env.getTaskManagerInfo().getConfiguration()
                    .getOptional(TaskManagerOptions.TASK_HEAP_MEMORY);
            if (taskHeap.isPresent()) {
                checkPageCacheAgainstHeap(pageCacheBytes, taskHeap.get().getBytes(),
                        "'" + TaskManagerOptions.TASK_HEAP_MEMORY.key() + "' of this TaskManager");
            } else {
                checkPageCacheAgainstHeap(pageCacheBytes, Runtime.getRuntime().maxMemory(),
                        "the TaskManager JVM's maximum heap");
            }
            checkPoolAgainstManagedMemory(poolBytes, env.getMemoryManager().getMemorySize(),
                    "the managed memory of this slot");
        } catch (IllegalConfigurationException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    private static void closeQuietly(OpaqueMemoryResource<?> resource) {
        try {
            resource.close();
        } catch (Exception ignored) {
            // releasing on an error path: the original error is what matters
        }
    }

    private Path spillParent(Environment env, String jobId, String operatorIdentifier) {
        File base = spillDirectory != null
                ? new File(spillDirectory)
                : new File(env.getTaskManagerInfo().getTmpWorkingDirectory(), "zstate");
        String name = "job_" + jobId + "_op_" + operatorIdentifier.replaceAll("[^a-zA-Z0-9\\-]", "_")
                + "_uuid_" + UUID.randomUUID();
        return new File(base, name).toPath();
    }

    @Override
    public OperatorStateBackend createOperatorStateBackend(OperatorStateBackendParameters parameters)
            throws Exception {
        return new DefaultOperatorStateBackendBuilder(
                        parameters.getEnv().getUserCodeClassLoader().asClassLoader(),
                        parameters.getEnv().getExecutionConfig(),
                        true,
                        parameters.getStateHandles(),
                        parameters.getCancelStreamRegistry())
                .build();
    }

    @Override
    public String toString() {
        return "ZStateBackend{allocator=" + allocator
                + (allocator.equals("zsmalloc") ? ", zsmallocChainSize=" + zsmallocChainSize : "") + ", pageSize=" + pageSize + ", pageCache=" + pageCacheBytes
                + ", pool=" + (poolBytes == -1 ? "managed" : String.valueOf(poolBytes)) + ", frameSize=" + frameSize
                + ", bouncerRatio=" + bouncerRatio + ", pageCompression=" + pageCompression
                + (writeBufferFraction > 0 ? ", writeBufferFraction=" + writeBufferFraction
                        + ", writeBufferWaitsFor=" + writeBufferWaitsFor : "")
                + ", rawPoolFill=" + rawPoolFill
                + ", backgroundReaper=" + backgroundReaper + (slotPoolBalancing ? "" : ", slotPoolBalancing=false")
                + (timerHeap ? "" : ", timerHeap=false")
                + (reaperCpuLimit < 1.0 ? ", reaperCpuLimit=" + reaperCpuLimit : "") + '}';
    }
}

package io.zstate.flink;

import io.zstate.flink.ZStateTables.ZStateInfo;
import io.zstate.flink.iterator.ZStateKeysAndNamespaces;
import io.zstate.flink.metrics.ZStateLocalStats;
import io.zstate.flink.metrics.ZStateMetrics;
import io.zstate.flink.restore.ZStateMigration;
import io.zstate.flink.snapshot.ZFullSnapshotResources;
import io.zstate.flink.snapshot.ZFullSnapshotStrategy;
import io.zstate.flink.snapshot.ZIncrementalSnapshotStrategy;
import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.SlotMemory;
import io.zstate.pagestore.PageStoreStats;
import io.zstate.pagestore.ValueView;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.RunnableFuture;
import java.util.stream.Stream;
import javax.annotation.Nonnull;
import org.apache.flink.api.common.state.State;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.memory.OpaqueMemoryResource;
import org.apache.flink.runtime.state.AbstractKeyedStateBackend;
import org.apache.flink.runtime.state.AbstractStateBackend;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.HeapPriorityQueuesManager;
import org.apache.flink.runtime.state.InternalKeyContextImpl;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.Keyed;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PriorityComparable;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.SavepointResources;
import org.apache.flink.runtime.state.SerializedCompositeKeyBuilder;
import org.apache.flink.runtime.state.SnapshotExecutionType;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategyRunner;
import org.apache.flink.runtime.state.StateSnapshotTransformer.StateSnapshotTransformFactory;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.metrics.LatencyTrackingStateConfig;
import org.apache.flink.runtime.state.metrics.SizeTrackingStateConfig;
import org.apache.flink.util.FlinkRuntimeException;
import org.apache.flink.util.StateMigrationException;

/**
 * The keyed state backend of zstate: every registered state is a table of the {@link PageStore},
 * whose entries are laid out exactly as Flink's RocksDB backend lays out its key-value pairs
 * (key = key-group prefix | key | namespace [| map user key], built by {@link CompositeKeyBuffer}
 * byte for byte as Flink's {@link SerializedCompositeKeyBuilder} builds them; list values joined
 * by ','; map values with a null flag). So a full snapshot is the canonical savepoint format byte
 * for byte, and canonical savepoints of any backend restore by plain puts.
 *
 * <pre>
 * Concurrency: the task thread owns the backend, but Flink reads state from other threads too
 * (queryable state's getSerializedValue, tests that race it). Every page-store access and the
 * decoding of the bytes it returns happen under one lock, the store itself.
 *
 * Snapshots (io.zstate.flink.snapshot): the synchronous part, on the task thread under the
 * store's lock, takes the meta infos, the TTL cleanup transformers and the timer queues'
 * snapshots, and freezes the page store (PageStore.freeze(), a FrozenView: directories copied,
 * an epoch opened; pages the task changes afterwards are saved first as pins) into
 * ZFullSnapshotResources; the asynchronous part walks the frozen view key-group by key-group
 * (each page copied out under the store's lock, decoded outside it), runs the TTL
 * transformers and writes with
 * Flink's FullSnapshotAsyncWriter. Timers live in Flink's heap priority queues and are written
 * into the same snapshot.
 * </pre>
 *
 * <p>Built by {@link ZKeyedStateBackendBuilder} (page store, restore, backend). Owns the state
 * objects, the current key, the registration of states (their meta infos and serializer checks,
 * in {@link ZStateTables}) and the lifecycle: dispose closes the store, releases the managed
 * memory and deletes the spill directory. It hands off, and must not take back, the work of the
 * subpackages: restoring ({@code restore}), snapshotting ({@code snapshot}), walking a state's
 * keys and namespaces ({@code iterator}), metrics ({@code metrics}).
 *
 * <p>Public for {@link ZStateLocalStats#of} (io.zstate.flink.metrics); jobs get it from Flink as a
 * keyed state backend and need nothing of it beyond Flink's interfaces.
 */
public final class ZKeyedStateBackend<K> extends AbstractKeyedStateBackend<K> {

    final PageStore store;
    final ZStateTables tables;
    final int keyGroupPrefixBytes;
    /** The current key's serialized form, shared by all states; refreshed on setCurrentKey. */
    final CompositeKeyBuffer<K> keyBuilder;
    final ValueView view = new ValueView();

    private final LinkedHashMap<String, ZStateInfo> kvStates;
    private final Map<String, AbstractZState<K, ?, ?>> createdStates = new HashMap<>();
    /** TTL cleanup in the background: what checkpoints find expired, removed when they complete. */
    private final ZTtlPurge ttlPurge;
    /** Incremental checkpoints, or null: full ones. */
    private final ZIncrementalSnapshotStrategy<K> incremental;
    private final LinkedHashMap<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> pqStates;
    private final HeapPriorityQueuesManager pqManager;
    private final OpaqueMemoryResource<SlotMemory> sharedMemory;
    private final Path spillParent;
    private boolean disposed;

    /** Built by {@link ZKeyedStateBackendBuilder}, after the restore has settled the key serializer. */
    ZKeyedStateBackend(
            org.apache.flink.runtime.state.StateBackend.KeyedStateBackendParameters<K> parameters,
            TypeSerializer<K> keySerializer,
            ZStateTables tables,
            OpaqueMemoryResource<SlotMemory> sharedMemory,
            Path spillParent,
            LatencyTrackingStateConfig latencyTrackingStateConfig,
            SizeTrackingStateConfig sizeTrackingStateConfig,
            IncrementalSettings incremental) {
        super(
                parameters.getKvStateRegistry(),
                keySerializer,
                parameters.getEnv().getUserCodeClassLoader().asClassLoader(),
                parameters.getEnv().getExecutionConfig(),
                parameters.getTtlTimeProvider(),
                latencyTrackingStateConfig,
                sizeTrackingStateConfig,
                // the parameters' registry serves the restore only: Flink closes it once the backend
                // is built, so snapshots register with the backend's own (closed on dispose)
                new org.apache.flink.core.fs.CloseableRegistry(),
                AbstractStateBackend.getCompressionDecorator(parameters.getEnv().getExecutionConfig()),
                new InternalKeyContextImpl<>(parameters.getKeyGroupRange(), parameters.getNumberOfKeyGroups()));
        this.tables = tables;
        this.store = tables.store();
        this.kvStates = tables.kvStates;
        this.pqStates = tables.pqStates;
        this.sharedMemory = sharedMemory;
        this.spillParent = spillParent;
        this.keyGroupPrefixBytes = tables.keyGroupPrefixBytes();
        this.keyBuilder = new CompositeKeyBuffer<>(keySerializer, keyGroupPrefixBytes);
        this.pqManager = new HeapPriorityQueuesManager(pqStates, tables.pqFactory, keyGroupRange, numberOfKeyGroups);
        this.ttlPurge = new ZTtlPurge(ttlTimeProvider);
        // after the restore: what it put is in the base the first checkpoint writes
        this.incremental = incremental.enabled()
                ? new ZIncrementalSnapshotStrategy<>(tables, keySerializer, ttlPurge::startNoting, incremental.deltaMemoryBytes(), incremental.consolidateRatio())
                : null;
        registerMetrics(parameters.getMetricGroup());
    }

    // ---- keys ------------------------------------------------------------------------------------

    @Override
    public void setCurrentKey(K newKey) {
        super.setCurrentKey(newKey);
        keyBuilder.setKeyAndKeyGroup(getCurrentKey(), getCurrentKeyGroupIndex());
    }

    @Override
    public void setCurrentKeyAndKeyGroup(K newKey, int keyGroupIndex) {
        super.setCurrentKeyAndKeyGroup(newKey, keyGroupIndex);
        keyBuilder.setKeyAndKeyGroup(getCurrentKey(), getCurrentKeyGroupIndex());
    }

    // ---- state registration -----------------------------------------------------------------------

    @Nonnull
    @Override
    @SuppressWarnings({"unchecked", "rawtypes"})
    public <N, SV, SEV, S extends State, IS extends S> IS createOrUpdateInternalState(
            @Nonnull TypeSerializer<N> namespaceSerializer,
            @Nonnull StateDescriptor<S, SV> stateDesc,
            @Nonnull StateSnapshotTransformFactory<SEV> snapshotTransformFactory)
            throws Exception {
        return createOrUpdateInternalState(namespaceSerializer, stateDesc, snapshotTransformFactory, false);
    }

    /**
     * As above; {@code allowFutureMetadataUpdates} (Flink's changelog backend asks for it while it
     * restores, before the job registers the state with its own serializers) lets a later
     * registration replace the state's serializers, as Flink's heap and RocksDB backends do.
     */
    @Nonnull
    @Override
    @SuppressWarnings({"unchecked", "rawtypes"})
    public <N, SV, SEV, S extends State, IS extends S> IS createOrUpdateInternalState(
            @Nonnull TypeSerializer<N> namespaceSerializer,
            @Nonnull StateDescriptor<S, SV> stateDesc,
            @Nonnull StateSnapshotTransformFactory<SEV> snapshotTransformFactory,
            boolean allowFutureMetadataUpdates)
            throws Exception {
        synchronized (store) {
            ZStateInfo info = registerOrUpdate(namespaceSerializer, stateDesc, snapshotTransformFactory,
                    allowFutureMetadataUpdates);
            ttlPurge.register(info.table(), stateDesc);
            AbstractZState<K, ?, ?> state = createdStates.get(stateDesc.getName());
            if (state == null) {
                state = switch (stateDesc.getType()) {
                    case VALUE -> new ZValueState<>(this, info, namespaceSerializer, stateDesc);
                    case LIST -> new ZListState<>(this, info, namespaceSerializer, (StateDescriptor) stateDesc);
                    case MAP -> new ZMapState<>(this, info, namespaceSerializer, (StateDescriptor) stateDesc);
                    case REDUCING -> new ZReducingState<>(this, info, namespaceSerializer, stateDesc);
                    case AGGREGATING -> new ZAggregatingState<>(this, info, namespaceSerializer, stateDesc);
                    default -> throw new FlinkRuntimeException(String.format(
                            "State %s is not supported by %s", stateDesc.getClass(), getClass()));
                };
                createdStates.put(stateDesc.getName(), state);
            } else {
                ((AbstractZState<K, N, SV>) state).reconfigure(info, namespaceSerializer, stateDesc);
            }
            return (IS) state;
        }
    }

    @SuppressWarnings("unchecked")
    private <N, SV, SEV> ZStateInfo registerOrUpdate(
            TypeSerializer<N> namespaceSerializer,
            StateDescriptor<?, SV> stateDesc,
            StateSnapshotTransformFactory<SEV> snapshotTransformFactory,
            boolean allowFutureMetadataUpdates)
            throws Exception {
        ZStateInfo info = kvStates.get(stateDesc.getName());
        if (info == null) {
            RegisteredKeyValueStateBackendMetaInfo<N, SV> meta = new RegisteredKeyValueStateBackendMetaInfo<>(
                    stateDesc.getType(), stateDesc.getName(), namespaceSerializer, stateDesc.getSerializer(),
                    StateSnapshotTransformFactory.noTransform());
            info = new ZStateInfo(store.createTable(stateDesc.getName()), meta);
            kvStates.put(stateDesc.getName(), info);
        } else {
            RegisteredKeyValueStateBackendMetaInfo<N, SV> meta =
                    (RegisteredKeyValueStateBackendMetaInfo<N, SV>) info.meta();
            TypeSerializerSchemaCompatibility<N> namespaceCompatibility =
                    meta.updateNamespaceSerializer(namespaceSerializer);
            if (namespaceCompatibility.isCompatibleAfterMigration() || namespaceCompatibility.isIncompatible()) {
                throw new StateMigrationException("The new namespace serializer (" + namespaceSerializer
                        + ") must be compatible with the old namespace serializer ("
                        + meta.getPreviousNamespaceSerializer() + ") of state " + stateDesc.getName() + ".");
            }
            meta.checkStateMetaInfo(stateDesc);
            TypeSerializerSchemaCompatibility<SV> compatibility = meta.updateStateSerializer(stateDesc.getSerializer());
            if (compatibility.isCompatibleAfterMigration()) {
                new ZStateMigration<>(tables, info, keySerializer, ttlTimeProvider).migrate();
            } else if (compatibility.isIncompatible()) {
                throw new StateMigrationException("The new state serializer (" + stateDesc.getSerializer()
                        + ") must not be incompatible with the old state serializer ("
                        + meta.getPreviousStateSerializer() + ") of state " + stateDesc.getName() + ".");
            }
        }
        if (allowFutureMetadataUpdates) {
            info = new ZStateInfo(info.table(),
                    ((RegisteredKeyValueStateBackendMetaInfo<N, SV>) info.meta()).withSerializerUpgradesAllowed());
            kvStates.put(stateDesc.getName(), info);
        }
        StateSnapshotTransformFactory<SV> transforms = ZSnapshotTransforms.wrap(
                stateDesc, snapshotTransformFactory, (TypeSerializer<SV>) info.meta().getStateSerializer());
        ((RegisteredKeyValueStateBackendMetaInfo<N, SV>) info.meta()).updateSnapshotTransformFactory(transforms);
        return info;
    }

    // ---- timers --------------------------------------------------------------------------------

    @Nonnull
    @Override
    public <T extends HeapPriorityQueueElement & PriorityComparable<? super T> & Keyed<?>>
            KeyGroupedInternalPriorityQueue<T> create(
                    @Nonnull String stateName, @Nonnull TypeSerializer<T> byteOrderedElementSerializer) {
        return pqManager.createOrUpdate(stateName, byteOrderedElementSerializer);
    }

    @Override
    public <T extends HeapPriorityQueueElement & PriorityComparable<? super T> & Keyed<?>>
            KeyGroupedInternalPriorityQueue<T> create(
                    @Nonnull String stateName,
                    @Nonnull TypeSerializer<T> byteOrderedElementSerializer,
                    boolean allowFutureMetadataUpdates) {
        return pqManager.createOrUpdate(stateName, byteOrderedElementSerializer, allowFutureMetadataUpdates);
    }

    // ---- keys of a state ------------------------------------------------------------------------

    @Override
    public <N> Stream<K> getKeys(String state, N namespace) {
        return getKeys(List.of(state), namespace);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <N> Stream<K> getKeys(List<String> states, N namespace) {
        List<ZStateInfo> infos = new ArrayList<>();
        for (String name : states) {
            ZStateInfo info = kvStates.get(name);
            if (info != null) {
                infos.add(info);
            }
        }
        // key-group by key-group, each copied out when the stream reaches it: a key is in one
        // key-group, so distinct per key-group is distinct
        return keyGroups().flatMap(kg -> {
            LinkedHashSet<K> keys = new LinkedHashSet<>();
            for (ZStateInfo info : infos) {
                TypeSerializer<N> namespaceSerializer = (TypeSerializer<N>) info.meta().getNamespaceSerializer();
                ZStateKeysAndNamespaces.forEach(tables, info, kg, keySerializer, namespaceSerializer, (key, ns) -> {
                    if (Objects.equals(ns, namespace)) {
                        keys.add(key);
                    }
                });
            }
            return keys.stream();
        });
    }

    @Override
    @SuppressWarnings("unchecked")
    public <N> Stream<Tuple2<K, N>> getKeysAndNamespaces(String state) {
        ZStateInfo info = kvStates.get(state);
        if (info == null) {
            return Stream.empty();
        }
        TypeSerializer<N> namespaceSerializer = (TypeSerializer<N>) info.meta().getNamespaceSerializer();
        return keyGroups().flatMap(kg -> {
            LinkedHashSet<Tuple2<K, N>> pairs = new LinkedHashSet<>();
            ZStateKeysAndNamespaces.forEach(tables, info, kg, keySerializer, namespaceSerializer,
                    (key, ns) -> pairs.add(Tuple2.of(key, ns)));
            return pairs.stream();
        });
    }

    /** This backend's key-groups, as a lazy stream. */
    private Stream<Integer> keyGroups() {
        return java.util.stream.IntStream.rangeClosed(
                keyGroupRange.getStartKeyGroup(), keyGroupRange.getEndKeyGroup()).boxed();
    }

    // ---- snapshots ------------------------------------------------------------------------------

    @Nonnull
    @Override
    public RunnableFuture<SnapshotResult<KeyedStateHandle>> snapshot(
            long checkpointId,
            long timestamp,
            @Nonnull CheckpointStreamFactory streamFactory,
            @Nonnull CheckpointOptions checkpointOptions)
            throws Exception {
        if (incremental != null && !checkpointOptions.getCheckpointType().isSavepoint()) {
            return new SnapshotStrategyRunner<>(
                            "zstate incremental snapshot", incremental, cancelStreamRegistry,
                            SnapshotExecutionType.ASYNCHRONOUS)
                    .snapshot(checkpointId, timestamp, streamFactory, checkpointOptions);
        }
        return new SnapshotStrategyRunner<>(
                        "zstate full snapshot",
                        new ZFullSnapshotStrategy<>(tables, keySerializer, keyGroupCompressionDecorator,
                                ttlPurge::startNoting),
                        cancelStreamRegistry,
                        SnapshotExecutionType.ASYNCHRONOUS)
                .snapshot(checkpointId, timestamp, streamFactory, checkpointOptions);
    }

    @Nonnull
    @Override
    public SavepointResources<K> savepoint() throws Exception {
        return new SavepointResources<>(
                ZFullSnapshotResources.create(tables, keySerializer, keyGroupCompressionDecorator, null),
                SnapshotExecutionType.ASYNCHRONOUS);
    }

    /**
     * The entries a checkpoint found expired are cleaned now (TTL background cleanup, {@link
     * ZTtlPurge}: full snapshots and incremental bases walk the state); with incremental
     * checkpoints, later deltas build on this checkpoint's files.
     */
    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        Map<Integer, AbstractZState<?, ?, ?>> byTable = new HashMap<>();
        for (AbstractZState<K, ?, ?> state : createdStates.values()) {
            byTable.put(state.info.table(), state);
        }
        ttlPurge.checkpointComplete(checkpointId, byTable);
        if (incremental != null) {
            incremental.checkpointComplete(checkpointId);
        }
    }

    @Override
    public void notifyCheckpointAborted(long checkpointId) {
        ttlPurge.checkpointAborted(checkpointId);
        if (incremental != null) {
            incremental.checkpointAborted(checkpointId);
        }
    }


    @Override
    public String getBackendTypeIdentifier() {
        return "zstate";
    }

    @Override
    public boolean isSafeToReuseKVState() {
        return false;
    }

    @Override
    public int numKeyValueStateEntries() {
        int[] count = {0};
        synchronized (store) {
            for (ZStateInfo info : kvStates.values()) {
                for (int kg = keyGroupRange.getStartKeyGroup(); kg <= keyGroupRange.getEndKeyGroup(); kg++) {
                    store.forEachInKeyGroup(info.table(), kg, (k, ko, kl, v, vo, vl) -> count[0]++);
                }
            }
        }
        return count[0];
    }

    // ---- metrics and lifecycle ----------------------------------------------------------------------

    private void registerMetrics(MetricGroup parent) {
        if (parent == null) {
            return;
        }
        MetricGroup group = parent.addGroup("zstate");
        ZStateMetrics.register(group, this::stats);
        SlotMemory slot = slotMemory();
        if (slot != null) { // the slot's reaper thread, shared by the slot's backends
            group.gauge("reaperCpuNanos", (org.apache.flink.metrics.Gauge<Long>) slot.reaper()::cpuNanos);
            group.gauge("reaperPagesCompressed", (org.apache.flink.metrics.Gauge<Long>) slot.reaper()::pagesCompressed);
            group.gauge("reaperPagesWrittenBack", (org.apache.flink.metrics.Gauge<Long>) slot.reaper()::pagesWrittenBack);
            group.gauge("reaperThrottledNanos", (org.apache.flink.metrics.Gauge<Long>) slot.reaper()::throttledNanos);
        }
        if (incremental != null) {
            group.gauge("checkpointBases", (org.apache.flink.metrics.Gauge<Long>) incremental::basesWritten);
            group.gauge("checkpointDeltas", (org.apache.flink.metrics.Gauge<Long>) incremental::deltasWritten);
            group.gauge("deltaLogHeapBytes", (org.apache.flink.metrics.Gauge<Long>) incremental::heapBytes);
        }
    }

    private PageStoreStats statsCache;
    private long statsCachedAt;

    /**
     * The page store's counters for metrics: computing them walks the page table, so one result
     * serves every gauge of a report (reused for up to a second).
     */
    PageStoreStats stats() {
        synchronized (store) {
            long now = System.nanoTime();
            if (statsCache == null || now - statsCachedAt > 1_000_000_000L) {
                statsCache = store.stats();
                statsCachedAt = now;
            }
            return statsCache;
        }
    }

    /**
     * The page store's counters as they are now (walks the page table: for reports and
     * benchmarks, not for per-record use). Public for {@link ZStateLocalStats#of}.
     */
    public PageStoreStats pageStoreStats() {
        synchronized (store) {
            return store.stats();
        }
    }

    /** The zsmalloc chain size of this backend's pool; 0 for other allocators. */
    int poolChainSize() {
        synchronized (store) {
            return store.poolChainSize();
        }
    }

    /** Whether this backend's pages move to zstd with a trained dictionary (page-compression zstd). */
    boolean compressesWithZstd() {
        synchronized (store) {
            return store.dictionary() != null;
        }
    }

    /** The slot's shared zstate memory this backend draws from; null with a hand-sized pool (tests). */
    SlotMemory slotMemory() {
        return sharedMemory == null ? null : sharedMemory.getResourceHandle();
    }

    @Override
    public void dispose() {
        if (disposed) {
            return;
        }
        disposed = true;
        // every step runs even if an earlier one throws: the pool's unsafe arenas have no cleaner,
        // so a skipped close would leak them until the TaskManager exits, once per failover
        Throwable failure = null;
        try {
            super.dispose();
        } catch (Throwable t) {
            failure = t;
        }
        try {
            synchronized (store) {
                store.close();
                if (ZStateLocalStats.isEnabled()) {
                    // a closed store answers the counters it took at close: no second page-table walk
                    ZStateLocalStats.record(spillParent.getFileName().toString(), store.stats());
                }
            }
        } catch (Throwable t) {
            failure = addTo(failure, t);
        }
        // the managed memory and the spill directory go once the pool's frames are released: now,
        // or when the last snapshot still being written closes its view (on its thread)
        Runnable releaseMemory = () -> {
            if (sharedMemory != null) {
                try {
                    sharedMemory.close();
                } catch (Exception e) {
                    throw new FlinkRuntimeException("Could not release the zstate pool's managed memory.", e);
                }
            }
            io.zstate.pagestore.SpillDirectories.deleteQuietly(spillParent);
        };
        try {
            synchronized (store) {
                store.whenReleased(releaseMemory);
            }
        } catch (Throwable t) {
            failure = addTo(failure, t);
        }
        createdStates.clear();
        kvStates.clear();
        pqStates.clear();
        if (failure instanceof Error) {
            throw (Error) failure;
        }
        if (failure != null) {
            throw failure instanceof RuntimeException ? (RuntimeException) failure
                    : new FlinkRuntimeException("Could not dispose the zstate keyed backend.", failure);
        }
    }

    private static Throwable addTo(Throwable first, Throwable next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }
}

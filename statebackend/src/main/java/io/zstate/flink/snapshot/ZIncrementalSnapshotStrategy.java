package io.zstate.flink.snapshot;

import io.zstate.flink.ZStateTables;
import io.zstate.flink.ZStateTables.ZStateInfo;
import io.zstate.flink.iterator.ExpiredEntries;
import io.zstate.flink.snapshot.IncrementalFormat.FileRef;
import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.delta.DeltaLog;
import io.zstate.pagestore.delta.FrozenDeltas;
import io.zstate.pagestore.snapshot.FrozenView;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.LongFunction;
import javax.annotation.Nonnull;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.memory.DataOutputViewStreamWrapper;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.SnapshotType;
import org.apache.flink.runtime.state.CheckpointStateOutputStream;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointStreamWithResultProvider;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.FullSnapshotAsyncWriter;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeOffsets;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedBackendSerializationProxy;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResources;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategy;
import org.apache.flink.runtime.state.StateUtil;
import org.apache.flink.runtime.state.StreamCompressionDecorator;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.util.function.ThrowingConsumer;

/**
 * Incremental checkpoints ({@code execution.checkpointing.incremental: true}): a full base now
 * and then, and in between a delta of the entries written since the last <em>completed</em>
 * checkpoint, both as shared files of Flink's {@link IncrementalRemoteKeyedStateHandle} (the
 * layouts: {@link IncrementalFormat}).
 *
 * <pre>
 * Recording: the page store records every write in a DeltaLog (each key once, its newest value).
 *
 * Synchronous part (task thread, store lock): the log is frozen (its records become checkpoint
 * N's) and kept until a checkpoint at or after N completes; once the kind is chosen (below, still
 * on the task thread, before it changes the store again), the store is frozen too if this
 * checkpoint writes a base (no copy; the write buffer's waiting writes stay waiting, as every
 * freeze leaves them: the base writes them as a delta file of its own beside its page images,
 * which the restore replays as it replays any delta).
 *
 * Which kind (asyncSnapshot, task thread):
 *   delta  if a completed checkpoint C is known, every log since C is kept (none gave up, none
 *          dropped for memory), the deltas since C's base are under consolidate-ratio of it, and
 *          Flink lets this checkpoint share files backward (FORWARD_BACKWARD);
 *          writes one new file: the logs of C+1 .. N in order (a log of a checkpoint that did
 *          not complete is written again), and refers to C's files for the rest
 *   base   otherwise: the frozen store's pages as they are stored, per key-group and state
 *          (page images, without timers: placed into the pool on restore), one new file
 *
 * A delta on C is written only if every checkpoint in flight after C is a delta on C too (one
 * that completes first subsumes C, and the JobManager deletes C's files that it does not refer
 * to); the files of C go to Flink as placeholders, as RocksDB sends its reused SST files.
 *
 * notifyCheckpointComplete(N): N's files become the chain later deltas build on; the logs up to
 * N are dropped. notifyCheckpointAborted(N): N's files are never referred to.
 * </pre>
 *
 * Timers: the heap timer queues are written whole in every checkpoint, a private file in the
 * canonical layout (as a full snapshot holds them; RocksDB with heap timers has Flink write them
 * to raw keyed state, every checkpoint too). Savepoints are not taken here: they are canonical
 * full snapshots.
 *
 * <p>Threads: the log, the kept logs and the choice of kind are the task thread's, under the
 * store's lock; the chains (written by the asynchronous part, read by the task thread) are
 * guarded by this object. Lock order: store, then this. Files of a failed asynchronous part are
 * discarded before it throws.
 */
public final class ZIncrementalSnapshotStrategy<K>
        implements SnapshotStrategy<KeyedStateHandle, ZIncrementalSnapshotStrategy.Resources<K>> {

    private final ZStateTables tables;
    private final TypeSerializer<K> keySerializer;
    private final LongFunction<ExpiredEntries> expired;
    private final double consolidateRatio;
    private final long deltaMemoryBytes;
    private final UUID backendId = UUID.randomUUID();
    /**
     * Timers and deltas are Snappy-compressed, bases zstd-compressed, whatever {@code
     * execution.snapshot-compression} says, as RocksDB compresses the SST files of its incremental
     * checkpoints.
     */
    private static final StreamCompressionDecorator COMPRESSION =
            org.apache.flink.runtime.state.SnappyStreamCompressionDecorator.INSTANCE;

    // task thread, under the store's lock
    private final DeltaLog log;
    private final TreeMap<Long, FrozenDeltas> keptLogs = new TreeMap<>();
    /** Logs of checkpoints from this id on are all kept (the logs before were dropped or gave up). */
    private long logsFrom;

    private final java.util.concurrent.atomic.AtomicLong basesWritten = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong deltasWritten = new java.util.concurrent.atomic.AtomicLong();

    // guarded by this
    private Chain completed;
    private final TreeMap<Long, Chain> written = new TreeMap<>();
    /**
     * Checkpoints decided and not yet completed, aborted or subsumed: the completed checkpoint
     * each delta builds on, or {@link #NO_PARENT} for a base. A delta may build on C only if every one
     * of these after C builds on C too: one that completes first subsumes C, and the JobManager
     * deletes the files of C that it does not refer to.
     */
    private final TreeMap<Long, Long> inFlight = new TreeMap<>();
    private static final long NO_PARENT = -1;

    /**
     * The files one checkpoint refers to, in order (base first), with the base's key-group offsets
     * and sizes: what a later delta builds on.
     */
    record Chain(long checkpointId, List<HandleAndLocalPath> files, List<FileRef> refs,
            KeyGroupRangeOffsets baseOffsets, long baseBytes, long deltaBytes) {}

    /**
     * Starts recording the store's writes. Internal: for {@code io.zstate.flink.ZKeyedStateBackend}.
     *
     * @param deltaMemoryBytes heap for the logs kept (past it, the next checkpoint is a base)
     * @param consolidateRatio deltas since the base, as a share of it, past which a base is written
     */
    public ZIncrementalSnapshotStrategy(ZStateTables tables, TypeSerializer<K> keySerializer,
            LongFunction<ExpiredEntries> expired, long deltaMemoryBytes,
            double consolidateRatio) {
        this.tables = tables;
        this.keySerializer = keySerializer;
        this.expired = expired;
        this.deltaMemoryBytes = deltaMemoryBytes;
        this.consolidateRatio = consolidateRatio;
        this.log = new DeltaLog(deltaMemoryBytes);
        synchronized (tables.store()) {
            tables.store().recordChangesIn(log);
        }
    }

    @Override
    public Resources<K> syncPrepareResources(long checkpointId) {
        PageStore store = tables.store();
        synchronized (store) {
            keep(checkpointId, log.freeze());
            ZFullSnapshotResources<K> full = ZFullSnapshotResources.create(
                    tables, keySerializer, COMPRESSION, expired.apply(checkpointId), true, false, false);
            try {
                return prepare(checkpointId, full);
            } catch (RuntimeException | Error e) {
                full.release(); // an epoch nobody owns would pin every later write
                throw e;
            }
        }
    }

    private Resources<K> prepare(long checkpointId, ZFullSnapshotResources<K> full) {
        ZFullSnapshotResources<K> timers = tables.queues().isEmpty() ? null
                : ZFullSnapshotResources.create(tables, keySerializer, COMPRESSION, null, false, true);
        Chain base;
        synchronized (this) {
            base = completed;
        }
        List<FrozenDeltas> since = null;
        if (base != null && base.checkpointId() + 1 >= logsFrom
                && base.deltaBytes() < consolidateRatio * base.baseBytes()) {
            since = new ArrayList<>(keptLogs.subMap(base.checkpointId(), false, checkpointId, true).values());
        }
        List<ZStateInfo> states = new ArrayList<>(tables.states());
        int tablesCount = 0;
        for (ZStateInfo info : states) {
            tablesCount = Math.max(tablesCount, info.table() + 1);
        }
        int[] stateOfTable = new int[tablesCount];
        java.util.Arrays.fill(stateOfTable, -1);
        for (int i = 0; i < states.size(); i++) {
            stateOfTable[states.get(i).table()] = i;
        }
        return new Resources<>(full, timers, base, since, stateOfTable);
    }

    /** Keeps a frozen log until a checkpoint that includes it completes (or gives up on deltas). */
    private void keep(long checkpointId, FrozenDeltas frozen) {
        long held = frozen.liveBytes();
        for (FrozenDeltas kept : keptLogs.values()) {
            held += kept.liveBytes();
        }
        if (!frozen.isComplete() || held > deltaMemoryBytes) {
            keptLogs.clear(); // no delta can be built across this checkpoint: the next must be a base
            logsFrom = checkpointId + 1;
            return;
        }
        keptLogs.put(checkpointId, frozen);
    }

    @Override
    public SnapshotResultSupplier<KeyedStateHandle> asyncSnapshot(
            Resources<K> resources,
            long checkpointId,
            long timestamp,
            @Nonnull CheckpointStreamFactory streamFactory,
            @Nonnull CheckpointOptions checkpointOptions) {
        if (resources.full.getMetaInfoSnapshots().isEmpty() && resources.timers == null) {
            resources.release();
            return registry -> SnapshotResult.empty();
        }
        SnapshotType.SharingFilesStrategy sharing = checkpointOptions.getCheckpointType().getSharingFilesStrategy();
        CheckpointedStateScope scope = sharing == SnapshotType.SharingFilesStrategy.NO_SHARING
                ? CheckpointedStateScope.EXCLUSIVE : CheckpointedStateScope.SHARED;
        boolean delta = resources.since != null && sharing == SnapshotType.SharingFilesStrategy.FORWARD_BACKWARD;
        if (delta) {
            for (HandleAndLocalPath file : resources.base.files()) {
                delta &= streamFactory.couldReuseStateHandle(file.getHandle());
            }
        }
        boolean remember = sharing != SnapshotType.SharingFilesStrategy.NO_SHARING;
        synchronized (this) {
            if (delta) {
                long on = resources.base.checkpointId();
                for (long parent : inFlight.subMap(on, false, checkpointId, false).values()) {
                    delta &= parent == on; // else one of them may complete first and C's files go
                }
            }
            if (remember) {
                inFlight.put(checkpointId, delta ? resources.base.checkpointId() : NO_PARENT);
            }
        }
        if (delta) { // a delta reads only the logs: the store is not frozen
            return registry -> writeDelta(resources, checkpointId, checkpointOptions, streamFactory, registry);
        }
        try { // the instant of syncPrepareResources: Flink calls this right after it, on the task thread
            resources.full.freezeStore(tables.store());
        } catch (RuntimeException | Error e) {
            synchronized (this) {
                inFlight.remove(checkpointId);
            }
            resources.release();
            throw e;
        }
        return registry -> writeBase(resources, checkpointId, checkpointOptions, scope, streamFactory, registry,
                remember);
    }

    /**
     * Writes a delta file of the records {@code records} writes (then the end mark); returns its
     * handle.
     */
    private StreamStateHandle writeDeltaFile(Resources<K> resources, CheckpointStreamFactory streamFactory,
            CloseableRegistry registry, ThrowingConsumer<DataOutputViewStreamWrapper, IOException> records)
            throws Exception {
        return writeStream(streamFactory, CheckpointedStateScope.SHARED, registry, stream -> {
            DataOutputViewStreamWrapper header = new DataOutputViewStreamWrapper(stream);
            IncrementalFormat.writeDeltaHeader(header);
            List<StateMetaInfoSnapshot> metas = resources.full.getMetaInfoSnapshots();
            new KeyedBackendSerializationProxy<>(keySerializer, metas, true).write(header);
            try (java.io.OutputStream compressed = COMPRESSION.decorateWithCompression(stream)) {
                DataOutputViewStreamWrapper out = new DataOutputViewStreamWrapper(compressed);
                records.accept(out);
                IncrementalFormat.writeEnd(out);
            }
        });
    }

    /** The write buffer's waiting writes of a frozen store as delta records (the ops are the delta's). */
    private static void writeWaitingWrites(FrozenView frozen, int[] stateOfTable, DataOutputViewStreamWrapper out)
            throws IOException {
        IOException[] failed = new IOException[1];
        frozen.forEachWaitingWrite((op, table, keyGroup, bytes, keyOffset, keyLength, prefixLength, valueOffset,
                valueLength) -> {
            if (failed[0] != null) {
                return;
            }
            byte deltaOp = switch (op) {
                case io.zstate.pagestore.WriteVisitor.PUT -> DeltaLog.PUT;
                case io.zstate.pagestore.WriteVisitor.APPEND -> DeltaLog.APPEND;
                case io.zstate.pagestore.WriteVisitor.REMOVE -> DeltaLog.DELETE;
                default -> throw new IllegalStateException("a waiting write of unknown kind " + op);
            };
            try {
                IncrementalFormat.writeRecord(out, deltaOp, stateOfTable[table], keyGroup, bytes, keyOffset,
                        keyLength, prefixLength, valueOffset, valueLength);
            } catch (IOException e) {
                failed[0] = e;
            }
        });
        if (failed[0] != null) {
            throw failed[0];
        }
    }

    private SnapshotResult<KeyedStateHandle> writeBase(Resources<K> resources, long checkpointId,
            CheckpointOptions options, CheckpointedStateScope scope, CheckpointStreamFactory streamFactory,
            CloseableRegistry registry, boolean remember) throws Exception {
        KeyGroupRange range = tables.keyGroupRange();
        long[] offsets = new long[range.getNumberOfKeyGroups()];
        StreamStateHandle base = writeStream(streamFactory, scope, registry, stream -> {
            FrozenView frozen = resources.full.frozenView();
            int[] tableIds = resources.full.tableIds();
            DataOutputViewStreamWrapper out = new DataOutputViewStreamWrapper(stream);
            IncrementalFormat.writePageBaseHeader(out, frozen.pageSize());
            new KeyedBackendSerializationProxy<>(keySerializer, resources.full.getMetaInfoSnapshots(), true).write(out);
            for (int kg = range.getStartKeyGroup(); kg <= range.getEndKeyGroup(); kg++) {
                offsets[kg - range.getStartKeyGroup()] = stream.getPos();
                try (java.io.OutputStream compressed = ZstdStreamCompressionDecorator.INSTANCE.decorateWithCompression(stream)) {
                    DataOutputViewStreamWrapper images = new DataOutputViewStreamWrapper(compressed);
                    for (int state = 0; state < tableIds.length; state++) {
                        if (frozen.hasPages(tableIds[state], kg)) {
                            IncrementalFormat.writeImageOf(images, state);
                            frozen.writePages(tableIds[state], kg, images);
                        }
                    }
                    IncrementalFormat.writeKeyGroupEnd(images);
                }
            }
        });
        StreamStateHandle waiting = null;
        try {
            FrozenView frozen = resources.full.frozenView();
            String name = "zstate-base-" + checkpointId + "-" + UUID.randomUUID();
            List<HandleAndLocalPath> files = new ArrayList<>(List.of(HandleAndLocalPath.of(base, name)));
            List<FileRef> refs = new ArrayList<>(List.of(new FileRef(name, IncrementalFormat.PAGE_BASE)));
            long waitingBytes = 0;
            if (frozen.hasWaitingWrites()) { // the writes its pages do not hold, replayed on restore
                waiting = writeDeltaFile(resources, streamFactory, registry,
                        out -> writeWaitingWrites(frozen, resources.stateOfTable, out));
                String waitingName = "zstate-waiting-" + checkpointId + "-" + UUID.randomUUID();
                files.add(HandleAndLocalPath.of(waiting, waitingName));
                refs.add(new FileRef(waitingName, IncrementalFormat.DELTA));
                waitingBytes = waiting.getStateSize();
            }
            Chain chain = new Chain(checkpointId, List.copyOf(files), List.copyOf(refs),
                    new KeyGroupRangeOffsets(range, offsets), base.getStateSize(), waitingBytes);
            SnapshotResult<KeyedStateHandle> result = finish(chain, resources, checkpointId,
                    base.getStateSize() + waitingBytes, options, streamFactory, registry, remember, Set.of());
            basesWritten.incrementAndGet();
            return result;
        } catch (Exception | Error e) {
            StateUtil.discardStateObjectQuietly(base);
            if (waiting != null) {
                StateUtil.discardStateObjectQuietly(waiting);
            }
            throw e;
        }
    }

    private SnapshotResult<KeyedStateHandle> writeDelta(Resources<K> resources, long checkpointId,
            CheckpointOptions options, CheckpointStreamFactory streamFactory, CloseableRegistry registry)
            throws Exception {
        Chain base = resources.base;
        StreamStateHandle delta = writeDeltaFile(resources, streamFactory, registry, out -> {
            int[] stateOfTable = resources.stateOfTable;
            for (FrozenDeltas frozen : resources.since) {
                frozen.forEach((op, table, keyGroup, bytes, keyOffset, keyLength, prefixLength, valueOffset,
                        valueLength) -> IncrementalFormat.writeRecord(out, op, stateOfTable[table], keyGroup,
                        bytes, keyOffset, keyLength, prefixLength, valueOffset, valueLength));
            }
        });
        try {
            String name = "zstate-delta-" + checkpointId + "-" + UUID.randomUUID();
            List<HandleAndLocalPath> files = new ArrayList<>(base.files());
            files.add(HandleAndLocalPath.of(delta, name));
            List<FileRef> refs = new ArrayList<>(base.refs());
            refs.add(new FileRef(name, IncrementalFormat.DELTA));
            Chain chain = new Chain(checkpointId, List.copyOf(files), List.copyOf(refs), base.baseOffsets(),
                    base.baseBytes(), base.deltaBytes() + delta.getStateSize());
            java.util.Set<String> reused = new java.util.HashSet<>();
            for (HandleAndLocalPath file : base.files()) {
                reused.add(file.getLocalPath());
            }
            SnapshotResult<KeyedStateHandle> result = finish(chain, resources, checkpointId, delta.getStateSize(),
                    options, streamFactory, registry, true, reused);
            deltasWritten.incrementAndGet();
            return result;
        } catch (Exception | Error e) {
            StateUtil.discardStateObjectQuietly(delta);
            throw e;
        }
    }

    /**
     * Writes the timers (if any) and the meta file, and the handle; remembers the chain for later
     * deltas.
     */
    private SnapshotResult<KeyedStateHandle> finish(Chain chain, Resources<K> resources, long checkpointId,
            long newBytes, CheckpointOptions options, CheckpointStreamFactory streamFactory,
            CloseableRegistry registry, boolean remember, java.util.Set<String> reused) throws Exception {
        KeyGroupsStateHandle timers = null;
        if (resources.timers != null) {
            timers = (KeyGroupsStateHandle) new FullSnapshotAsyncWriter<>(options.getCheckpointType(),
                    () -> CheckpointStreamWithResultProvider.createSimpleStream(CheckpointedStateScope.EXCLUSIVE,
                            streamFactory), resources.timers).get(registry).getJobManagerOwnedSnapshot();
        }
        KeyGroupsStateHandle writtenTimers = timers;
        StreamStateHandle meta;
        try {
            meta = writeStream(streamFactory, CheckpointedStateScope.EXCLUSIVE, registry,
                    stream -> IncrementalFormat.writeMeta(new DataOutputViewStreamWrapper(stream), chain.refs(),
                            chain.baseOffsets(),
                            writtenTimers == null ? null : writtenTimers.getGroupRangeOffsets()));
        } catch (Exception | Error e) {
            if (timers != null) {
                StateUtil.discardStateObjectQuietly(timers);
            }
            throw e;
        }
        // files of earlier checkpoints go as placeholders, as RocksDB sends its reused SST files:
        // the JobManager puts its registered handle in their place, never takes them for this
        // checkpoint's own (a discarded, never completed checkpoint deletes only its own files),
        // and fails the checkpoint loudly if one is no longer registered
        List<HandleAndLocalPath> shared = new ArrayList<>();
        List<StreamStateHandle> reusedHandles = new ArrayList<>();
        for (HandleAndLocalPath file : chain.files()) {
            StreamStateHandle handle = file.getHandle();
            if (reused.contains(file.getLocalPath())) {
                reusedHandles.add(handle);
                handle = new org.apache.flink.runtime.state.PlaceholderStreamStateHandle(
                        handle.getStreamStateHandleID(), handle.getStateSize(),
                        org.apache.flink.runtime.checkpoint.filemerging.FileMergingSnapshotManager
                                .isFileMergingHandle(handle));
            }
            shared.add(HandleAndLocalPath.of(handle, file.getLocalPath()));
        }
        List<HandleAndLocalPath> privateFiles = timers == null ? List.of()
                : List.of(HandleAndLocalPath.of(timers.getDelegateStateHandle(), IncrementalFormat.TIMERS));
        long timerBytes = timers == null ? 0 : timers.getStateSize();
        IncrementalRemoteKeyedStateHandle handle = new IncrementalRemoteKeyedStateHandle(backendId,
                tables.keyGroupRange(), checkpointId, shared, privateFiles, meta,
                newBytes + timerBytes + meta.getStateSize());
        if (remember) {
            synchronized (this) {
                if (inFlight.containsKey(checkpointId)) { // not aborted or subsumed meanwhile
                    written.put(checkpointId, chain);
                }
            }
        }
        streamFactory.reusePreviousStateHandle(reusedHandles);
        return SnapshotResult.of(handle);
    }

    /** What a file's writer does with the stream. */
    @FunctionalInterface
    private interface Writer {
        void write(CheckpointStateOutputStream stream) throws Exception;
    }

    private static StreamStateHandle writeStream(CheckpointStreamFactory streamFactory, CheckpointedStateScope scope,
            CloseableRegistry registry, Writer writer) throws Exception {
        CheckpointStateOutputStream stream = streamFactory.createCheckpointStateOutputStream(scope);
        registry.registerCloseable(stream);
        try {
            writer.write(stream);
        } catch (Exception | Error e) {
            if (registry.unregisterCloseable(stream)) {
                org.apache.flink.util.IOUtils.closeQuietly(stream); // deletes what was written
            }
            throw e;
        }
        if (!registry.unregisterCloseable(stream)) {
            throw new java.io.IOException("the checkpoint was cancelled while its file was written");
        }
        StreamStateHandle handle = stream.closeAndGetHandle();
        if (handle == null) {
            throw new java.io.IOException("the checkpoint stream returned no handle for a file it wrote");
        }
        return handle;
    }

    /** Checkpoint {@code checkpointId} completed: later deltas build on its files. */
    public void checkpointComplete(long checkpointId) {
        synchronized (tables.store()) {
            synchronized (this) {
                inFlight.headMap(checkpointId, true).clear(); // it subsumes every one before it
                Chain chain = written.get(checkpointId);
                if (chain == null || (completed != null && completed.checkpointId() >= checkpointId)) {
                    return; // a savepoint, a checkpoint that wrote nothing, or news already superseded
                }
                completed = chain;
                written.headMap(checkpointId, true).clear();
            }
            keptLogs.headMap(checkpointId, true).clear();
        }
    }

    /** Checkpoint {@code checkpointId} was aborted: its files are never referred to. */
    public synchronized void checkpointAborted(long checkpointId) {
        written.remove(checkpointId);
        inFlight.remove(checkpointId);
    }

    /** Bases written so far (full ones: the first, after consolidation or overflow). */
    public long basesWritten() {
        return basesWritten.get();
    }

    /** Deltas written so far. */
    public long deltasWritten() {
        return deltasWritten.get();
    }

    /** Heap the kept logs and the live one hold (for the metrics). */
    public long heapBytes() {
        synchronized (tables.store()) {
            long bytes = log.heapBytes();
            for (FrozenDeltas kept : keptLogs.values()) {
                bytes += kept.heapBytes();
            }
            return bytes;
        }
    }

    /**
     * What one checkpoint holds between its parts: the frozen store (released at once if the
     * checkpoint is a delta) and, for a delta, the logs to write and the chain it builds on.
     */
    public static final class Resources<K> implements SnapshotResources {
        final ZFullSnapshotResources<K> full;
        final ZFullSnapshotResources<K> timers; // null: no timer queues
        final Chain base;
        final Collection<FrozenDeltas> since; // null: no delta possible
        final int[] stateOfTable;
        private boolean storeReleased;

        Resources(ZFullSnapshotResources<K> full, ZFullSnapshotResources<K> timers, Chain base,
                Collection<FrozenDeltas> since, int[] stateOfTable) {
            this.full = full;
            this.timers = timers;
            this.base = base;
            this.since = since;
            this.stateOfTable = stateOfTable;
        }

        synchronized void releaseFrozenStore() {
            if (!storeReleased) {
                storeReleased = true;
                full.release();
            }
        }

        @Override
        public void release() {
            releaseFrozenStore();
        }
    }
}

package io.zstate.flink.restore;

import io.zstate.flink.ZStateTables;
import io.zstate.flink.ZStateTables.ZStateInfo;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.StateSerializerProvider;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.runtime.state.restore.FullSnapshotRestoreOperation;
import org.apache.flink.runtime.state.restore.KeyGroup;
import org.apache.flink.runtime.state.restore.KeyGroupEntry;
import org.apache.flink.runtime.state.restore.SavepointRestoreResult;
import org.apache.flink.runtime.state.restore.ThrowingIterator;
import org.apache.flink.util.StateMigrationException;

/**
 * Restores a keyed backend from full snapshots in the canonical layout (zstate's own full
 * checkpoints and canonical savepoints of any backend; their key and value bytes are the layout
 * zstate stores, so each entry is one put) and from zstate's incremental checkpoints (a base of
 * pages placed as they were stored, or in the canonical layout before format 3, and deltas
 * replayed onto it: {@link ZIncrementalRestore}). Several handles (scaling in) and key-group ranges other than
 * the snapshot's (scaling) are handled by Flink's reader, which yields only this backend's
 * key-groups.
 *
 * <p>Owns the reading of the handles and where each restored entry goes: key-value entries into
 * their page-store tables, timers into their heap queues, both registered in {@link
 * ZStateTables}. Must not touch a backend: it runs before one exists (see {@code
 * ZKeyedStateBackendBuilder}), and migrates nothing (that happens when the job registers a state,
 * {@link ZStateMigration}).
 */
public final class ZRestoreOperation<K> {

    private final ZStateTables tables;
    private final ClassLoader userClassLoader;
    private final StateSerializerProvider<K> keySerializer;

    /**
     * A restore into {@code tables}, with the key serializer the job registered. Internal: for
     * {@code io.zstate.flink.ZKeyedStateBackendBuilder}.
     */
    public ZRestoreOperation(ZStateTables tables, TypeSerializer<K> keySerializer, ClassLoader userClassLoader) {
        this.tables = tables;
        this.userClassLoader = userClassLoader;
        this.keySerializer = StateSerializerProvider.fromNewRegisteredSerializer(keySerializer);
    }

    /**
     * Restores the handles; returns the key serializer to use from now on (the registered one,
     * or its reconfiguration if the restored snapshot calls for one).
     */
    public TypeSerializer<K> restore(Collection<KeyedStateHandle> stateHandles) throws Exception {
        List<KeyedStateHandle> handles = new ArrayList<>();
        List<IncrementalRemoteKeyedStateHandle> incremental = new ArrayList<>();
        for (KeyedStateHandle handle : stateHandles) {
            if (handle == null) {
                continue;
            }
            if (handle instanceof IncrementalRemoteKeyedStateHandle remote) {
                incremental.add(remote);
                continue;
            }
            if (!(handle instanceof KeyGroupsStateHandle)) {
                throw new StateMigrationException("zstate restores its own checkpoints (full and incremental) and"
                        + " canonical savepoints, but got a " + handle.getClass().getSimpleName() + ". Take a canonical"
                        + " savepoint with the previous backend (the default savepoint format) and restore from it.");
            }
            handles.add(handle);
        }
        ZIncrementalRestore incrementalRestore = new ZIncrementalRestore(tables, userClassLoader);
        List<ZIncrementalRestore.Plan> plans = new ArrayList<>();
        for (IncrementalRemoteKeyedStateHandle handle : incremental) {
            ZIncrementalRestore.Plan plan = incrementalRestore.plan(handle);
            plans.add(plan);
            handles.addAll(plan.fullSnapshots());
        }
        // one reader for every canonical file (timers put no page: a page base can still be placed)
        restoreFull(handles);
        keySerializerChecked |= !handles.isEmpty(); // Flink's reader settled it
        for (ZIncrementalRestore.Plan plan : plans) {
            if (plan.hasPageBase()) {
                incrementalRestore.restorePageBase(plan, this::checkKeySerializer,
                        keySerializer.currentSchemaSerializer());
            }
        }
        for (ZIncrementalRestore.Plan plan : plans) {
            plan.replayDeltas();
        }
        return keySerializer.currentSchemaSerializer();
    }

    /** Whether the key serializer was checked against a snapshot's (once per restore). */
    private boolean keySerializerChecked;

    /**
     * Checks the job's key serializer against the one a snapshot was written with (as Flink's
     * full-snapshot reader does for canonical files), once.
     */
    private void checkKeySerializer(org.apache.flink.runtime.state.KeyedBackendSerializationProxy<?> proxy)
            throws StateMigrationException {
        if (keySerializerChecked) {
            return;
        }
        TypeSerializer<K> current = keySerializer.currentSchemaSerializer();
        @SuppressWarnings("unchecked")
        org.apache.flink.api.common.typeutils.TypeSerializerSnapshot<K> previous =
                (org.apache.flink.api.common.typeutils.TypeSerializerSnapshot<K>) proxy.getKeySerializerSnapshot();
        org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility<K> compatibility =
                keySerializer.setPreviousSerializerSnapshotForRestoredState(previous);
        if (compatibility.isCompatibleAfterMigration() || compatibility.isIncompatible()) {
            throw new StateMigrationException("The new key serializer (" + current + ") must be compatible with the"
                    + " previous key serializer (" + keySerializer.previousSchemaSerializer() + ").");
        }
        keySerializerChecked = true;
    }

    /** Restores full snapshots in the canonical layout (an incremental checkpoint's base is one). */
    private void restoreFull(List<KeyedStateHandle> handles) throws Exception {
        if (handles.isEmpty()) {
            return;
        }
        FullSnapshotRestoreOperation<K> operation =
                new FullSnapshotRestoreOperation<>(tables.keyGroupRange(), userClassLoader, handles, keySerializer);
        try (ThrowingIterator<SavepointRestoreResult> results = operation.restore()) {
            while (results.hasNext()) {
                restore(results.next());
            }
        }
    }

    private void restore(SavepointRestoreResult result) throws Exception {
        List<StateMetaInfoSnapshot> metas = result.getStateMetaInfoSnapshots();
        ZStateInfo[] states = new ZStateInfo[metas.size()];
        HeapPriorityQueueSnapshotRestoreWrapper<?>[] queues =
                new HeapPriorityQueueSnapshotRestoreWrapper<?>[metas.size()];
        for (int id = 0; id < metas.size(); id++) {
            StateMetaInfoSnapshot meta = metas.get(id);
            switch (meta.getBackendStateType()) {
                case KEY_VALUE, KEY_VALUE_V2 -> states[id] = tables.registerRestored(keyValueMetaInfo(meta), meta);
                case PRIORITY_QUEUE -> queues[id] = tables.registerRestoredQueue(meta);
                default -> throw new IllegalStateException(
                        "Unexpected state type " + meta.getBackendStateType() + " of state " + meta.getName());
            }
        }
        DataInputDeserializer in = new DataInputDeserializer();
        try (ThrowingIterator<KeyGroup> keyGroups = result.getRestoredKeyGroups()) {
            while (keyGroups.hasNext()) {
                KeyGroup keyGroup = keyGroups.next();
                int kg = keyGroup.getKeyGroupId();
                try (ThrowingIterator<KeyGroupEntry> entries = keyGroup.getKeyGroupEntries()) {
                    while (entries.hasNext()) {
                        KeyGroupEntry entry = entries.next();
                        int id = entry.getKvStateId();
                        byte[] key = entry.getKey();
                        if (queues[id] != null) {
                            in.setBuffer(key);
                            in.skipBytesToRead(tables.keyGroupPrefixBytes());
                            addToQueue(queues[id], in);
                        } else {
                            ZStateInfo info = states[id];
                            byte[] value = entry.getValue();
                            tables.store().put(info.table(), kg, key, 0, key.length,
                                    tables.prefixLength(info, key, keySerializer.currentSchemaSerializer()),
                                    value, 0, value.length);
                        }
                    }
                }
            }
        }
    }

    /**
     * The meta info of a key-value state in the form zstate registers (Flink's V1 class). Jobs on
     * the async state API (ForSt, {@code table.exec.async-state.enabled}) describe their states
     * with V2 meta info: list states by their element serializer, map states by separate user-key
     * and value serializers. Flink's own conversion (what its V1 meta-info class applies to a V2
     * snapshot) turns them back into the list and map serializers; the stored bytes are the same.
     */
    static RegisteredKeyValueStateBackendMetaInfo<?, ?> keyValueMetaInfo(StateMetaInfoSnapshot meta)
            throws StateMigrationException {
        try {
            return (RegisteredKeyValueStateBackendMetaInfo<?, ?>) RegisteredKeyValueStateBackendMetaInfo
                    .fromMetaInfoSnapshot(meta);
        } catch (RuntimeException e) {
            throw new StateMigrationException("Could not read the description of state '" + meta.getName()
                    + "' (" + meta.getBackendStateType() + ", type "
                    + meta.getOption(StateMetaInfoSnapshot.CommonOptionsKeys.KEYED_STATE_TYPE)
                    + ") from the snapshot: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends HeapPriorityQueueElement> void addToQueue(
            HeapPriorityQueueSnapshotRestoreWrapper<T> queue, DataInputDeserializer in) throws java.io.IOException {
        TypeSerializer<T> serializer = queue.getMetaInfo().getElementSerializer();
        queue.getPriorityQueue().add(serializer.deserialize(in));
    }
}

package io.zstate.flink.snapshot;

import io.zstate.flink.ZStateTables;
import io.zstate.flink.ZStateTables.ZStateInfo;
import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.snapshot.FrozenView;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.FullSnapshotResources;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyValueStateIterator;
import org.apache.flink.runtime.state.StateSnapshotTransformer;
import org.apache.flink.runtime.state.StreamCompressionDecorator;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueStateSnapshot;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;

/**
 * A point-in-time view of a keyed backend's state for one full snapshot, written in the canonical
 * savepoint layout: entries grouped by key-group, then by state id (the index in {@link
 * #getMetaInfoSnapshots()}: key-value states in registration order, then timer queues).
 *
 * <pre>
 * Synchronous part (task thread, {@link #create}): meta infos, one snapshot transformer per state
 * (TTL cleanup), the timer queues' array snapshots, and PageStore.freeze(): directories copied,
 * hot pages copied, pool pages copied as their compressed bytes (no decompression), spilled
 * pages pinned by a RocksDB snapshot (no read).
 *
 * Asynchronous part (createKVStateIterator): key-group by key-group, decompress or read the
 * frozen pages, run the transformers, serialize the timers.
 * </pre>
 */
public final class ZFullSnapshotResources<K> implements FullSnapshotResources<K> {

    private final List<StateMetaInfoSnapshot> metaInfoSnapshots;
    private final KeyGroupRange keyGroupRange;
    private final TypeSerializer<K> keySerializer;
    private final StreamCompressionDecorator compression;
    private final int keyGroupPrefixBytes;
    private final int[] tables;
    private final List<StateSnapshotTransformer<byte[]>> transformers;
    private final List<HeapPriorityQueueStateSnapshot<?>> queues;
    private final FrozenView frozen;

    private ZFullSnapshotResources(List<StateMetaInfoSnapshot> metaInfoSnapshots, KeyGroupRange keyGroupRange,
            TypeSerializer<K> keySerializer, StreamCompressionDecorator compression, int keyGroupPrefixBytes,
            int[] tables, List<StateSnapshotTransformer<byte[]>> transformers,
            List<HeapPriorityQueueStateSnapshot<?>> queues, FrozenView frozen) {
        this.metaInfoSnapshots = metaInfoSnapshots;
        this.keyGroupRange = keyGroupRange;
        this.keySerializer = keySerializer;
        this.compression = compression;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.tables = tables;
        this.transformers = transformers;
        this.queues = queues;
        this.frozen = frozen;
    }

    /**
     * The synchronous part of a snapshot of {@code tables}, on the task thread (see the class
     * comment). Internal: for {@code io.zstate.flink.ZKeyedStateBackend} (savepoints) and {@link
     * ZFullSnapshotStrategy} (checkpoints).
     */
    public static <K> ZFullSnapshotResources<K> create(
            ZStateTables tables, TypeSerializer<K> keySerializer, StreamCompressionDecorator compression) {
        PageStore store = tables.store();
        synchronized (store) {
            List<StateMetaInfoSnapshot> metas = new ArrayList<>();
            List<ZStateInfo> states = new ArrayList<>(tables.states());
            int[] tableIds = new int[states.size()];
            List<StateSnapshotTransformer<byte[]>> transformers = new ArrayList<>();
            for (int i = 0; i < states.size(); i++) {
                ZStateInfo info = states.get(i);
                tableIds[i] = info.table();
                metas.add(info.meta().snapshot());
                transformers.add(info.meta().getStateSnapshotTransformFactory().createForSerializedState().orElse(null));
            }
            List<HeapPriorityQueueStateSnapshot<?>> queues = new ArrayList<>();
            for (HeapPriorityQueueSnapshotRestoreWrapper<?> wrapper : tables.queues()) {
                HeapPriorityQueueStateSnapshot<?> snapshot = wrapper.stateSnapshot();
                queues.add(snapshot);
                metas.add(snapshot.getMetaInfoSnapshot());
            }
            return new ZFullSnapshotResources<>(metas, tables.keyGroupRange(), keySerializer, compression,
                    tables.keyGroupPrefixBytes(), tableIds, transformers, queues, store.freeze());
        }
    }

    @Override
    public List<StateMetaInfoSnapshot> getMetaInfoSnapshots() {
        return metaInfoSnapshots;
    }

    @Override
    public KeyValueStateIterator createKVStateIterator() throws IOException {
        return new FrozenIterator();
    }

    /** Walks key-groups in order; buffers one key-group's entries (all states, then timers) at a time. */
    private final class FrozenIterator implements KeyValueStateIterator {
        private final List<byte[]> keys = new ArrayList<>();
        private final List<byte[]> values = new ArrayList<>();
        private final List<Integer> ids = new ArrayList<>();
        private final DataOutputSerializer out = new DataOutputSerializer(64);
        private int nextKeyGroup = keyGroupRange.getStartKeyGroup();
        private int keyGroup;
        private int index;
        private boolean newKeyGroup;
        private boolean newState;

        FrozenIterator() throws IOException {
            fill();
            newKeyGroup = true;
            newState = true;
        }

        /** Loads the next key-group that has entries; leaves the buffer empty at the end. */
        private void fill() throws IOException {
            keys.clear();
            values.clear();
            ids.clear();
            index = 0;
            while (keys.isEmpty() && nextKeyGroup <= keyGroupRange.getEndKeyGroup()) {
                keyGroup = nextKeyGroup++;
                for (int id = 0; id < tables.length; id++) {
                    final int stateId = id;
                    StateSnapshotTransformer<byte[]> transformer = transformers.get(id);
                    frozen.forEachInKeyGroup(tables[id], keyGroup, (k, ko, kl, v, vo, vl) -> {
                        byte[] value = Arrays.copyOfRange(v, vo, vo + vl);
                        if (transformer != null) {
                            value = transformer.filterOrTransform(value);
                        }
                        if (value != null) {
                            keys.add(Arrays.copyOfRange(k, ko, ko + kl));
                            values.add(value);
                            ids.add(stateId);
                        }
                    });
                }
                for (int q = 0; q < queues.size(); q++) {
                    addQueue(tables.length + q, queues.get(q));
                }
            }
        }

        private <T> void addQueue(int id, HeapPriorityQueueStateSnapshot<T> snapshot) throws IOException {
            TypeSerializer<T> serializer = snapshot.getMetaInfo().getElementSerializer();
            Iterator<T> elements = snapshot.getIteratorForKeyGroup(keyGroup);
            while (elements.hasNext()) {
                out.clear();
                CompositeKeySerializationUtils.writeKeyGroup(keyGroup, keyGroupPrefixBytes, out);
                serializer.serialize(elements.next(), out);
                keys.add(out.getCopyOfBuffer());
                values.add(new byte[0]);
                ids.add(id);
            }
        }

        @Override
        public void next() throws IOException {
            int previousId = ids.get(index);
            index++;
            if (index < keys.size()) {
                newKeyGroup = false;
                newState = ids.get(index) != previousId;
            } else {
                fill();
                newKeyGroup = true;
                newState = true;
            }
        }

        @Override
        public int keyGroup() {
            return keyGroup;
        }

        @Override
        public byte[] key() {
            return keys.get(index); // a fresh copy already: the writer flags the last key of a run in place
        }

        @Override
        public byte[] value() {
            return values.get(index);
        }

        @Override
        public int kvStateId() {
            return ids.get(index);
        }

        @Override
        public boolean isNewKeyValueState() {
            return newState;
        }

        @Override
        public boolean isNewKeyGroup() {
            return newKeyGroup;
        }

        @Override
        public boolean isValid() {
            return index < keys.size();
        }

        @Override
        public void close() {}
    }

    @Override
    public KeyGroupRange getKeyGroupRange() {
        return keyGroupRange;
    }

    @Override
    public TypeSerializer<K> getKeySerializer() {
        return keySerializer;
    }

    @Override
    public StreamCompressionDecorator getStreamCompressionDecorator() {
        return compression;
    }

    @Override
    public void release() {
        frozen.close();
    }
}

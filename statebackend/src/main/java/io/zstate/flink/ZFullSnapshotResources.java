package io.zstate.flink;

import io.zstate.pagestore.PageStore;
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
 * A point-in-time copy of a keyed backend's state for one full snapshot, in the canonical
 * savepoint layout: entries grouped by key-group, then by state id (the index in {@link
 * #getMetaInfoSnapshots()}: key-value states in registration order, then timer queues).
 *
 * <p>It is made on the task thread ({@link #create}): every entry is copied out of the page store,
 * through the state's snapshot transformer (TTL cleanup), and every timer serialized. The
 * asynchronous part only reads this copy, so the task goes on changing state meanwhile.
 * (Departure from the design's pinning of compressed pages: see docs/design.md.)
 */
final class ZFullSnapshotResources<K> implements FullSnapshotResources<K> {

    private final List<StateMetaInfoSnapshot> metaInfoSnapshots;
    private final KeyGroupRange keyGroupRange;
    private final TypeSerializer<K> keySerializer;
    private final StreamCompressionDecorator compression;
    private final int[] keyGroups;
    private final int[] stateIds;
    private final byte[][] keys;
    private final byte[][] values;

    private ZFullSnapshotResources(List<StateMetaInfoSnapshot> metaInfoSnapshots, KeyGroupRange keyGroupRange,
            TypeSerializer<K> keySerializer, StreamCompressionDecorator compression, Entries entries) {
        this.metaInfoSnapshots = metaInfoSnapshots;
        this.keyGroupRange = keyGroupRange;
        this.keySerializer = keySerializer;
        this.compression = compression;
        this.keyGroups = Arrays.copyOf(entries.keyGroups, entries.size);
        this.stateIds = Arrays.copyOf(entries.stateIds, entries.size);
        this.keys = Arrays.copyOf(entries.keys, entries.size);
        this.values = Arrays.copyOf(entries.values, entries.size);
    }

    static <K> ZFullSnapshotResources<K> create(ZKeyedStateBackend<K> backend) throws IOException {
        PageStore store = backend.store;
        synchronized (store) {
            List<StateMetaInfoSnapshot> metas = new ArrayList<>();
            List<ZStateTables.ZStateInfo> states = new ArrayList<>(backend.stateInfos());
            List<StateSnapshotTransformer<byte[]>> transformers = new ArrayList<>();
            for (ZStateTables.ZStateInfo info : states) {
                metas.add(info.meta.snapshot());
                transformers.add(info.meta.getStateSnapshotTransformFactory().createForSerializedState().orElse(null));
            }
            List<HeapPriorityQueueStateSnapshot<?>> queues = new ArrayList<>();
            for (HeapPriorityQueueSnapshotRestoreWrapper<?> wrapper : backend.queues().values()) {
                HeapPriorityQueueStateSnapshot<?> snapshot = wrapper.stateSnapshot();
                queues.add(snapshot);
                metas.add(snapshot.getMetaInfoSnapshot());
            }
            Entries entries = new Entries();
            KeyGroupRange range = backend.getKeyGroupRange();
            DataOutputSerializer out = new DataOutputSerializer(64);
            for (int kg = range.getStartKeyGroup(); kg <= range.getEndKeyGroup(); kg++) {
                for (int id = 0; id < states.size(); id++) {
                    final int keyGroup = kg;
                    final int stateId = id;
                    StateSnapshotTransformer<byte[]> transformer = transformers.get(id);
                    store.forEachInKeyGroup(states.get(id).table, kg, (k, ko, kl, v, vo, vl) -> {
                        byte[] value = Arrays.copyOfRange(v, vo, vo + vl);
                        if (transformer != null) {
                            value = transformer.filterOrTransform(value);
                        }
                        if (value != null) {
                            entries.add(keyGroup, stateId, Arrays.copyOfRange(k, ko, ko + kl), value);
                        }
                    });
                }
                for (int q = 0; q < queues.size(); q++) {
                    addQueue(entries, out, backend.keyGroupPrefixBytes, kg, states.size() + q, queues.get(q));
                }
            }
            return new ZFullSnapshotResources<>(metas, range, backend.getKeySerializer(),
                    backend.compression(), entries);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> void addQueue(Entries entries, DataOutputSerializer out, int prefixBytes, int kg, int id,
            HeapPriorityQueueStateSnapshot<T> snapshot) throws IOException {
        TypeSerializer<T> serializer = snapshot.getMetaInfo().getElementSerializer();
        Iterator<T> elements = snapshot.getIteratorForKeyGroup(kg);
        while (elements.hasNext()) {
            out.clear();
            CompositeKeySerializationUtils.writeKeyGroup(kg, prefixBytes, out);
            serializer.serialize(elements.next(), out);
            entries.add(kg, id, out.getCopyOfBuffer(), new byte[0]);
        }
    }

    /** Growable parallel arrays of entries. */
    private static final class Entries {
        int size;
        int[] keyGroups = new int[256];
        int[] stateIds = new int[256];
        byte[][] keys = new byte[256][];
        byte[][] values = new byte[256][];

        void add(int keyGroup, int stateId, byte[] key, byte[] value) {
            if (size == keys.length) {
                int grown = size * 2;
                keyGroups = Arrays.copyOf(keyGroups, grown);
                stateIds = Arrays.copyOf(stateIds, grown);
                keys = Arrays.copyOf(keys, grown);
                values = Arrays.copyOf(values, grown);
            }
            keyGroups[size] = keyGroup;
            stateIds[size] = stateId;
            keys[size] = key;
            values[size] = value;
            size++;
        }
    }

    @Override
    public List<StateMetaInfoSnapshot> getMetaInfoSnapshots() {
        return metaInfoSnapshots;
    }

    @Override
    public KeyValueStateIterator createKVStateIterator() {
        return new KeyValueStateIterator() {
            private int index;

            @Override
            public void next() {
                index++;
            }

            @Override
            public int keyGroup() {
                return keyGroups[index];
            }

            @Override
            public byte[] key() {
                return keys[index].clone(); // the writer flags the last key of a run in place
            }

            @Override
            public byte[] value() {
                return values[index];
            }

            @Override
            public int kvStateId() {
                return stateIds[index];
            }

            @Override
            public boolean isNewKeyValueState() {
                return index == 0 || stateIds[index] != stateIds[index - 1] || isNewKeyGroup();
            }

            @Override
            public boolean isNewKeyGroup() {
                return index == 0 || keyGroups[index] != keyGroups[index - 1];
            }

            @Override
            public boolean isValid() {
                return index < keys.length;
            }

            @Override
            public void close() {}
        };
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
    public void release() {}
}

package io.zstate.flink;

import io.zstate.pagestore.PageStore;
import java.io.IOException;
import java.util.LinkedHashMap;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSetFactory;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;

/**
 * The registry of a keyed backend's states, built before the backend itself because a restore
 * fills it (and settles the key serializer) before Flink's base class is constructed: the page
 * store, one table per key-value state with Flink's meta info, and the heap timer queues.
 */
final class ZStateTables {

    final PageStore store;
    final KeyGroupRange keyGroupRange;
    final int numberOfKeyGroups;
    final int keyGroupPrefixBytes;
    final LinkedHashMap<String, ZStateInfo> kvStates = new LinkedHashMap<>();
    final LinkedHashMap<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> pqStates = new LinkedHashMap<>();
    final HeapPriorityQueueSetFactory pqFactory;

    ZStateTables(PageStore store, KeyGroupRange keyGroupRange, int numberOfKeyGroups) {
        this.store = store;
        this.keyGroupRange = keyGroupRange;
        this.numberOfKeyGroups = numberOfKeyGroups;
        this.keyGroupPrefixBytes = CompositeKeySerializationUtils.computeRequiredBytesInKeyGroupPrefix(numberOfKeyGroups);
        this.pqFactory = new HeapPriorityQueueSetFactory(keyGroupRange, numberOfKeyGroups, 128);
    }

    /** Registers a state found in a snapshot, or returns the one already registered by that name. */
    ZStateInfo registerRestored(RegisteredKeyValueStateBackendMetaInfo<?, ?> meta) {
        return kvStates.computeIfAbsent(meta.getName(), name -> new ZStateInfo(store.createTable(name), meta));
    }

    /**
     * How many leading bytes of a stored key place it in the page store: the whole key, except for
     * a map entry, whose user key follows the prefix (key-group | key | namespace).
     */
    int prefixLength(ZStateInfo info, byte[] key, TypeSerializer<?> keySerializer) throws IOException {
        if (info.meta.getStateType() != StateDescriptor.Type.MAP) {
            return key.length;
        }
        TypeSerializer<?> namespaceSerializer = info.meta.getNamespaceSerializer();
        boolean ambiguous = CompositeKeySerializationUtils.isAmbiguousKeyPossible(keySerializer, namespaceSerializer);
        DataInputDeserializer in = new DataInputDeserializer(key);
        CompositeKeySerializationUtils.readKeyGroup(keyGroupPrefixBytes, in);
        CompositeKeySerializationUtils.readKey(keySerializer, in, ambiguous);
        CompositeKeySerializationUtils.readNamespace(namespaceSerializer, in, ambiguous);
        return key.length - in.available();
    }

    /** A registered state: its page-store table and Flink's meta info. */
    static final class ZStateInfo {
        final int table;
        RegisteredKeyValueStateBackendMetaInfo<?, ?> meta;

        ZStateInfo(int table, RegisteredKeyValueStateBackendMetaInfo<?, ?> meta) {
            this.table = table;
            this.meta = meta;
        }
    }
}

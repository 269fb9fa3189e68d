package io.zstate.flink;

import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.ValueView;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.queryablestate.client.state.serialization.KvStateSerializer;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.SerializedCompositeKeyBuilder;
import org.apache.flink.runtime.state.internal.InternalKvState;
import org.apache.flink.util.FlinkRuntimeException;

/**
 * What every zstate state shares: the current namespace, the composite key of (current key,
 * namespace) in RocksDB's layout, reads and writes of the page-store table under the store's lock,
 * and {@link #getSerializedValue} for readers on other threads.
 *
 * <p>A state object outlives re-registrations of its descriptor: {@link #reconfigure} swaps its
 * serializers, as Flink's backends do, so references held by user code stay valid.
 *
 * <p>Owns the access to one state's table; the subclasses own the encoding of their state type's
 * value. A state must not touch other states' tables nor the registrations (the backend's, in
 * {@link ZStateTables}); created and reconfigured by {@code
 * ZKeyedStateBackend.createOrUpdateInternalState}.
 */
abstract class AbstractZState<K, N, V> implements InternalKvState<K, N, V> {

    final ZKeyedStateBackend<K> backend;
    final PageStore store;
    final DataOutputSerializer out = new DataOutputSerializer(128);
    final DataInputDeserializer in = new DataInputDeserializer();
    ZStateTables.ZStateInfo info;
    TypeSerializer<N> namespaceSerializer;
    TypeSerializer<V> valueSerializer;
    V defaultValue;
    N currentNamespace;

    AbstractZState(ZKeyedStateBackend<K> backend, ZStateTables.ZStateInfo info,
            TypeSerializer<N> namespaceSerializer, StateDescriptor<?, V> descriptor) {
        this.backend = backend;
        this.store = backend.store;
        reconfigure(info, namespaceSerializer, descriptor);
    }

    @SuppressWarnings("unchecked")
    void reconfigure(ZStateTables.ZStateInfo info, TypeSerializer<N> namespaceSerializer,
            StateDescriptor<?, V> descriptor) {
        this.info = info;
        // the registered one: a reconfigured serializer when the restored state asked for one
        this.namespaceSerializer = (TypeSerializer<N>) info.meta().getNamespaceSerializer();
        this.valueSerializer = (TypeSerializer<V>) info.meta().getStateSerializer();
        this.defaultValue = descriptor.getDefaultValue();
    }

    @Override
    public TypeSerializer<K> getKeySerializer() {
        return backend.getKeySerializer();
    }

    @Override
    public TypeSerializer<N> getNamespaceSerializer() {
        return namespaceSerializer;
    }

    @Override
    public TypeSerializer<V> getValueSerializer() {
        return valueSerializer;
    }

    @Override
    public void setCurrentNamespace(N namespace) {
        this.currentNamespace = namespace;
    }

    /** key-group | current key | namespace, as a fresh array. */
    byte[] currentKey() {
        return backend.keyBuilder.copyWithNamespace(currentNamespace, namespaceSerializer);
    }

    byte[] keyFor(N namespace) {
        return backend.keyBuilder.copyWithNamespace(namespace, namespaceSerializer);
    }

    /**
     * key-group | current key | namespace in the backend's shared key buffer
     * ({@code backend.keyBuilder.bytes()}), valid until the next key is built: for the point
     * accesses that use the key once, with no array per access.
     *
     * @return the key's length
     */
    int currentKeyInPlace() {
        return backend.keyBuilder.namespace(currentNamespace, namespaceSerializer);
    }

    int keyGroup() {
        return backend.getCurrentKeyGroupIndex();
    }

    /** Looks a key up; call under the store's lock and decode {@link ZKeyedStateBackend#view} under it. */
    boolean read(int keyGroup, byte[] key) {
        return read(keyGroup, key, key.length);
    }

    boolean read(int keyGroup, byte[] key, int keyLength) {
        return store.get(info.table(), keyGroup, key, 0, keyLength, keyLength, backend.view);
    }

    /** A copy of a key's stored bytes, or null. */
    byte[] readCopy(int keyGroup, byte[] key) {
        synchronized (store) {
            return read(keyGroup, key) ? backend.view.toByteArray() : null;
        }
    }

    void write(int keyGroup, byte[] key, byte[] value, int offset, int length) {
        write(keyGroup, key, key.length, value, offset, length);
    }

    void write(int keyGroup, byte[] key, int keyLength, byte[] value, int offset, int length) {
        synchronized (store) {
            store.put(info.table(), keyGroup, key, 0, keyLength, keyLength, value, offset, length);
        }
    }

    void remove(int keyGroup, byte[] key) {
        synchronized (store) {
            store.remove(info.table(), keyGroup, key, 0, key.length, key.length);
        }
    }

    /** The value stored under a key, deserialized, or null. */
    V readStored(int keyGroup, byte[] key) throws IOException {
        return readStored(keyGroup, key, key.length);
    }

    V readStored(int keyGroup, byte[] key, int keyLength) throws IOException {
        synchronized (store) {
            if (!read(keyGroup, key, keyLength)) {
                return null;
            }
            positionOnView();
            return valueSerializer.deserialize(in);
        }
    }

    /** Serializes and stores a value under a key. */
    void writeStored(int keyGroup, byte[] key, V value) throws IOException {
        out.clear();
        valueSerializer.serialize(value, out);
        write(keyGroup, key, out.getSharedBuffer(), 0, out.length());
    }

    void positionOnView() {
        ValueView view = backend.view;
        in.setBuffer(view.array(), view.offset(), view.length());
    }

    @Override
    public void clear() {
        remove(keyGroup(), currentKey());
    }

    @Override
    public byte[] getSerializedValue(
            byte[] serializedKeyAndNamespace,
            TypeSerializer<K> safeKeySerializer,
            TypeSerializer<N> safeNamespaceSerializer,
            TypeSerializer<V> safeValueSerializer)
            throws Exception {
        Tuple2<K, N> keyAndNamespace = KvStateSerializer.deserializeKeyAndNamespace(
                serializedKeyAndNamespace, safeKeySerializer, safeNamespaceSerializer);
        int keyGroup = KeyGroupRangeAssignment.assignToKeyGroup(keyAndNamespace.f0, backend.getNumberOfKeyGroups());
        SerializedCompositeKeyBuilder<K> builder =
                new SerializedCompositeKeyBuilder<>(safeKeySerializer, backend.keyGroupPrefixBytes, 32);
        builder.setKeyAndKeyGroup(keyAndNamespace.f0, keyGroup);
        byte[] key = builder.buildCompositeKeyNamespace(keyAndNamespace.f1, safeNamespaceSerializer);
        return serializedValueOf(keyGroup, key, safeValueSerializer);
    }

    /** The bytes getSerializedValue returns: the stored value as it is, by default. */
    byte[] serializedValueOf(int keyGroup, byte[] key, TypeSerializer<V> safeValueSerializer) throws Exception {
        return readCopy(keyGroup, key);
    }

    /** Visits the state key-group by key-group (Flink's incremental TTL cleanup). */
    @Override
    public StateIncrementalVisitor<K, N, V> getStateIncrementalVisitor(int recommendedMaxNumberOfReturnedRecords) {
        return new ZStateIncrementalVisitor<>(this, backend.getKeyGroupRange(), recommendedMaxNumberOfReturnedRecords);
    }

    /**
     * The states of one key-group's stored entries ([key, value] copies), for the incremental
     * visitor: one state per stored entry, decoded by {@link #decodeStored}; a map overrides this.
     */
    List<ZStateIncrementalVisitor.ZStateEntry<K, N, V>> statesOf(int keyGroup, List<byte[][]> entries) {
        List<ZStateIncrementalVisitor.ZStateEntry<K, N, V>> states = new ArrayList<>(entries.size());
        try {
            for (byte[][] entry : entries) {
                ZStateTables.Prefix<K, N> kn = readPrefix(entry[0]);
                states.add(new ZStateIncrementalVisitor.ZStateEntry<>(keyGroup, entry[0], List.of(entry[0]),
                        List.of(entry[1]), kn.key(), kn.namespace(), decodeStored(entry[1])));
            }
        } catch (IOException e) {
            throw new FlinkRuntimeException("Error while reading state " + info.meta().getName(), e);
        }
        return states;
    }

    /** The key and namespace a stored key of this state starts with. */
    ZStateTables.Prefix<K, N> readPrefix(byte[] storedKey) throws IOException {
        return backend.tables.readPrefix(storedKey, backend.getKeySerializer(), namespaceSerializer);
    }

    /** A stored value as the state type's value. */
    V decodeStored(byte[] stored) throws IOException {
        in.setBuffer(stored);
        return valueSerializer.deserialize(in);
    }

    /** Removes a visited state, unless it was written since it was copied. */
    void removeStates(ZStateIncrementalVisitor.ZStateEntry<K, N, V> entry) {
        synchronized (store) {
            if (unchanged(entry.keyGroup, entry.prefix, entry.prefix.length, entry.storedValues.get(0))) {
                store.delete(info.table(), entry.keyGroup, entry.prefix, 0, entry.prefix.length, entry.prefix.length);
            }
        }
    }

    /** Replaces a visited state with {@code value} (its unexpired part), unless it was written since. */
    void updateStates(ZStateIncrementalVisitor.ZStateEntry<K, N, V> entry, V value) throws Exception {
        synchronized (store) {
            if (unchanged(entry.keyGroup, entry.prefix, entry.prefix.length, entry.storedValues.get(0))) {
                writeStored(entry.keyGroup, entry.prefix, value);
            }
        }
    }

    /** Whether a stored key still holds exactly {@code copied}; call under the store's lock. */
    boolean unchanged(int keyGroup, byte[] key, int prefixLength, byte[] copied) {
        ValueView view = backend.view;
        return store.get(info.table(), keyGroup, key, 0, key.length, prefixLength, view)
                && java.util.Arrays.equals(view.array(), view.offset(), view.offset() + view.length(),
                        copied, 0, copied.length);
    }
}

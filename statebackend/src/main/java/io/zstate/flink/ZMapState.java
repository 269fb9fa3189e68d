package io.zstate.flink;

import org.apache.flink.util.FlinkRuntimeException;
import java.util.HashMap;
import java.util.Arrays;
import java.util.ArrayList;
import io.zstate.flink.iterator.ZMapEntryIterator;
import java.io.IOException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.MapSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.queryablestate.client.state.serialization.KvStateSerializer;
import org.apache.flink.runtime.state.internal.InternalMapState;

/**
 * MapState: one page-store entry per map entry, keyed by key-group | key | namespace | user key
 * (the first three are the prefix that places it, so a small map's entries share a bucket, and a
 * large map gets a map index of its own in the store), valued by a null flag and the serialized
 * value. Iteration streams batches of entries in the order of the serialized user keys ({@link
 * ZMapEntryIterator}); removals and setValue write through. {@code isEmpty} and {@code clear}
 * are single store calls that read no entry of a large map.
 *
 * <p>Owns the entry encoding (null flag and value) and the writes; the batches are {@link
 * ZMapEntryIterator}'s, which writes back only through this state.
 */
final class ZMapState<K, N, UK, UV> extends AbstractZState<K, N, Map<UK, UV>>
        implements InternalMapState<K, N, UK, UV> {

    private final Access access = new Access();
    private TypeSerializer<UK> userKeySerializer;
    private TypeSerializer<UV> userValueSerializer;

    ZMapState(ZKeyedStateBackend<K> backend, ZStateTables.ZStateInfo info,
            TypeSerializer<N> namespaceSerializer, StateDescriptor<?, Map<UK, UV>> descriptor) {
        super(backend, info, namespaceSerializer, descriptor);
    }

    @Override
    void reconfigure(ZStateTables.ZStateInfo info, TypeSerializer<N> namespaceSerializer,
            StateDescriptor<?, Map<UK, UV>> descriptor) {
        super.reconfigure(info, namespaceSerializer, descriptor);
        MapSerializer<UK, UV> mapSerializer = (MapSerializer<UK, UV>) valueSerializer;
        this.userKeySerializer = mapSerializer.getKeySerializer();
        this.userValueSerializer = mapSerializer.getValueSerializer();
    }

    /** Stores an entry under its whole key (prefix | user key): a null flag, then the value. */
    private void writeEntry(int keyGroup, byte[] key, int keyLength, int prefixLength, UV value)
            throws IOException {
        out.clear();
        out.writeBoolean(value == null);
        if (value != null) {
            userValueSerializer.serialize(value, out);
        }
        synchronized (store) {
            store.put(info.table(), keyGroup, key, 0, keyLength, prefixLength, out.getSharedBuffer(), 0, out.length());
        }
    }

    private UV decodeValue(DataInputDeserializer input) throws IOException {
        return input.readBoolean() ? null : userValueSerializer.deserialize(input);
    }

    /** A map's user-key entries, grouped by their prefix (key-group | key | namespace): one state per map. */
    @Override
    List<ZStateIncrementalVisitor.ZStateEntry<K, N, Map<UK, UV>>> statesOf(int keyGroup, List<byte[][]> entries) {
        Map<java.nio.ByteBuffer, List<byte[][]>> maps = new LinkedHashMap<>();
        List<ZStateIncrementalVisitor.ZStateEntry<K, N, Map<UK, UV>>> states = new ArrayList<>();
        try {
            Map<java.nio.ByteBuffer, ZStateTables.Prefix<K, N>> prefixes = new HashMap<>();
            for (byte[][] entry : entries) {
                ZStateTables.Prefix<K, N> kn = readPrefix(entry[0]);
                java.nio.ByteBuffer prefix = java.nio.ByteBuffer.wrap(entry[0], 0, kn.length()).slice();
                maps.computeIfAbsent(prefix, p -> new ArrayList<>()).add(entry);
                prefixes.putIfAbsent(prefix, kn);
            }
            DataInputDeserializer input = new DataInputDeserializer();
            for (Map.Entry<java.nio.ByteBuffer, List<byte[][]>> map : maps.entrySet()) {
                ZStateTables.Prefix<K, N> kn = prefixes.get(map.getKey());
                Map<UK, UV> values = new HashMap<>();
                List<byte[]> keys = new ArrayList<>();
                List<byte[]> stored = new ArrayList<>();
                List<Object> userKeys = new ArrayList<>();
                for (byte[][] entry : map.getValue()) {
                    input.setBuffer(entry[0], kn.length(), entry[0].length - kn.length());
                    UK userKey = userKeySerializer.deserialize(input);
                    input.setBuffer(entry[1]);
                    values.put(userKey, decodeValue(input));
                    keys.add(entry[0]);
                    stored.add(entry[1]);
                    userKeys.add(userKey);
                }
                byte[] prefix = Arrays.copyOf(map.getValue().get(0)[0], kn.length());
                states.add(new ZStateIncrementalVisitor.ZStateEntry<>(
                        keyGroup, prefix, keys, stored, userKeys, kn.key(), kn.namespace(), values));
            }
        } catch (IOException e) {
            throw new FlinkRuntimeException("Error while reading map state " + info.meta().getName(), e);
        }
        return states;
    }

    /** Removes the map's copied entries that still hold what was copied (entries written since stay). */
    @Override
    void removeStates(ZStateIncrementalVisitor.ZStateEntry<K, N, Map<UK, UV>> entry) {
        synchronized (store) {
            for (int i = 0; i < entry.storedKeys.size(); i++) {
                byte[] key = entry.storedKeys.get(i);
                if (unchanged(entry.keyGroup, key, entry.prefix.length, entry.storedValues.get(i))) {
                    store.delete(info.table(), entry.keyGroup, key, 0, key.length, entry.prefix.length);
                }
            }
        }
    }

    /**
     * Applies the map's unexpired part: each copied entry that still holds what was copied is
     * deleted if the cleanup dropped its user key, rewritten if its value changed; entries written
     * since the copy stay as they are.
     */
    @Override
    void updateStates(ZStateIncrementalVisitor.ZStateEntry<K, N, Map<UK, UV>> entry, Map<UK, UV> values)
            throws Exception {
        if (values == null) {
            removeStates(entry);
            return;
        }
        synchronized (store) {
            for (int i = 0; i < entry.storedKeys.size(); i++) {
                byte[] key = entry.storedKeys.get(i);
                if (!unchanged(entry.keyGroup, key, entry.prefix.length, entry.storedValues.get(i))) {
                    continue;
                }
                // the very key object the cleanup's result is keyed by: user-key types without value
                // equality (byte[]) are found too, where a freshly decoded key would not be
                @SuppressWarnings("unchecked")
                UK userKey = (UK) entry.userKeys.get(i);
                if (!values.containsKey(userKey)) {
                    store.delete(info.table(), entry.keyGroup, key, 0, key.length, entry.prefix.length);
                } else {
                    writeEntry(entry.keyGroup, key, key.length, entry.prefix.length, values.get(userKey));
                }
            }
        }
    }

    @Override
    public UV get(UK userKey) throws Exception {
        int prefixLength = currentKeyInPlace();
        int keyLength = backend.keyBuilder.userKey(userKey, userKeySerializer);
        synchronized (store) {
            if (!store.get(info.table(), keyGroup(), backend.keyBuilder.bytes(), 0, keyLength, prefixLength,
                    backend.view)) {
                return null;
            }
            positionOnView();
            return decodeValue(in);
        }
    }

    @Override
    public void put(UK userKey, UV value) throws Exception {
        int prefixLength = currentKeyInPlace();
        int keyLength = backend.keyBuilder.userKey(userKey, userKeySerializer);
        writeEntry(keyGroup(), backend.keyBuilder.bytes(), keyLength, prefixLength, value);
    }

    @Override
    public void putAll(Map<UK, UV> map) throws Exception {
        if (map == null) {
            return;
        }
        for (Map.Entry<UK, UV> e : map.entrySet()) {
            put(e.getKey(), e.getValue());
        }
    }

    @Override
    public void remove(UK userKey) throws Exception {
        int prefixLength = currentKeyInPlace();
        int keyLength = backend.keyBuilder.userKey(userKey, userKeySerializer);
        synchronized (store) {
            store.remove(info.table(), keyGroup(), backend.keyBuilder.bytes(), 0, keyLength, prefixLength);
        }
    }

    @Override
    public boolean contains(UK userKey) throws Exception {
        int prefixLength = currentKeyInPlace();
        int keyLength = backend.keyBuilder.userKey(userKey, userKeySerializer);
        synchronized (store) {
            return store.get(info.table(), keyGroup(), backend.keyBuilder.bytes(), 0, keyLength, prefixLength,
                    backend.view);
        }
    }

    @Override
    public Iterable<Map.Entry<UK, UV>> entries() {
        return () -> iterate(e -> e);
    }

    @Override
    public Iterable<UK> keys() {
        return () -> iterate(Map.Entry::getKey);
    }

    @Override
    public Iterable<UV> values() {
        return () -> iterate(Map.Entry::getValue);
    }

    @Override
    public Iterator<Map.Entry<UK, UV>> iterator() {
        return iterate(e -> e);
    }

    @Override
    public boolean isEmpty() {
        int prefixLength = currentKeyInPlace();
        synchronized (store) {
            return !store.hasPrefix(info.table(), keyGroup(), backend.keyBuilder.bytes(), 0, prefixLength);
        }
    }

    @Override
    public void clear() {
        int prefixLength = currentKeyInPlace();
        synchronized (store) {
            store.deletePrefix(info.table(), keyGroup(), backend.keyBuilder.bytes(), 0, prefixLength);
        }
    }

    @Override
    byte[] serializedValueOf(int keyGroup, byte[] prefix, TypeSerializer<Map<UK, UV>> safeValueSerializer)
            throws Exception {
        List<byte[][]> raw = ZMapEntryIterator.readAll(store, info.table(), keyGroup, prefix);
        if (raw.isEmpty()) {
            return null;
        }
        MapSerializer<UK, UV> safe = (MapSerializer<UK, UV>) safeValueSerializer;
        Map<UK, UV> map = new LinkedHashMap<>();
        DataInputDeserializer input = new DataInputDeserializer();
        for (byte[][] entry : raw) {
            input.setBuffer(entry[0], prefix.length, entry[0].length - prefix.length);
            UK userKey = safe.getKeySerializer().deserialize(input);
            input.setBuffer(entry[1]);
            map.put(userKey, input.readBoolean() ? null : safe.getValueSerializer().deserialize(input));
        }
        return KvStateSerializer.serializeMap(map.entrySet(), safe.getKeySerializer(), safe.getValueSerializer());
    }

    /** Iterates the current map's entries batch by batch, each projected; remove and setValue write through. */
    private <T> Iterator<T> iterate(Function<Map.Entry<UK, UV>, T> project) {
        return new ZMapEntryIterator<>(access, store, info.table(), keyGroup(), currentKey(), project);
    }

    /** What the iterator decodes with and writes through: this state's serializers and table. */
    private final class Access implements ZMapEntryIterator.MapAccess<UK, UV> {

        @Override
        public UK readUserKey(DataInputDeserializer input) throws IOException {
            return userKeySerializer.deserialize(input);
        }

        @Override
        public UV readValue(DataInputDeserializer input) throws IOException {
            return decodeValue(input);
        }

        @Override
        public void delete(int keyGroup, byte[] key, int prefixLength) {
            synchronized (store) {
                store.delete(info.table(), keyGroup, key, 0, key.length, prefixLength);
            }
        }

        @Override
        public void write(int keyGroup, byte[] key, int prefixLength, UV value) throws IOException {
            writeEntry(keyGroup, key, key.length, prefixLength, value);
        }

        @Override
        public String stateName() {
            return info.meta().getName();
        }
    }
}

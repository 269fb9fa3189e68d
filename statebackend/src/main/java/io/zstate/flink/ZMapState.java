package io.zstate.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.Function;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.MapSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.queryablestate.client.state.serialization.KvStateSerializer;
import org.apache.flink.runtime.state.internal.InternalMapState;
import org.apache.flink.util.FlinkRuntimeException;

/**
 * MapState: one page-store entry per map entry, keyed by key-group | key | namespace | user key
 * (the first three are the prefix that places it, so a map's entries share a bucket), valued by a
 * null flag and the serialized value. Iteration visits entries in the unsigned byte order of the
 * serialized user keys, as RocksDB does: the entries of the prefix are read, sorted, and served
 * from that copy; removals and setValue write through.
 */
final class ZMapState<K, N, UK, UV> extends AbstractZState<K, N, Map<UK, UV>>
        implements InternalMapState<K, N, UK, UV> {

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
            store.delete(info.table(), keyGroup(), backend.keyBuilder.bytes(), 0, keyLength, prefixLength);
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
        return () -> new EntryIterator<>(this, e -> e);
    }

    @Override
    public Iterable<UK> keys() {
        return () -> new EntryIterator<>(this, Map.Entry::getKey);
    }

    @Override
    public Iterable<UV> values() {
        return () -> new EntryIterator<>(this, Map.Entry::getValue);
    }

    @Override
    public Iterator<Map.Entry<UK, UV>> iterator() {
        return new EntryIterator<>(this, e -> e);
    }

    @Override
    public boolean isEmpty() {
        return rawEntries(keyGroup(), currentKey()).isEmpty();
    }

    @Override
    public void clear() {
        byte[] prefix = currentKey();
        int keyGroup = keyGroup();
        synchronized (store) {
            for (byte[][] entry : rawEntries(keyGroup, prefix)) {
                store.delete(info.table(), keyGroup, entry[0], 0, entry[0].length, prefix.length);
            }
        }
    }

    /** The (key, value) bytes of every entry under a prefix, in unsigned order of the keys. */
    private List<byte[][]> rawEntries(int keyGroup, byte[] prefix) {
        List<byte[][]> entries = new ArrayList<>();
        synchronized (store) {
            store.forEachWithPrefix(info.table(), keyGroup, prefix, 0, prefix.length,
                    (k, ko, kl, v, vo, vl) -> entries.add(new byte[][] {
                        Arrays.copyOfRange(k, ko, ko + kl), Arrays.copyOfRange(v, vo, vo + vl)}));
        }
        entries.sort((a, b) -> Arrays.compareUnsigned(a[0], b[0]));
        return entries;
    }

    @Override
    byte[] serializedValueOf(int keyGroup, byte[] prefix, TypeSerializer<Map<UK, UV>> safeValueSerializer)
            throws Exception {
        List<byte[][]> raw = rawEntries(keyGroup, prefix);
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

    /** Iterates a sorted copy of the current map's entries; remove and setValue write through. */
    private static final class EntryIterator<K, N, UK, UV, T> implements Iterator<T> {
        private final ZMapState<K, N, UK, UV> state;
        private final Function<Map.Entry<UK, UV>, T> project;
        private final int keyGroup;
        private final byte[] prefix;
        private final List<byte[][]> entries;
        private final DataInputDeserializer input = new DataInputDeserializer();
        private int next;
        private ZEntry current;

        EntryIterator(ZMapState<K, N, UK, UV> state, Function<Map.Entry<UK, UV>, T> project) {
            this.state = state;
            this.project = project;
            this.keyGroup = state.keyGroup();
            this.prefix = state.currentKey();
            this.entries = state.rawEntries(keyGroup, prefix);
        }

        @Override
        public boolean hasNext() {
            return next < entries.size();
        }

        @Override
        public T next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            byte[][] raw = entries.get(next++);
            try {
                input.setBuffer(raw[0], prefix.length, raw[0].length - prefix.length);
                UK userKey = state.userKeySerializer.deserialize(input);
                input.setBuffer(raw[1]);
                UV value = state.decodeValue(input);
                current = new ZEntry(raw[0], userKey, value);
                return project.apply(current);
            } catch (IOException e) {
                throw new FlinkRuntimeException("Error while reading an entry of map state " + state.info.meta().getName(), e);
            }
        }

        @Override
        public void remove() {
            if (current == null || current.removed) {
                throw new IllegalStateException("remove() needs a preceding next() and may be called once");
            }
            current.removed = true;
            synchronized (state.store) {
                state.store.delete(state.info.table(), keyGroup, current.key, 0, current.key.length, prefix.length);
            }
        }

        private final class ZEntry implements Map.Entry<UK, UV> {
            final byte[] key;
            final UK userKey;
            UV value;
            boolean removed;

            ZEntry(byte[] key, UK userKey, UV value) {
                this.key = key;
                this.userKey = userKey;
                this.value = value;
            }

            @Override
            public UK getKey() {
                return userKey;
            }

            @Override
            public UV getValue() {
                return value;
            }

            @Override
            public boolean equals(Object o) {
                return o instanceof Map.Entry<?, ?> other
                        && java.util.Objects.equals(userKey, other.getKey())
                        && java.util.Objects.equals(value, other.getValue());
            }

            @Override
            public int hashCode() {
                return java.util.Objects.hashCode(userKey) ^ java.util.Objects.hashCode(value);
            }

            @Override
            public String toString() {
                return userKey + "=" + value;
            }

            @Override
            public UV setValue(UV newValue) {
                if (removed) {
                    throw new IllegalStateException("the entry was removed");
                }
                UV old = value;
                value = newValue;
                try {
                    state.writeEntry(keyGroup, key, key.length, prefix.length, newValue);
                } catch (IOException e) {
                    throw new FlinkRuntimeException("Error while writing an entry of map state", e);
                }
                return old;
            }
        }
    }
}

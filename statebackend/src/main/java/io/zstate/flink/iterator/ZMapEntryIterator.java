package io.zstate.flink.iterator;

import io.zstate.pagestore.PageStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Function;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.util.FlinkRuntimeException;

/**
 * Iterates the entries of one map (the entries under one key-group | key | namespace prefix of a
 * map state) in the unsigned byte order of their serialized user keys, the order Flink expects
 * (RocksDB's): {@link #readSorted} copies the entries under the prefix out of the page store and
 * sorts them, the iterator serves that copy; {@code remove()} and {@code setValue} write through
 * to the store.
 *
 * <p>Owns the order and the copy; must not encode or decode values nor write on its own: the map
 * state does, through {@link MapAccess}. Public, internal: for {@code io.zstate.flink.ZMapState}.
 *
 * @param <T> what the iterator yields of an entry (the entry, its key or its value)
 */
public final class ZMapEntryIterator<UK, UV, T> implements Iterator<T> {

    /** What the iterator needs of its map state. Internal: implemented by {@code io.zstate.flink.ZMapState}. */
    public interface MapAccess<UK, UV> {

        /** Reads a user key from the bytes that follow the prefix of a stored key. */
        UK readUserKey(DataInputDeserializer in) throws IOException;

        /** Reads a stored value (null flag, then the value). */
        UV readValue(DataInputDeserializer in) throws IOException;

        /** Deletes the entry stored under {@code key}. */
        void delete(int keyGroup, byte[] key, int prefixLength);

        /** Stores {@code value} under {@code key}. */
        void write(int keyGroup, byte[] key, int prefixLength, UV value) throws IOException;

        /** The state's name, for error messages. */
        String stateName();
    }

    private final MapAccess<UK, UV> map;
    private final Function<Map.Entry<UK, UV>, T> project;
    private final int keyGroup;
    private final byte[] prefix;
    private final List<byte[][]> entries;
    private final DataInputDeserializer input = new DataInputDeserializer();
    private int next;
    private ZEntry current;

    /**
     * Serves {@code entries}, which {@link #readSorted} read under {@code prefix}, each projected
     * by {@code project}.
     */
    public ZMapEntryIterator(MapAccess<UK, UV> map, int keyGroup, byte[] prefix, List<byte[][]> entries,
            Function<Map.Entry<UK, UV>, T> project) {
        this.map = map;
        this.project = project;
        this.keyGroup = keyGroup;
        this.prefix = prefix;
        this.entries = entries;
    }

    /**
     * The (key, value) bytes of every entry of a table under a prefix, copied out under the store's
     * lock, in unsigned order of the keys.
     */
    public static List<byte[][]> readSorted(PageStore store, int table, int keyGroup, byte[] prefix) {
        List<byte[][]> entries = new ArrayList<>();
        synchronized (store) {
            store.forEachWithPrefix(table, keyGroup, prefix, 0, prefix.length,
                    (k, ko, kl, v, vo, vl) -> entries.add(new byte[][] {
                        Arrays.copyOfRange(k, ko, ko + kl), Arrays.copyOfRange(v, vo, vo + vl)}));
        }
        entries.sort((a, b) -> Arrays.compareUnsigned(a[0], b[0]));
        return entries;
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
            UK userKey = map.readUserKey(input);
            input.setBuffer(raw[1]);
            UV value = map.readValue(input);
            current = new ZEntry(raw[0], userKey, value);
            return project.apply(current);
        } catch (IOException e) {
            throw new FlinkRuntimeException("Error while reading an entry of map state " + map.stateName(), e);
        }
    }

    @Override
    public void remove() {
        if (current == null || current.removed) {
            throw new IllegalStateException("remove() needs a preceding next() and may be called once");
        }
        current.removed = true;
        map.delete(keyGroup, current.key, prefix.length);
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
                    && Objects.equals(userKey, other.getKey())
                    && Objects.equals(value, other.getValue());
        }

        @Override
        public int hashCode() {
            return Objects.hashCode(userKey) ^ Objects.hashCode(value);
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
                map.write(keyGroup, key, prefix.length, newValue);
            } catch (IOException e) {
                throw new FlinkRuntimeException("Error while writing an entry of map state", e);
            }
            return old;
        }
    }
}

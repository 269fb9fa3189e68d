package io.zstate.flink.iterator;

import io.zstate.pagestore.EntryVisitor;
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
 * map state) batch by batch, in the unsigned byte order of the serialized user keys (RocksDB's
 * order, which Flink's StateBackendTestBase.testMapStateIteratorArbitraryAccess expects and jobs
 * moved from RocksDB may rely on): each batch is copied out of the page store under its lock
 * ({@code PageStore.forEachWithPrefix}: a small map is one batch, a large one a leaf of its map
 * index, about a page of entries) and sorted, so a map of any size iterates in the memory of one
 * batch (a map whose key and namespace take over a quarter page keeps its entries in its bucket
 * chain and is one batch however large). Writes between batches (through this iterator or not) never make the iterator repeat
 * or skip an entry present throughout. {@code remove()} and {@code setValue} write through.
 *
 * <p>Owns the batches; must not encode or decode values nor write on its own: the map state
 * does, through {@link MapAccess}. Public, internal: for {@code io.zstate.flink.ZMapState}.
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
    private final PageStore store;
    private final int table;
    private final int keyGroup;
    private final byte[] prefix;
    private final List<byte[][]> batch = new ArrayList<>();
    private final DataInputDeserializer input = new DataInputDeserializer();
    /** The user key the next batch starts from; null after the last. */
    private byte[] from = new byte[0];
    private int next;
    private ZEntry current;

    /** Iterates the entries of {@code table} under {@code prefix}, each projected by {@code project}. */
    public ZMapEntryIterator(MapAccess<UK, UV> map, PageStore store, int table, int keyGroup, byte[] prefix,
            Function<Map.Entry<UK, UV>, T> project) {
        this.map = map;
        this.project = project;
        this.store = store;
        this.table = table;
        this.keyGroup = keyGroup;
        this.prefix = prefix;
    }

    private static final java.util.Comparator<byte[][]> KEY_ORDER = (a, b) -> Arrays.compareUnsigned(a[0], b[0]);

    /** The (key, value) bytes of every entry of a table under a prefix, copied out under the store's lock. */
    public static List<byte[][]> readAll(PageStore store, int table, int keyGroup, byte[] prefix) {
        List<byte[][]> entries = new ArrayList<>();
        synchronized (store) {
            store.forEachWithPrefix(table, keyGroup, prefix, 0, prefix.length, copyInto(entries));
        }
        return entries;
    }

    private static EntryVisitor copyInto(List<byte[][]> entries) {
        return (k, ko, kl, v, vo, vl) -> entries.add(new byte[][] {
            Arrays.copyOfRange(k, ko, ko + kl), Arrays.copyOfRange(v, vo, vo + vl)});
    }

    @Override
    public boolean hasNext() {
        while (next == batch.size() && from != null) {
            batch.clear();
            next = 0;
            synchronized (store) {
                from = store.forEachWithPrefix(table, keyGroup, prefix, 0, prefix.length, from, copyInto(batch));
            }
            batch.sort(KEY_ORDER); // batches come in key order, a batch's entries in none
        }
        return next < batch.size();
    }

    @Override
    public T next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        byte[][] raw = batch.get(next++);
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

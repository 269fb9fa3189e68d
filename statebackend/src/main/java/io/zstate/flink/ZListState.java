package io.zstate.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.runtime.state.internal.InternalListState;
import org.apache.flink.util.Preconditions;

/**
 * ListState: one entry per (key, namespace), its elements serialized one after another with the
 * delimiter ',' between them, as Flink's RocksDB backend stores lists; adding appends to the value
 * in the page store (a large list's blob grows at its tail). Owns that encoding; {@link
 * ZSnapshotTransforms} reads it too (TTL cleanup of lists in snapshots).
 */
final class ZListState<K, N, V> extends AbstractZState<K, N, List<V>> implements InternalListState<K, N, V> {

    static final byte DELIMITER = ',';

    private TypeSerializer<V> elementSerializer;

    ZListState(ZKeyedStateBackend<K> backend, ZStateTables.ZStateInfo info,
            TypeSerializer<N> namespaceSerializer, StateDescriptor<?, List<V>> descriptor) {
        super(backend, info, namespaceSerializer, descriptor);
    }

    @Override
    void reconfigure(ZStateTables.ZStateInfo info, TypeSerializer<N> namespaceSerializer,
            StateDescriptor<?, List<V>> descriptor) {
        super.reconfigure(info, namespaceSerializer, descriptor);
        this.elementSerializer = ((ListSerializer<V>) valueSerializer).getElementSerializer();
    }

    @Override
    public Iterable<V> get() throws Exception {
        return getInternal();
    }

    @Override
    public List<V> getInternal() throws Exception {
        byte[] key = currentKey();
        int keyGroup = keyGroup();
        synchronized (store) {
            if (!read(keyGroup, key)) {
                return null;
            }
            positionOnView();
            return decodeList();
        }
    }

    /** The list {@link #in} is positioned on: e1 ',' e2 ... */
    private List<V> decodeList() throws IOException {
        List<V> list = new ArrayList<>();
        while (in.available() > 0) {
            list.add(elementSerializer.deserialize(in));
            if (in.available() > 0) {
                in.readByte();
            }
        }
        return list;
    }

    @Override
    List<V> decodeStored(byte[] stored) throws IOException {
        in.setBuffer(stored);
        return decodeList();
    }

    @Override
    void updateStates(ZStateIncrementalVisitor.ZStateEntry<K, N, List<V>> entry, List<V> values) throws Exception {
        if (values == null || values.isEmpty()) {
            removeStates(entry);
            return;
        }
        synchronized (store) {
            if (unchanged(entry.keyGroup, entry.prefix, entry.prefix.length, entry.storedValues.get(0))) {
                serializeList(values);
                write(entry.keyGroup, entry.prefix, out.getSharedBuffer(), 1, out.length() - 1);
            }
        }
    }

    @Override
    public void add(V value) throws Exception {
        Preconditions.checkNotNull(value, "You cannot add null to a ListState.");
        out.clear();
        out.writeByte(DELIMITER);
        elementSerializer.serialize(value, out);
        appendSerialized(keyGroup(), currentKey());
    }

    @Override
    public void addAll(List<V> values) throws Exception {
        Preconditions.checkNotNull(values, "List of values to add cannot be null.");
        if (values.isEmpty()) {
            return;
        }
        serializeList(values);
        appendSerialized(keyGroup(), currentKey());
    }

    @Override
    public void update(List<V> values) throws Exception {
        Preconditions.checkNotNull(values, "List of values to add cannot be null.");
        if (values.isEmpty()) {
            clear();
            return;
        }
        serializeList(values);
        write(keyGroup(), currentKey(), out.getSharedBuffer(), 1, out.length() - 1);
    }

    @Override
    public void updateInternal(List<V> values) throws Exception {
        update(values);
    }

    /** Serializes ',' e1 ',' e2 ... into {@link #out}; a null element throws before anything is stored. */
    private void serializeList(List<V> values) throws Exception {
        out.clear();
        for (V value : values) {
            Preconditions.checkNotNull(value, "You cannot add null to a ListState.");
            out.writeByte(DELIMITER);
            elementSerializer.serialize(value, out);
        }
    }

    /**
     * Appends {@link #out} (which starts with a delimiter) to the list at key, without reading it:
     * the page store drops the delimiter when the list does not exist ({@code PageStore.append}).
     */
    private void appendSerialized(int keyGroup, byte[] key) {
        synchronized (store) {
            store.append(info.table(), keyGroup, key, 0, key.length, key.length, out.getSharedBuffer(), 0,
                    out.length());
        }
    }

    @Override
    public void mergeNamespaces(N target, Collection<N> sources) throws Exception {
        if (sources == null || sources.isEmpty()) {
            return;
        }
        int keyGroup = keyGroup();
        out.clear();
        for (N source : sources) {
            byte[] sourceKey = keyFor(source);
            byte[] bytes = readCopy(keyGroup, sourceKey);
            if (bytes != null) {
                remove(keyGroup, sourceKey);
                out.writeByte(DELIMITER);
                out.write(bytes);
            }
        }
        if (out.length() > 0) {
            appendSerialized(keyGroup, keyFor(target));
        }
    }
}

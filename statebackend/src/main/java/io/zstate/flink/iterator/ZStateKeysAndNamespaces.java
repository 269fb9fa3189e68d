package io.zstate.flink.iterator;

import io.zstate.flink.ZStateTables;
import io.zstate.flink.ZStateTables.ZStateInfo;
import io.zstate.pagestore.PageStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiConsumer;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.util.FlinkRuntimeException;

/**
 * The (key, namespace) of every stored entry of one state in one key-group, for the backend's
 * {@code getKeys} and {@code getKeysAndNamespaces} (what {@code RocksStateKeysAndNamespaceIterator}
 * is for RocksDB), which stream key-group by key-group. The stored keys of the key-group are
 * copied out under the store's lock ({@code PageStore.forEachKeyInKeyGroup}: no values, and a
 * large map's entries as one key) and decoded after it is released, so the action runs without
 * the lock. A small map state yields its (key, namespace) once per map entry; callers that want
 * each pair once collect a key-group's pairs in a set.
 *
 * <p>Owns the walk and the decoding of the composite key's prefix; must not write to the store.
 * Public, internal: for {@code io.zstate.flink.ZKeyedStateBackend}.
 */
public final class ZStateKeysAndNamespaces {

    private ZStateKeysAndNamespaces() {}

    /** Calls {@code action} with the key and namespace of every stored entry of {@code info} in a key-group. */
    public static <K, N> void forEach(ZStateTables tables, ZStateInfo info, int keyGroup,
            TypeSerializer<K> keySerializer, TypeSerializer<N> namespaceSerializer, BiConsumer<K, N> action) {
        PageStore store = tables.store();
        List<byte[]> keys = new ArrayList<>();
        synchronized (store) {
            store.forEachKeyInKeyGroup(info.table(), keyGroup,
                    (k, ko, kl, v, vo, vl) -> keys.add(Arrays.copyOfRange(k, ko, ko + kl)));
        }
        try {
            for (byte[] composite : keys) {
                ZStateTables.Prefix<K, N> prefix = tables.readPrefix(composite, keySerializer, namespaceSerializer);
                action.accept(prefix.key(), prefix.namespace());
            }
        } catch (IOException e) {
            throw new FlinkRuntimeException("Error while reading the keys of state " + info.meta().getName(), e);
        }
    }
}

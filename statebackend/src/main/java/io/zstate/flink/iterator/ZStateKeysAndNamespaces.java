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
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.util.FlinkRuntimeException;

/**
 * The (key, namespace) of every stored entry of one state, for the backend's {@code getKeys} and
 * {@code getKeysAndNamespaces} (what {@code RocksStateKeysAndNamespaceIterator} is for RocksDB).
 * The stored keys of every key-group are copied out under the store's lock and decoded after it
 * is released, so the action runs without the lock. A map state yields its (key, namespace) once
 * per map entry; callers that want each pair once collect them in a set.
 *
 * <p>Owns the walk and the decoding of the composite key's prefix; must not write to the store.
 * Public, internal: for {@code io.zstate.flink.ZKeyedStateBackend}.
 */
public final class ZStateKeysAndNamespaces {

    private ZStateKeysAndNamespaces() {}

    /** Calls {@code action} with the key and namespace of every stored entry of {@code info}. */
    public static <K, N> void forEach(ZStateTables tables, ZStateInfo info, TypeSerializer<K> keySerializer,
            TypeSerializer<N> namespaceSerializer, BiConsumer<K, N> action) {
        PageStore store = tables.store();
        KeyGroupRange keyGroupRange = tables.keyGroupRange();
        List<byte[]> keys = new ArrayList<>();
        synchronized (store) {
            for (int kg = keyGroupRange.getStartKeyGroup(); kg <= keyGroupRange.getEndKeyGroup(); kg++) {
                store.forEachInKeyGroup(info.table(), kg,
                        (k, ko, kl, v, vo, vl) -> keys.add(Arrays.copyOfRange(k, ko, ko + kl)));
            }
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

package io.zstate.flink;

import java.util.Collection;
import org.apache.flink.api.common.functions.ReduceFunction;
import org.apache.flink.api.common.state.ReducingStateDescriptor;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.internal.InternalReducingState;

/**
 * ReducingState: the reduced value, read, reduced with the new value and written back. Owns that
 * cycle only; the reduce function runs outside the store's lock.
 */
final class ZReducingState<K, N, V> extends AbstractZState<K, N, V> implements InternalReducingState<K, N, V> {

    private ReduceFunction<V> reduceFunction;

    ZReducingState(ZKeyedStateBackend<K> backend, ZStateTables.ZStateInfo info,
            TypeSerializer<N> namespaceSerializer, StateDescriptor<?, V> descriptor) {
        super(backend, info, namespaceSerializer, descriptor);
    }

    @Override
    void reconfigure(ZStateTables.ZStateInfo info, TypeSerializer<N> namespaceSerializer,
            StateDescriptor<?, V> descriptor) {
        super.reconfigure(info, namespaceSerializer, descriptor);
        this.reduceFunction = ((ReducingStateDescriptor<V>) descriptor).getReduceFunction();
    }

    @Override
    public V get() throws Exception {
        return getInternal();
    }

    @Override
    public V getInternal() throws Exception {
        return readStored(keyGroup(), currentKey());
    }

    @Override
    public void updateInternal(V value) throws Exception {
        if (value == null) {
            clear();
        } else {
            writeStored(keyGroup(), currentKey(), value);
        }
    }

    @Override
    public void add(V value) throws Exception {
        byte[] key = currentKey();
        int keyGroup = keyGroup();
        V current = readStored(keyGroup, key);
        writeStored(keyGroup, key, current == null ? value : reduceFunction.reduce(current, value));
    }

    @Override
    public void mergeNamespaces(N target, Collection<N> sources) throws Exception {
        if (sources == null || sources.isEmpty()) {
            return;
        }
        int keyGroup = keyGroup();
        V merged = null;
        for (N source : sources) {
            byte[] sourceKey = keyFor(source);
            V value = readStored(keyGroup, sourceKey);
            if (value != null) {
                remove(keyGroup, sourceKey);
                merged = merged == null ? value : reduceFunction.reduce(merged, value);
            }
        }
        if (merged != null) {
            byte[] targetKey = keyFor(target);
            V current = readStored(keyGroup, targetKey);
            writeStored(keyGroup, targetKey, current == null ? merged : reduceFunction.reduce(current, merged));
        }
    }
}

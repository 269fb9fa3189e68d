package io.zstate.flink;

import java.util.Collection;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.state.AggregatingStateDescriptor;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.internal.InternalAggregatingState;

/**
 * AggregatingState: the accumulator, read, added to and written back. Owns that cycle only; the
 * aggregate function runs outside the store's lock.
 */
final class ZAggregatingState<K, N, IN, ACC, OUT> extends AbstractZState<K, N, ACC>
        implements InternalAggregatingState<K, N, IN, ACC, OUT> {

    private AggregateFunction<IN, ACC, OUT> aggregateFunction;

    ZAggregatingState(ZKeyedStateBackend<K> backend, ZStateTables.ZStateInfo info,
            TypeSerializer<N> namespaceSerializer, StateDescriptor<?, ACC> descriptor) {
        super(backend, info, namespaceSerializer, descriptor);
    }

    @Override
    @SuppressWarnings("unchecked")
    void reconfigure(ZStateTables.ZStateInfo info, TypeSerializer<N> namespaceSerializer,
            StateDescriptor<?, ACC> descriptor) {
        super.reconfigure(info, namespaceSerializer, descriptor);
        this.aggregateFunction =
                ((AggregatingStateDescriptor<IN, ACC, OUT>) (StateDescriptor<?, ?>) descriptor).getAggregateFunction();
    }

    @Override
    public OUT get() throws Exception {
        ACC accumulator = getInternal();
        return accumulator == null ? null : aggregateFunction.getResult(accumulator);
    }

    @Override
    public ACC getInternal() throws Exception {
        return readStored(keyGroup(), currentKey());
    }

    @Override
    public void updateInternal(ACC accumulator) throws Exception {
        if (accumulator == null) {
            clear();
        } else {
            writeStored(keyGroup(), currentKey(), accumulator);
        }
    }

    @Override
    public void add(IN value) throws Exception {
        byte[] key = currentKey();
        int keyGroup = keyGroup();
        ACC accumulator = readStored(keyGroup, key);
        if (accumulator == null) {
            accumulator = aggregateFunction.createAccumulator();
        }
        writeStored(keyGroup, key, aggregateFunction.add(value, accumulator));
    }

    @Override
    public void mergeNamespaces(N target, Collection<N> sources) throws Exception {
        if (sources == null || sources.isEmpty()) {
            return;
        }
        int keyGroup = keyGroup();
        ACC merged = null;
        for (N source : sources) {
            byte[] sourceKey = keyFor(source);
            ACC accumulator = readStored(keyGroup, sourceKey);
            if (accumulator != null) {
                remove(keyGroup, sourceKey);
                merged = merged == null ? accumulator : aggregateFunction.merge(merged, accumulator);
            }
        }
        if (merged != null) {
            byte[] targetKey = keyFor(target);
            ACC current = readStored(keyGroup, targetKey);
            writeStored(keyGroup, targetKey, current == null ? merged : aggregateFunction.merge(current, merged));
        }
    }
}

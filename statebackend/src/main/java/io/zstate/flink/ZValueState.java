package io.zstate.flink;

import java.io.IOException;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.internal.InternalValueState;
import org.apache.flink.util.FlinkRuntimeException;

/** ValueState: one entry per (key, namespace), the serialized value. Owns that encoding only. */
final class ZValueState<K, N, V> extends AbstractZState<K, N, V> implements InternalValueState<K, N, V> {

    ZValueState(ZKeyedStateBackend<K> backend, ZStateTables.ZStateInfo info,
            TypeSerializer<N> namespaceSerializer, StateDescriptor<?, V> descriptor) {
        super(backend, info, namespaceSerializer, descriptor);
    }

    @Override
    public V value() throws IOException {
        int keyLength = currentKeyInPlace();
        V value = readStored(keyGroup(), backend.keyBuilder.bytes(), keyLength);
        if (value != null) {
            return value;
        }
        return defaultValue == null ? null : valueSerializer.copy(defaultValue);
    }

    @Override
    public void update(V value) throws IOException {
        if (value == null) {
            clear();
            return;
        }
        try {
            // the value is serialized before the key is built: a serializer may touch other state
            out.clear();
            valueSerializer.serialize(value, out);
            int keyLength = currentKeyInPlace();
            write(keyGroup(), backend.keyBuilder.bytes(), keyLength, out.getSharedBuffer(), 0, out.length());
        } catch (IOException e) {
            throw new FlinkRuntimeException("Error while serializing a value of state " + info.meta().getName(), e);
        }
    }
}

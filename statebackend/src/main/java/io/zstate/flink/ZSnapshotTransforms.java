package io.zstate.flink;

import java.io.IOException;
import java.util.Arrays;
import java.util.Optional;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.ListSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.StateSnapshotTransformer;
import org.apache.flink.runtime.state.StateSnapshotTransformer.StateSnapshotTransformFactory;
import org.apache.flink.util.FlinkRuntimeException;

/**
 * Snapshot transformers over zstate's stored bytes (TTL's cleanup in full snapshots drops expired
 * values): the factory Flink hands to a state works on one serialized value or one element, and
 * is adapted here to whole stored values of each state type.
 *
 * <pre>
 *   value, reducing, aggregating   the serialized transformer as it is
 *   map entry                      null flag kept; the transformer runs on the value bytes;
 *                                  an expired value drops the entry
 *   list                           elements deserialized, filtered one by one, the survivors
 *                                  written again with ',' between them; none left drops it
 * </pre>
 *
 * <p>The adapted factory goes into the state's meta info when the state is registered ({@code
 * ZKeyedStateBackend}); the snapshot creates the transformers on the task thread and runs them
 * in its asynchronous part, on copies of the stored bytes. It stays beside the state classes,
 * whose stored layout it knows, as Flink keeps RocksDB's {@code
 * RocksDBSnapshotTransformFactoryAdaptor} in its main package. Owns the adaptation; must not
 * touch the page store.
 */
final class ZSnapshotTransforms {

    private ZSnapshotTransforms() {}

    @SuppressWarnings({"unchecked", "rawtypes"})
    static <SV, SEV> StateSnapshotTransformFactory<SV> wrap(
            StateDescriptor<?, SV> descriptor,
            StateSnapshotTransformFactory<SEV> factory,
            TypeSerializer<SV> stateSerializer) {
        if (factory == null || factory == StateSnapshotTransformFactory.NO_TRANSFORM) {
            return StateSnapshotTransformFactory.noTransform();
        }
        return new StateSnapshotTransformFactory<SV>() {
            @Override
            public Optional<StateSnapshotTransformer<SV>> createForDeserializedState() {
                return Optional.empty();
            }

            @Override
            public Optional<StateSnapshotTransformer<byte[]>> createForSerializedState() {
                switch (descriptor.getType()) {
                    case MAP:
                        return factory.createForSerializedState().map(ZSnapshotTransforms::forMapEntry);
                    case LIST:
                        return factory.createForDeserializedState().map(element -> forList(
                                (StateSnapshotTransformer) element,
                                ((ListSerializer) stateSerializer).getElementSerializer().duplicate()));
                    default:
                        return factory.createForSerializedState();
                }
            }
        };
    }

    private static StateSnapshotTransformer<byte[]> forMapEntry(StateSnapshotTransformer<byte[]> values) {
        return stored -> {
            if (stored == null || stored.length == 0 || stored[0] != 0) {
                return stored; // a null value: nothing to expire
            }
            byte[] value = Arrays.copyOfRange(stored, 1, stored.length);
            byte[] transformed = values.filterOrTransform(value);
            if (transformed == null) {
                return null;
            }
            if (transformed == value) {
                return stored;
            }
            byte[] result = new byte[transformed.length + 1];
            System.arraycopy(transformed, 0, result, 1, transformed.length);
            return result;
        };
    }

    private static <T> StateSnapshotTransformer<byte[]> forList(
            StateSnapshotTransformer<T> elements, TypeSerializer<T> elementSerializer) {
        DataInputDeserializer in = new DataInputDeserializer();
        DataOutputSerializer out = new DataOutputSerializer(128);
        return stored -> {
            if (stored == null) {
                return null;
            }
            in.setBuffer(stored);
            out.clear();
            try {
                while (in.available() > 0) {
                    T element = elementSerializer.deserialize(in);
                    if (in.available() > 0) {
                        in.readByte();
                    }
                    T kept = elements.filterOrTransform(element);
                    if (kept != null) {
                        if (out.length() > 0) {
                            out.writeByte(ZListState.DELIMITER);
                        }
                        elementSerializer.serialize(kept, out);
                    }
                }
            } catch (IOException e) {
                throw new FlinkRuntimeException("Error while filtering list state for a snapshot", e);
            }
            return out.length() == 0 ? null : out.getCopyOfBuffer();
        };
    }
}

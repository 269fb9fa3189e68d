package io.zstate.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.api.common.state.StateDescriptor;

import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.ttl.TtlAwareSerializer;
import org.apache.flink.util.StateMigrationException;

/**
 * Rewrites every stored value of a state whose serializer changed in a way that needs migration
 * (a new schema, or TTL switched on or off): each value is read with the previous serializer and
 * written with the new one; keys do not change. Lists migrate element by element, maps value by
 * value (keeping their null flags).
 */
final class ZStateMigration<K> {

    private final ZKeyedStateBackend<K> backend;
    private final ZStateTables.ZStateInfo info;

    ZStateMigration(ZKeyedStateBackend<K> backend, ZStateTables.ZStateInfo info) {
        this.backend = backend;
        this.info = info;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    void migrate() throws Exception {
        StateDescriptor.Type type = info.meta.getStateType();
        TtlAwareSerializer previous = TtlAwareSerializer.wrapTtlAwareSerializer(info.meta.getPreviousStateSerializer());
        TtlAwareSerializer current = TtlAwareSerializer.wrapTtlAwareSerializer(info.meta.getStateSerializer());
        TtlAwareSerializer previousElement = previous;
        TtlAwareSerializer currentElement = current;
        if (type == StateDescriptor.Type.LIST) {
            previousElement = ((TtlAwareSerializer.TtlAwareListSerializer) previous).getElementSerializer();
            currentElement = ((TtlAwareSerializer.TtlAwareListSerializer) current).getElementSerializer();
        } else if (type == StateDescriptor.Type.MAP) {
            previousElement = ((TtlAwareSerializer.TtlAwareMapSerializer) previous).getValueSerializer();
            currentElement = ((TtlAwareSerializer.TtlAwareMapSerializer) current).getValueSerializer();
        }
        DataInputDeserializer in = new DataInputDeserializer();
        DataOutputSerializer out = new DataOutputSerializer(128);
        KeyGroupRange range = backend.getKeyGroupRange();
        try {
            synchronized (backend.store) {
                for (int kg = range.getStartKeyGroup(); kg <= range.getEndKeyGroup(); kg++) {
                    List<byte[][]> entries = new ArrayList<>();
                    backend.store.forEachInKeyGroup(info.table, kg, (k, ko, kl, v, vo, vl) -> entries.add(
                            new byte[][] {Arrays.copyOfRange(k, ko, ko + kl), Arrays.copyOfRange(v, vo, vo + vl)}));
                    for (byte[][] entry : entries) {
                        in.setBuffer(entry[1]);
                        out.clear();
                        if (type == StateDescriptor.Type.LIST) {
                            while (in.available() > 0) {
                                migrateOne(currentElement, previousElement, in, out);
                                if (in.available() > 0) {
                                    out.writeByte(in.readByte());
                                }
                            }
                        } else if (type == StateDescriptor.Type.MAP) {
                            boolean isNull = in.readBoolean();
                            out.writeBoolean(isNull);
                            if (!isNull) {
                                migrateOne(currentElement, previousElement, in, out);
                            }
                        } else {
                            migrateOne(current, previous, in, out);
                        }
                        byte[] key = entry[0];
                        backend.store.put(info.table, kg, key, 0, key.length, backend.prefixLength(info, key),
                                out.getSharedBuffer(), 0, out.length());
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new StateMigrationException("Error while migrating the values of state " + info.meta.getName()
                    + " to its new serializer: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void migrateOne(TtlAwareSerializer current, TtlAwareSerializer previous, DataInputDeserializer in,
            DataOutputSerializer out) throws IOException {
        current.migrateValueFromPriorSerializer(previous, () -> previous.deserialize(in), out, backend.ttlTime());
    }

}

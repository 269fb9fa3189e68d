package io.zstate.flink.restore;

import io.zstate.flink.ZStateTables;
import io.zstate.flink.ZStateTables.ZStateInfo;
import io.zstate.pagestore.PageStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.ttl.TtlAwareSerializer;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.util.StateMigrationException;

/**
 * Rewrites every stored entry of a state whose serializer changed in a way that needs migration
 * (a new schema, or TTL switched on or off): each value is read with the previous serializer and
 * written with the new one. Lists migrate element by element, maps value by value (keeping their
 * null flags).
 *
 * <p>A map's user keys migrate too (as Flink's HashMap backend does in effect; RocksDB refuses the
 * case): a user key is read with the previous key serializer and written with the new one, and an
 * entry whose key bytes changed moves to its new key. The stored key is the only way to find an
 * entry, so leaving it in the old format would make every old entry unreachable. Within a
 * key-group all changed keys are deleted before any entry is written back, so a new key that
 * equals another entry's old key cannot be overwritten by that entry's later removal.
 *
 * <p>Works one key-group at a time and holds that key-group's entries on the heap while it does.
 *
 * <p>Owns the rewriting of one state's stored entries; runs when the job registers the state
 * again after a restore ({@code ZKeyedStateBackend.createOrUpdateInternalState}), after the meta
 * info took the new serializer. Must not touch the registrations or other states' tables.
 */
public final class ZStateMigration<K> {

    private final ZStateTables tables;
    private final ZStateInfo info;
    private final TypeSerializer<K> keySerializer;
    private final TtlTimeProvider ttlTimeProvider;

    /**
     * A migration of the entries of {@code info}, whose stored keys were written with {@code
     * keySerializer}; TTL values are migrated at the time of {@code ttlTimeProvider}. Internal:
     * for {@code io.zstate.flink.ZKeyedStateBackend}.
     */
    public ZStateMigration(ZStateTables tables, ZStateInfo info, TypeSerializer<K> keySerializer,
            TtlTimeProvider ttlTimeProvider) {
        this.tables = tables;
        this.info = info;
        this.keySerializer = keySerializer;
        this.ttlTimeProvider = ttlTimeProvider;
    }

    /** Rewrites every entry of the state with its new serializer, key-group by key-group. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public void migrate() throws Exception {
        StateDescriptor.Type type = info.meta().getStateType();
        TtlAwareSerializer previous =
                TtlAwareSerializer.wrapTtlAwareSerializer(info.meta().getPreviousStateSerializer());
        TtlAwareSerializer current = TtlAwareSerializer.wrapTtlAwareSerializer(info.meta().getStateSerializer());
        TtlAwareSerializer previousElement = previous;
        TtlAwareSerializer currentElement = current;
        TtlAwareSerializer previousUserKey = null;
        TtlAwareSerializer currentUserKey = null;
        if (type == StateDescriptor.Type.LIST) {
            previousElement = ((TtlAwareSerializer.TtlAwareListSerializer) previous).getElementSerializer();
            currentElement = ((TtlAwareSerializer.TtlAwareListSerializer) current).getElementSerializer();
        } else if (type == StateDescriptor.Type.MAP) {
            previousElement = ((TtlAwareSerializer.TtlAwareMapSerializer) previous).getValueSerializer();
            currentElement = ((TtlAwareSerializer.TtlAwareMapSerializer) current).getValueSerializer();
            previousUserKey = ((TtlAwareSerializer.TtlAwareMapSerializer) previous).getKeySerializer();
            currentUserKey = ((TtlAwareSerializer.TtlAwareMapSerializer) current).getKeySerializer();
        }
        DataInputDeserializer in = new DataInputDeserializer();
        DataOutputSerializer out = new DataOutputSerializer(128);
        KeyGroupRange range = tables.keyGroupRange();
        PageStore store = tables.store();
        try {
            synchronized (store) {
                for (int kg = range.getStartKeyGroup(); kg <= range.getEndKeyGroup(); kg++) {
                    List<byte[][]> entries = new ArrayList<>();
                    store.forEachInKeyGroup(info.table(), kg, (k, ko, kl, v, vo, vl) -> entries.add(
                            new byte[][] {Arrays.copyOfRange(k, ko, ko + kl), Arrays.copyOfRange(v, vo, vo + vl)}));
                    // migrate every entry of the key-group first: a failure leaves this key-group untouched
                    // (earlier key-groups are rewritten already; the registration fails, the task restores)
                    List<Migrated> migrated = new ArrayList<>(entries.size());
                    for (byte[][] entry : entries) {
                        byte[] key = entry[0];
                        int prefixLength = tables.prefixLength(info, key, keySerializer);
                        byte[] newKey = type == StateDescriptor.Type.MAP
                                ? migrateUserKey(key, prefixLength, currentUserKey, previousUserKey, in, out)
                                : key;
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
                        migrated.add(new Migrated(key, newKey, prefixLength, out.getCopyOfBuffer()));
                    }
                    for (Migrated entry : migrated) {
                        if (entry.newKey != entry.oldKey) {
                            store.delete(info.table(), kg, entry.oldKey, 0, entry.oldKey.length,
                                    entry.prefixLength);
                        }
                    }
                    for (Migrated entry : migrated) {
                        store.put(info.table(), kg, entry.newKey, 0, entry.newKey.length, entry.prefixLength,
                                entry.value, 0, entry.value.length);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new StateMigrationException("Error while migrating the entries of state " + info.meta().getName()
                    + " to its new serializer: " + e.getMessage(), e);
        }
    }

    /**
     * The stored key with its user key (the bytes after the prefix) re-serialized by the new key
     * serializer; the same array if the bytes do not change.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static byte[] migrateUserKey(byte[] key, int prefixLength, TtlAwareSerializer current,
            TtlAwareSerializer previous, DataInputDeserializer in, DataOutputSerializer out) throws IOException {
        in.setBuffer(key, prefixLength, key.length - prefixLength);
        out.clear();
        out.write(key, 0, prefixLength);
        current.serialize(previous.deserialize(in), out);
        if (in.available() > 0) {
            throw new IOException("the previous user-key serializer " + previous.getOriginalTypeSerializer()
                    + " left " + in.available() + " bytes of a stored user key unread");
        }
        if (out.length() == key.length && Arrays.equals(out.getSharedBuffer(), 0, key.length, key, 0, key.length)) {
            return key;
        }
        return out.getCopyOfBuffer();
    }

    /** One entry after migration; the prefix (key-group | key | namespace) never changes. */
    private record Migrated(byte[] oldKey, byte[] newKey, int prefixLength, byte[] value) {}

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void migrateOne(TtlAwareSerializer current, TtlAwareSerializer previous, DataInputDeserializer in,
            DataOutputSerializer out) throws IOException {
        current.migrateValueFromPriorSerializer(previous, () -> previous.deserialize(in), out, ttlTimeProvider);
    }

}

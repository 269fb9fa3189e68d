package io.zstate.flink;

import java.io.IOException;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.util.FlinkRuntimeException;

/**
 * The serialized {@code key-group | key | namespace} of the current key, in the byte layout of
 * Flink's {@code SerializedCompositeKeyBuilder} (the RocksDB backend's keys, so snapshots stay
 * canonical), built in one reusable buffer: {@link #namespace} writes the namespace after the
 * key serialized at {@link #setKeyAndKeyGroup} and leaves the bytes in {@link #bytes()}, with no
 * array per access. Flink's builder returns a fresh copy on every call.
 *
 * <pre>
 *   [key-group, 1 or 2 bytes][key][len(key) if ambiguous][namespace][len(namespace) if ambiguous]
 * </pre>
 * "Ambiguous" when both serializers are variable-sized; {@code CompositeKeySerializationUtils}
 * writes the lengths, exactly as Flink's builder calls it. {@code CompositeKeyBufferTest}
 * compares the bytes with Flink's builder.
 *
 * <p>One buffer per keyed backend, shared by its states, for the task thread only: readers on
 * other threads ({@code AbstractZState.getSerializedValue}) must not touch it and build their key
 * with Flink's builder.
 */
final class CompositeKeyBuffer<K> {

    private final TypeSerializer<K> keySerializer;
    private final int keyGroupPrefixBytes;
    private final boolean keyVariableSized;
    private final DataOutputSerializer out = new DataOutputSerializer(32);
    private int afterKey;
    private int afterNamespace = -1;

    CompositeKeyBuffer(TypeSerializer<K> keySerializer, int keyGroupPrefixBytes) {
        this.keySerializer = keySerializer;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.keyVariableSized = CompositeKeySerializationUtils.isSerializerTypeVariableSized(keySerializer);
    }

    void setKeyAndKeyGroup(K key, int keyGroup) {
        try {
            out.clear();
            CompositeKeySerializationUtils.writeKeyGroup(keyGroup, keyGroupPrefixBytes, out);
            keySerializer.serialize(key, out);
            afterKey = out.length();
            afterNamespace = -1;
        } catch (IOException e) {
            throw new FlinkRuntimeException("could not serialize the current key", e);
        }
    }

    /**
     * Writes {@code namespace} after the current key; the composite key is then the first
     * returned-many bytes of {@link #bytes()}, valid until the next call.
     *
     * @return the composite key's length
     */
    <N> int namespace(N namespace, TypeSerializer<N> namespaceSerializer) {
        try {
            out.setPosition(afterKey);
            boolean ambiguous = keyVariableSized
                    & CompositeKeySerializationUtils.isSerializerTypeVariableSized(namespaceSerializer);
            if (ambiguous) {
                CompositeKeySerializationUtils.writeVariableIntBytes(afterKey - keyGroupPrefixBytes, out);
            }
            CompositeKeySerializationUtils.writeNameSpace(namespace, namespaceSerializer, out, ambiguous);
            afterNamespace = out.length();
            return afterNamespace;
        } catch (IOException e) {
            throw new FlinkRuntimeException("could not serialize a namespace", e);
        }
    }

    /**
     * Appends a map's user key after the namespace of the last {@link #namespace} call (as
     * Flink's {@code buildCompositeKeyNamesSpaceUserKey}: no length, no ambiguity marker).
     *
     * @return the whole key's length; the bytes are in {@link #bytes()}
     */
    <UK> int userKey(UK userKey, TypeSerializer<UK> userKeySerializer) {
        if (afterNamespace < 0) {
            throw new IllegalStateException("a user key needs a namespace written first");
        }
        try {
            out.setPosition(afterNamespace);
            userKeySerializer.serialize(userKey, out);
            return out.length();
        } catch (IOException e) {
            throw new FlinkRuntimeException("could not serialize a map key", e);
        }
    }

    /** The composite key with {@code namespace}, as a fresh array (for keys kept past the call). */
    <N> byte[] copyWithNamespace(N namespace, TypeSerializer<N> namespaceSerializer) {
        int length = namespace(namespace, namespaceSerializer);
        return java.util.Arrays.copyOf(out.getSharedBuffer(), length);
    }

    /** The buffer {@link #namespace} wrote into. */
    byte[] bytes() {
        return out.getSharedBuffer();
    }
}

package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.io.IOException;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.constraints.StringLength;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.runtime.state.SerializedCompositeKeyBuilder;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

/**
 * The reusable key buffer writes exactly the bytes of Flink's SerializedCompositeKeyBuilder (the
 * canonical key layout snapshots depend on), for fixed- and variable-sized keys and namespaces,
 * one- and two-byte key-group prefixes, and several namespaces after one key.
 */
class CompositeKeyBufferTest {

    @Property(tries = 200)
    void stringKeysWithStringLongAndVoidNamespaces(
            @ForAll @StringLength(max = 40) String key,
            @ForAll @Size(max = 4) List<@StringLength(max = 30) String> namespaces,
            @ForAll long longNamespace,
            @ForAll @IntRange(min = 0, max = 32767) int keyGroup,
            @ForAll boolean twoBytePrefix) throws IOException {
        int prefix = twoBytePrefix ? 2 : 1;
        int group = twoBytePrefix ? keyGroup : keyGroup % 128;
        SerializedCompositeKeyBuilder<String> flink = new SerializedCompositeKeyBuilder<>(StringSerializer.INSTANCE, prefix, 8);
        CompositeKeyBuffer<String> ours = new CompositeKeyBuffer<>(StringSerializer.INSTANCE, prefix);
        flink.setKeyAndKeyGroup(key, group);
        ours.setKeyAndKeyGroup(key, group);
        for (String namespace : namespaces) {
            assertSame(flink, ours, namespace, StringSerializer.INSTANCE);
        }
        assertSame(flink, ours, longNamespace, LongSerializer.INSTANCE);
        assertSame(flink, ours, VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE);
        for (String userKey : namespaces) {
            byte[] expected = flink.buildCompositeKeyNamesSpaceUserKey(
                    longNamespace, LongSerializer.INSTANCE, userKey, StringSerializer.INSTANCE);
            ours.namespace(longNamespace, LongSerializer.INSTANCE);
            int length = ours.userKey(userKey, StringSerializer.INSTANCE);
            assertThat(Arrays.copyOf(ours.bytes(), length)).isEqualTo(expected);
        }
    }

    @Property(tries = 200)
    void longKeysWithStringLongAndVoidNamespaces(
            @ForAll long key,
            @ForAll @StringLength(max = 30) String stringNamespace,
            @ForAll long longNamespace,
            @ForAll @IntRange(min = 0, max = 127) int keyGroup) {
        SerializedCompositeKeyBuilder<Long> flink = new SerializedCompositeKeyBuilder<>(LongSerializer.INSTANCE, 1, 8);
        CompositeKeyBuffer<Long> ours = new CompositeKeyBuffer<>(LongSerializer.INSTANCE, 1);
        flink.setKeyAndKeyGroup(key, keyGroup);
        ours.setKeyAndKeyGroup(key, keyGroup);
        assertSame(flink, ours, stringNamespace, StringSerializer.INSTANCE);
        assertSame(flink, ours, longNamespace, LongSerializer.INSTANCE);
        assertSame(flink, ours, VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE);
    }

    private static <K, N> void assertSame(SerializedCompositeKeyBuilder<K> flink, CompositeKeyBuffer<K> ours,
            N namespace, TypeSerializer<N> serializer) {
        byte[] expected = flink.buildCompositeKeyNamespace(namespace, serializer);
        int length = ours.namespace(namespace, serializer);
        assertThat(Arrays.copyOf(ours.bytes(), length)).isEqualTo(expected);
        assertThat(ours.copyWithNamespace(namespace, serializer)).isEqualTo(expected);
    }
}

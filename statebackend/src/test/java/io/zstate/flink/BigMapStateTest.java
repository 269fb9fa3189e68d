package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Maps of any size per key: a few keys hold 30,000 to 60,000 entries each (each in a map index of
 * its own in zstate, most of it spilled with the tiny pool), beside many small maps. Canonical
 * savepoints written by RocksDB and HashMap restore into zstate, change there (puts, removes
 * through the iterator, a clear), move on by a canonical savepoint into the other backend and
 * are restored into two zstate backends at once (rescaling); every entry is checked by point
 * reads, by iteration in RocksDB's key order, by {@code isEmpty} and by {@code getKeys}.
 */
class BigMapStateTest {

    private static final int KEY_GROUPS = 8;
    private static final int SMALL_KEYS = 200;
    private static final int[] BIG_KEYS = {1_000, 1_001, 1_002};
    private static final MapStateDescriptor<Integer, String> MAP =
            new MapStateDescriptor<>("map", Integer.class, String.class);

    @ParameterizedTest(name = "{0} -> zstate -> the other, and zstate rescaled")
    @ValueSource(strings = {"rocksdb", "hashmap"})
    void bigMapsMoveThroughCanonicalSavepointsAndRescaling(String first) throws Exception {
        StateBackend from = first.equals("rocksdb") ? new EmbeddedRocksDBStateBackend() : new HashMapStateBackend();
        StateBackend to = first.equals("rocksdb") ? new HashMapStateBackend() : new EmbeddedRocksDBStateBackend();
        KeyedStateHandle savepoint;
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(from, env, KEY_GROUPS, List.of());
            write(backend);
            savepoint = KeyedBackends.savepoint(backend);
            KeyedBackends.dispose(backend);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                    ZStateBackendTest.backend("zbud-tiny-pool"), env, KEY_GROUPS, List.of(savepoint));
            verify(backend, false, new KeyGroupRange(0, KEY_GROUPS - 1), true);
            change(backend);
            verify(backend, true, new KeyGroupRange(0, KEY_GROUPS - 1), true);
            assertThat(((ZKeyedStateBackend<Integer>) backend).pageStoreStats().mapIndexes())
                    .as("the big maps live in map indexes").isEqualTo(BIG_KEYS.length - 1);
            savepoint = KeyedBackends.savepoint(backend);
            KeyedBackends.dispose(backend);
        }
        for (KeyGroupRange half : List.of(new KeyGroupRange(0, 3), new KeyGroupRange(4, 7))) {
            try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
                CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                        ZStateBackendTest.backend("zsmalloc"), env, KEY_GROUPS, half, List.of(savepoint.getIntersection(half)));
                verify(backend, true, half, true);
                KeyedBackends.dispose(backend);
            }
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(to, env, KEY_GROUPS, List.of(savepoint));
            verify(backend, true, new KeyGroupRange(0, KEY_GROUPS - 1), to instanceof EmbeddedRocksDBStateBackend);
            KeyedBackends.dispose(backend);
        }
    }

    private static int size(int key) {
        return key >= BIG_KEYS[0] ? 30_000 + 15_000 * (key - BIG_KEYS[0]) : 1 + key % 7;
    }

    private static List<Integer> keys() {
        List<Integer> keys = new ArrayList<>();
        for (int key = 0; key < SMALL_KEYS; key++) {
            keys.add(key);
        }
        for (int key : BIG_KEYS) {
            keys.add(key);
        }
        return keys;
    }

    private static MapState<Integer, String> map(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        return backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, MAP);
    }

    private static void write(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        MapState<Integer, String> map = map(backend);
        for (int key : keys()) {
            backend.setCurrentKey(key);
            for (int i = 0; i < size(key); i++) {
                map.put(userKey(key, i), "v" + i);
            }
        }
    }

    /**
     * Entry i's user key: even, distinct per i, unrelated to i's order (negative ones too:
     * IntSerializer's bytes sort them last).
     */
    private static int userKey(int key, int i) {
        return ((i * 0x9E3779B1) ^ key) << 1;
    }

    /** The user key of the entry put in zstate for entry i: odd, so new. */
    private static int newUserKey(int key, int i) {
        return userKey(key, i) | 1;
    }

    /**
     * In zstate: every fourth entry removed through the iterator, a new one put for every tenth,
     * and the last big key's map cleared.
     */
    private static void change(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        MapState<Integer, String> map = map(backend);
        for (int key : keys()) {
            backend.setCurrentKey(key);
            if (key == BIG_KEYS[BIG_KEYS.length - 1]) {
                map.clear();
                assertThat(map.isEmpty()).isTrue();
                continue;
            }
            int seen = 0;
            for (Iterator<Map.Entry<Integer, String>> it = map.iterator(); it.hasNext(); ) {
                Map.Entry<Integer, String> e = it.next();
                if (e.getValue().startsWith("new")) {
                    continue; // put during this iteration, and met by it
                }
                int i = Integer.parseInt(e.getValue().substring(1));
                if (i % 4 == 1) {
                    it.remove();
                }
                if (i % 10 == 3) {
                    map.put(newUserKey(key, i), "new" + i);
                }
                seen++;
            }
            assertThat(seen).as("entries of key %d visited once each (new ones may show)", key).isGreaterThanOrEqualTo(size(key));
        }
    }

    /** Checks every entry; with {@code ordered}, that iteration follows the serialized user keys (zstate, RocksDB). */
    private static void verify(CheckpointableKeyedStateBackend<Integer> backend, boolean changed, KeyGroupRange range,
            boolean ordered) throws Exception {
        MapState<Integer, String> map = map(backend);
        List<Integer> inRange = keys().stream()
                .filter(k -> range.contains(KeyGroupRangeAssignment.assignToKeyGroup(k, KEY_GROUPS)))
                .collect(Collectors.toList());
        for (int key : inRange) {
            backend.setCurrentKey(key);
            java.util.TreeMap<byte[], String> expected = new java.util.TreeMap<>(java.util.Arrays::compareUnsigned);
            if (!(changed && key == BIG_KEYS[BIG_KEYS.length - 1])) {
                for (int i = 0; i < size(key); i++) {
                    if (!(changed && i % 4 == 1)) {
                        expected.put(bytes(userKey(key, i)), "v" + i);
                    }
                    if (changed && i % 10 == 3) {
                        expected.put(bytes(newUserKey(key, i)), "new" + i);
                    }
                }
            }
            for (Map.Entry<byte[], String> e : expected.entrySet()) {
                assertThat(map.get(IntSerializer.INSTANCE.deserialize(
                        new org.apache.flink.core.memory.DataInputDeserializer(e.getKey())))).isEqualTo(e.getValue());
            }
            List<String> iterated = new ArrayList<>();
            for (Map.Entry<Integer, String> e : map.entries()) {
                iterated.add(e.getValue());
            }
            if (ordered) {
                assertThat(iterated).as("map of key %d, in the order of its serialized user keys", key)
                        .containsExactlyElementsOf(expected.values());
            } else {
                assertThat(iterated).as("map of key %d", key).containsExactlyInAnyOrderElementsOf(expected.values());
            }
            assertThat(map.isEmpty()).isEqualTo(expected.isEmpty());
        }
        List<Integer> withState = backend.getKeys(MAP.getName(), VoidNamespace.INSTANCE).sorted().toList();
        assertThat(withState).as("getKeys: each key once").isEqualTo(inRange.stream()
                .filter(k -> !(changed && k == BIG_KEYS[BIG_KEYS.length - 1])).sorted().toList());
    }

    private static byte[] bytes(int userKey) {
        return new byte[] {(byte) (userKey >>> 24), (byte) (userKey >>> 16), (byte) (userKey >>> 8), (byte) userKey};
    }
}

package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Keys of any size: composite keys from a few bytes to 12 KiB (a long namespace; map user keys
 * like the whole row a SQL join without a unique key stores), far over half of zstate's 1 KiB
 * pages. Canonical savepoints with such keys written by RocksDB and HashMap restore into zstate
 * (a tiny pool, so the key blobs are in every tier), change there, and restore back; zstate's own
 * checkpoints round-trip them; every entry is checked, by point reads and by iteration. Before,
 * any key over about half a page failed ("key of 514 bytes is too large for pages of 1024 bytes").
 */
class BigKeyStateTest {

    private static final int KEY_GROUPS = 8;
    private static final int KEYS = 120;
    private static final ValueStateDescriptor<String> VALUE = new ValueStateDescriptor<>("value", String.class);
    private static final ListStateDescriptor<String> LIST = new ListStateDescriptor<>("list", String.class);
    private static final MapStateDescriptor<String, String> ROWS =
            new MapStateDescriptor<>("rows", String.class, String.class);

    @ParameterizedTest(name = "{0} -> zstate -> the other")
    @ValueSource(strings = {"rocksdb", "hashmap"})
    void canonicalSavepointsWithBigKeysMoveBothWays(String first) throws Exception {
        StateBackend from = first.equals("rocksdb") ? new EmbeddedRocksDBStateBackend() : new HashMapStateBackend();
        StateBackend to = first.equals("rocksdb") ? new HashMapStateBackend() : new EmbeddedRocksDBStateBackend();
        KeyedStateHandle savepoint;
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(from, env, KEY_GROUPS, List.of());
            write(backend, 0);
            savepoint = KeyedBackends.savepoint(backend);
            KeyedBackends.dispose(backend);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                    ZStateBackendTest.backend("zbud-tiny-pool"), env, KEY_GROUPS, List.of(savepoint));
            verify(backend, 1);
            write(backend, 1);
            verify(backend, 2);
            savepoint = KeyedBackends.savepoint(backend);
            KeyedBackends.dispose(backend);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(to, env, KEY_GROUPS, List.of(savepoint));
            verify(backend, 2);
            KeyedBackends.dispose(backend);
        }
    }

    @Test
    void zstatesOwnCheckpointsKeepBigKeysAndDeletesFreeThem() throws Exception {
        KeyedStateHandle checkpoint;
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                    ZStateBackendTest.backend("zbud-tiny-pool"), env, KEY_GROUPS, List.of());
            write(backend, 0);
            write(backend, 1);
            checkpoint = KeyedBackends.checkpoint(backend);
            KeyedBackends.dispose(backend);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                    ZStateBackendTest.backend("zsmalloc"), env, KEY_GROUPS, List.of(checkpoint));
            verify(backend, 2);
            // remove every row again: the map of each key is then empty
            for (int key = 0; key < KEYS; key++) {
                backend.setCurrentKey(key);
                MapState<String, String> rows = backend.getPartitionedState(namespace(key),
                        StringSerializer.INSTANCE, ROWS);
                for (String row : rowKeys(key, 2)) {
                    assertThat(rows.contains(row)).isTrue();
                    rows.remove(row);
                    assertThat(rows.contains(row)).isFalse();
                }
                assertThat(rows.isEmpty()).as("rows of key %d", key).isTrue();
            }
            KeyedBackends.dispose(backend);
        }
    }

    /** A namespace of 1 to 12 KiB: every composite key of the key is that long at least. */
    private static String namespace(int key) {
        return "window-" + key % 4 + "-" + "n".repeat(key % 3 == 0 ? 20 : 1000 + key * 97 % 11_000);
    }

    /** A row as a SQL join without a unique key stores it: the whole row is the user key. */
    private static List<String> rowKeys(int key, int rounds) {
        List<String> rows = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < 3; i++) {
                rows.add("row|" + key + "|" + round + "|" + i + "|" + "payload-".repeat(60 + (key * 7 + i) % 300));
            }
        }
        return rows;
    }

    private static void write(CheckpointableKeyedStateBackend<Integer> backend, int round) throws Exception {
        for (int key = 0; key < KEYS; key++) {
            backend.setCurrentKey(key);
            String ns = namespace(key);
            ValueState<String> value = backend.getPartitionedState(ns, StringSerializer.INSTANCE, VALUE);
            ListState<String> list = backend.getPartitionedState(ns, StringSerializer.INSTANCE, LIST);
            MapState<String, String> rows = backend.getPartitionedState(ns, StringSerializer.INSTANCE, ROWS);
            value.update("value of " + key + " after round " + round);
            list.add("element " + round + " of " + key);
            List<String> all = rowKeys(key, round + 1);
            for (String row : all.subList(3 * round, all.size())) {
                rows.put(row, "count " + row.length());
            }
        }
    }

    private static void verify(CheckpointableKeyedStateBackend<Integer> backend, int rounds) throws Exception {
        for (int key = 0; key < KEYS; key++) {
            backend.setCurrentKey(key);
            String ns = namespace(key);
            ValueState<String> value = backend.getPartitionedState(ns, StringSerializer.INSTANCE, VALUE);
            ListState<String> list = backend.getPartitionedState(ns, StringSerializer.INSTANCE, LIST);
            MapState<String, String> rows = backend.getPartitionedState(ns, StringSerializer.INSTANCE, ROWS);
            assertThat(value.value()).as("value of key %d", key).isEqualTo("value of " + key + " after round " + (rounds - 1));
            List<String> expectedList = new ArrayList<>();
            for (int round = 0; round < rounds; round++) {
                expectedList.add("element " + round + " of " + key);
            }
            assertThat(list.get()).as("list of key %d", key).containsExactlyElementsOf(expectedList);
            Map<String, String> expectedRows = new HashMap<>();
            for (String row : rowKeys(key, rounds)) {
                expectedRows.put(row, "count " + row.length());
                assertThat(rows.get(row)).as("row of key %d", key).isEqualTo("count " + row.length());
            }
            Map<String, String> iterated = new HashMap<>();
            for (Map.Entry<String, String> e : rows.entries()) {
                assertThat(iterated.put(e.getKey(), e.getValue())).isNull();
            }
            assertThat(iterated).as("rows of key %d", key).isEqualTo(expectedRows);
        }
    }
}

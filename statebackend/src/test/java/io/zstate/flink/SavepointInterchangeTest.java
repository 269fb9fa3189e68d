package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.junit.jupiter.api.Test;

/**
 * Canonical savepoints move between zstate and the stock backends in both directions: state
 * written on RocksDB is restored on zstate, changed there, and restored on HashMap; and the same
 * starting from HashMap. Value, list and map state are compared with a model after every step.
 */
class SavepointInterchangeTest {

    private static final int KEY_GROUPS = 10;
    private static final ValueStateDescriptor<Long> COUNT = new ValueStateDescriptor<>("count", Long.class);
    private static final ListStateDescriptor<String> EVENTS = new ListStateDescriptor<>("events", String.class);
    private static final MapStateDescriptor<String, Integer> CLICKS =
            new MapStateDescriptor<>("clicks", String.class, Integer.class);

    /** What the state should be: per key, the count, the events and the clicks. */
    private final Map<Integer, Long> counts = new TreeMap<>();
    private final Map<Integer, List<String>> events = new TreeMap<>();
    private final Map<Integer, Map<String, Integer>> clicks = new TreeMap<>();

    @Test
    void rocksDbToZstateToHashMap() throws Exception {
        roundTrip(new EmbeddedRocksDBStateBackend(), new HashMapStateBackend());
    }

    @Test
    void hashMapToZstateToRocksDb() throws Exception {
        roundTrip(new HashMapStateBackend(), new EmbeddedRocksDBStateBackend());
    }

    private void roundTrip(StateBackend first, StateBackend last) throws Exception {
        KeyedStateHandle savepoint;
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = create(first, env, List.of());
            // Flink's HashMap backend cannot write null map values with a non-null-safe serializer
            // (its savepoint writer serializes them), so it starts without any
            write(backend, 0, 300, !(first instanceof HashMapStateBackend));
            verify(backend);
            savepoint = KeyedBackends.savepoint(backend);
            KeyedBackends.dispose(backend);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend =
                    create(ZStateBackendTest.backend("zbud-tiny-pool"), env, List.of(savepoint));
            verify(backend);
            write(backend, 150, 450, true); // change half of the keys, add new ones
            delete(backend, 0, 50);
            verify(backend);
            savepoint = KeyedBackends.savepoint(backend);
            KeyedBackends.dispose(backend);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = create(last, env, List.of(savepoint));
            verify(backend);
            KeyedBackends.dispose(backend);
        }
    }

    private static CheckpointableKeyedStateBackend<Integer> create(
            StateBackend backend, MockEnvironment env, List<KeyedStateHandle> handles) throws Exception {
        return KeyedBackends.create(backend, env, KEY_GROUPS, handles);
    }

    private void write(CheckpointableKeyedStateBackend<Integer> backend, int from, int to, boolean nullValues)
            throws Exception {
        ValueState<Long> count = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, COUNT);
        ListState<String> list = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, EVENTS);
        MapState<String, Integer> map = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, CLICKS);
        for (int key = from; key < to; key++) {
            backend.setCurrentKey(key);
            long c = counts.getOrDefault(key, 0L) + key;
            count.update(c);
            counts.put(key, c);
            String event = "click:/product/" + key + "/" + (events.containsKey(key) ? "again" : "first");
            list.add(event);
            events.computeIfAbsent(key, k -> new ArrayList<>()).add(event);
            String page = "/page/" + (key % 7);
            int clicked = clicks.computeIfAbsent(key, k -> new HashMap<>()).merge(page, 1, Integer::sum);
            map.put(page, clicked);
            if (nullValues && key % 5 == 0) {
                map.put("/none/" + key, null); // null map values travel too
                clicks.get(key).put("/none/" + key, null);
            }
        }
    }

    private void delete(CheckpointableKeyedStateBackend<Integer> backend, int from, int to) throws Exception {
        for (int key = from; key < to; key++) {
            backend.setCurrentKey(key);
            backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, COUNT).clear();
            backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, EVENTS).clear();
            backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, CLICKS).clear();
            counts.remove(key);
            events.remove(key);
            clicks.remove(key);
        }
    }

    private void verify(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        ValueState<Long> count = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, COUNT);
        ListState<String> list = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, EVENTS);
        MapState<String, Integer> map = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, CLICKS);
        for (int key = 0; key < 500; key++) {
            backend.setCurrentKey(key);
            assertThat(count.value()).as("count of key %d", key).isEqualTo(counts.get(key));
            List<String> listed = new ArrayList<>();
            Iterable<String> got = list.get();
            if (got != null) {
                got.forEach(listed::add);
            }
            assertThat(listed).as("events of key %d", key).isEqualTo(events.getOrDefault(key, List.of()));
            Map<String, Integer> mapped = new HashMap<>();
            for (Map.Entry<String, Integer> e : map.entries()) {
                mapped.put(e.getKey(), e.getValue());
            }
            assertThat(mapped).as("clicks of key %d", key).isEqualTo(clicks.getOrDefault(key, Map.of()));
        }
    }
}

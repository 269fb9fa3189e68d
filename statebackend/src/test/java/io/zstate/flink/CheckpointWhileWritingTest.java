package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.pagestore.PageStoreStats;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RunnableFuture;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StateBackendTestBase;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.memory.MemCheckpointStreamFactory;
import org.junit.jupiter.api.Test;

/**
 * Checkpoints whose asynchronous part runs on another thread while the task keeps writing, with a
 * pool small enough that the pinned copies are reclaimed and written back meanwhile: each
 * checkpoint restores exactly the state at its barrier, overlapping checkpoints included, and
 * once they are done no pin is left. (A checkpoint cancelled by dispose: the lifecycle test.)
 */
class CheckpointWhileWritingTest {

    private static final int KEY_GROUPS = 8;
    private static final int KEYS = 6_000;

    @Test
    void overlappingCheckpointsEachRestoreTheirBarrier() throws Exception {
        ExecutorService asyncPart = Executors.newSingleThreadExecutor();
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                    ZStateBackendTest.backend("zsmalloc-tiny-pool"), env, KEY_GROUPS, List.of());
            ValueState<String> value = value(backend);
            MapState<Integer, String> map = map(backend);
            Map<Integer, String> values = new HashMap<>();
            Map<Integer, Map<Integer, String>> maps = new HashMap<>();
            List<Future<KeyedStateHandle>> handles = new ArrayList<>();
            List<Map<Integer, String>> valuesAtBarrier = new ArrayList<>();
            List<Map<Integer, Map<Integer, String>>> mapsAtBarrier = new ArrayList<>();
            for (int round = 0; round < 4; round++) {
                write(backend, value, map, values, maps, round);
                RunnableFuture<SnapshotResult<KeyedStateHandle>> checkpoint = backend.snapshot(round, round,
                        new MemCheckpointStreamFactory(64 << 20), CheckpointOptions.forCheckpointWithDefaultLocation());
                valuesAtBarrier.add(new HashMap<>(values));
                mapsAtBarrier.add(deepCopy(maps));
                handles.add(asyncPart.submit(
                        () -> StateBackendTestBase.runSnapshot(checkpoint, new SharedStateRegistryImpl())));
                write(backend, value, map, values, maps, round + 10); // the task goes on meanwhile
            }
            for (Future<KeyedStateHandle> handle : handles) {
                handle.get();
            }
            PageStoreStats stats = ((ZKeyedStateBackend<Integer>) backend).pageStoreStats();
            assertThat(stats.pinSaves()).as("copies were saved for the checkpoints").isPositive();
            assertThat(stats.openSnapshots()).isZero();
            assertThat(stats.pinnedPoolObjects()).isZero();
            assertThat(stats.pinnedSpilled()).isZero();
            KeyedBackends.dispose(backend);

            for (int i = 0; i < handles.size(); i++) {
                CheckpointableKeyedStateBackend<Integer> restored = KeyedBackends.create(
                        ZStateBackendTest.backend("zsmalloc"), env, KEY_GROUPS, List.of(handles.get(i).get()));
                assertHolds(restored, valuesAtBarrier.get(i), mapsAtBarrier.get(i));
                KeyedBackends.dispose(restored);
            }
        } finally {
            asyncPart.shutdownNow();
        }
    }

    private static ValueState<String> value(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        return backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                new ValueStateDescriptor<>("value", String.class));
    }

    private static MapState<Integer, String> map(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        return backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                new MapStateDescriptor<>("map", Integer.class, String.class));
    }

    /** One round of writes: every key's value changes or goes, and some keys' maps grow or shrink. */
    private static void write(CheckpointableKeyedStateBackend<Integer> backend, ValueState<String> value,
            MapState<Integer, String> map, Map<Integer, String> values, Map<Integer, Map<Integer, String>> maps,
            int round) throws Exception {
        for (int key = 0; key < KEYS; key++) {
            backend.setCurrentKey(key);
            if ((key + round) % 7 == 0) {
                value.clear();
                values.remove(key);
            } else {
                String v = "round " + round + " key " + key + " " + "x".repeat((key * 31 + round) % 40);
                value.update(v);
                values.put(key, v);
            }
            if (key % 50 == round % 50) {
                Map<Integer, String> entries = maps.computeIfAbsent(key, k -> new HashMap<>());
                for (int u = 0; u < 40; u++) {
                    String v = "u" + u + "@" + round;
                    map.put(u + round, v);
                    entries.put(u + round, v);
                }
                map.remove(round);
                entries.remove(round);
            }
        }
    }

    private static void assertHolds(CheckpointableKeyedStateBackend<Integer> backend, Map<Integer, String> values,
            Map<Integer, Map<Integer, String>> maps) throws Exception {
        ValueState<String> value = value(backend);
        MapState<Integer, String> map = map(backend);
        for (int key = 0; key < KEYS; key++) {
            backend.setCurrentKey(key);
            assertThat(value.value()).as("value of key %s", key).isEqualTo(values.get(key));
            Map<Integer, String> seen = new HashMap<>();
            for (Map.Entry<Integer, String> e : map.entries()) {
                seen.put(e.getKey(), e.getValue());
            }
            assertThat(seen).as("map of key %s", key).isEqualTo(maps.getOrDefault(key, Map.of()));
        }
    }

    private static Map<Integer, Map<Integer, String>> deepCopy(Map<Integer, Map<Integer, String>> maps) {
        Map<Integer, Map<Integer, String>> copy = new HashMap<>();
        maps.forEach((k, v) -> copy.put(k, new HashMap<>(v)));
        return copy;
    }
}

package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.junit.jupiter.api.Test;

/**
 * TTL cleanup in the background, zstate's compaction filter: 100,000 keys written once and never
 * read, the clock moved past their expiry, normal work on other keys, one checkpoint: once it
 * completes, at least 99% of the expired entries are gone from the live store, without any read of
 * those keys, and no expired value is visible anywhere (reads, getKeys, the next checkpoint).
 * Expired map entries go one by one, a list keeps its unexpired elements, and an entry written
 * after the checkpoint noted it stays. Incremental cleanup is off, so nothing else removes them;
 * with {@code disableCleanupInBackground} and no compaction-filter strategy nothing is removed.
 */
class ZStateTtlBackgroundCleanupTest {

    private static final int KEY_GROUPS = 16;
    private static final int OLD_KEYS = 100_000;
    private static final int FRESH_KEYS = 1_000;

    /** A TTL clock the test moves. */
    private static final class Clock implements TtlTimeProvider {
        long now = 1_000;

        @Override
        public long currentTimestamp() {
            return now;
        }
    }

    private static StateTtlConfig ttl(boolean background) {
        StateTtlConfig.Builder builder = StateTtlConfig.newBuilder(Duration.ofSeconds(10)).disableCleanupInBackground();
        return background ? builder.cleanupInRocksdbCompactFilter(1000).build() : builder.build();
    }

    @Test
    void aCheckpointRemovesWhatItFoundExpired() throws Exception {
        Clock clock = new Clock();
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(ZStateBackendTest.backend("zsmalloc"),
                    env, KEY_GROUPS, new KeyGroupRange(0, KEY_GROUPS - 1), List.of(), clock);
            ValueStateDescriptor<String> valueDescriptor = new ValueStateDescriptor<>("value", String.class);
            valueDescriptor.enableTimeToLive(ttl(true));
            MapStateDescriptor<Integer, String> mapDescriptor = new MapStateDescriptor<>("map", Integer.class, String.class);
            mapDescriptor.enableTimeToLive(ttl(true));
            ListStateDescriptor<String> listDescriptor = new ListStateDescriptor<>("list", String.class);
            listDescriptor.enableTimeToLive(ttl(true));
            ValueState<String> value = state(backend, valueDescriptor);
            MapState<Integer, String> map = mapState(backend, mapDescriptor);
            ListState<String> list = listState(backend, listDescriptor);

            for (int key = 0; key < OLD_KEYS; key++) {
                backend.setCurrentKey(key);
                value.update("old " + key);
            }
            for (int key = 0; key < 100; key++) { // maps of 200: 100 old entries, 100 written later
                backend.setCurrentKey(key);
                for (int i = 0; i < 100; i++) {
                    map.put(i, "old");
                }
                list.add("old element");
            }
            clock.now += 60_000; // past expiry
            for (int key = OLD_KEYS; key < OLD_KEYS + FRESH_KEYS; key++) { // normal work on other keys
                backend.setCurrentKey(key);
                value.update("fresh " + key);
                assertThat(value.value()).isEqualTo("fresh " + key);
            }
            for (int key = 0; key < 100; key++) {
                backend.setCurrentKey(key);
                for (int i = 100; i < 200; i++) {
                    map.put(i, "fresh");
                }
                list.add("fresh element");
            }
            int before = ((ZKeyedStateBackend<Integer>) backend).numKeyValueStateEntries();

            KeyedBackends.checkpoint(backend);
            backend.setCurrentKey(7);
            value.update("rewritten after the checkpoint noted it");
            ((ZKeyedStateBackend<Integer>) backend).notifyCheckpointComplete(1L);

            int after = ((ZKeyedStateBackend<Integer>) backend).numKeyValueStateEntries();
            int expired = OLD_KEYS + 100 * 100; // values and map entries; lists are rewritten, not removed
            assertThat(before - after).as("expired entries removed of %d", expired).isGreaterThanOrEqualTo(expired * 99 / 100 - 1);
            assertThat(backend.getKeys("value", VoidNamespace.INSTANCE).count()).isEqualTo(FRESH_KEYS + 1);
            backend.setCurrentKey(7);
            assertThat(value.value()).isEqualTo("rewritten after the checkpoint noted it");
            for (int key = 0; key < 100; key++) {
                backend.setCurrentKey(key);
                assertThat(map.keys()).hasSize(100).allMatch(i -> i >= 100);
                assertThat(list.get()).containsExactly("fresh element");
            }
            backend.setCurrentKey(8);
            assertThat(value.value()).isNull();

            KeyedStateHandle next = KeyedBackends.savepoint(backend);
            KeyedBackends.dispose(backend);
            try (MockEnvironment other = new MockEnvironmentBuilder().build()) {
                CheckpointableKeyedStateBackend<Integer> heap = KeyedBackends.create(new HashMapStateBackend(), other,
                        KEY_GROUPS, new KeyGroupRange(0, KEY_GROUPS - 1), List.of(next), clock);
                state(heap, valueDescriptor);
                assertThat(heap.getKeys("value", VoidNamespace.INSTANCE).count())
                        .as("the next snapshot holds no expired value").isEqualTo(FRESH_KEYS + 1);
                KeyedBackends.dispose(heap);
            }
        }
    }

    @Test
    void withoutBackgroundCleanupNothingIsRemoved() throws Exception {
        Clock clock = new Clock();
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(ZStateBackendTest.backend("zsmalloc"),
                    env, KEY_GROUPS, new KeyGroupRange(0, KEY_GROUPS - 1), List.of(), clock);
            ValueStateDescriptor<String> descriptor = new ValueStateDescriptor<>("value", String.class);
            descriptor.enableTimeToLive(ttl(false));
            ValueState<String> value = state(backend, descriptor);
            for (int key = 0; key < 1_000; key++) {
                backend.setCurrentKey(key);
                value.update("old " + key);
            }
            clock.now += 60_000;
            KeyedBackends.checkpoint(backend);
            ((ZKeyedStateBackend<Integer>) backend).notifyCheckpointComplete(1L);
            assertThat(((ZKeyedStateBackend<Integer>) backend).numKeyValueStateEntries()).isEqualTo(1_000);
            KeyedBackends.dispose(backend);
        }
    }

    private static ValueState<String> state(CheckpointableKeyedStateBackend<Integer> backend,
            ValueStateDescriptor<String> descriptor) throws Exception {
        return backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
    }

    private static MapState<Integer, String> mapState(CheckpointableKeyedStateBackend<Integer> backend,
            MapStateDescriptor<Integer, String> descriptor) throws Exception {
        return backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
    }

    private static ListState<String> listState(CheckpointableKeyedStateBackend<Integer> backend,
            ListStateDescriptor<String> descriptor) throws Exception {
        return backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
    }

}

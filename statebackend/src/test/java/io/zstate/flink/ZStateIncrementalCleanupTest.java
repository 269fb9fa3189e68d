package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.ttl.MockTtlTimeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Flink's incremental TTL cleanup ({@code StateTtlConfig.cleanupIncrementally}) on zstate: states
 * written once and never read again leave the store while the job works on other keys, through
 * zstate's incremental state visitor; unexpired states (a value, a list, a map with some expired
 * and some fresh entries) are kept intact. Counted in the store itself
 * ({@code numKeyValueStateEntries}), not through reads, which would clean up anyway.
 */
class ZStateIncrementalCleanupTest {

    private static final int KEY_GROUPS = 16;
    private static final int OLD_KEYS = 3_000;
    private static final int LIVE_KEYS = 50;
    private static final long TTL = 1_000;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"zsmalloc", "zbud-tiny-pool"})
    void expiredStatesLeaveTheStoreWithoutBeingRead(String setup) throws Exception {
        MockTtlTimeProvider clock = new MockTtlTimeProvider();
        clock.time = 0;
        StateTtlConfig ttl = StateTtlConfig.newBuilder(Duration.ofMillis(TTL))
                .cleanupIncrementally(20, true)
                .build();
        ValueStateDescriptor<String> valueDescriptor = new ValueStateDescriptor<>("value", String.class);
        ListStateDescriptor<String> listDescriptor = new ListStateDescriptor<>("list", String.class);
        MapStateDescriptor<Integer, String> mapDescriptor = new MapStateDescriptor<>("map", Integer.class, String.class);
        valueDescriptor.enableTimeToLive(ttl);
        listDescriptor.enableTimeToLive(ttl);
        mapDescriptor.enableTimeToLive(ttl);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = ZStateBackendTest.backend(setup).createKeyedStateBackend(
                    new KeyedStateBackendParametersImpl<>(env, new JobID(), "ttl", IntSerializer.INSTANCE,
                            KEY_GROUPS, new KeyGroupRange(0, KEY_GROUPS - 1), env.getTaskKvStateRegistry(), clock,
                            new UnregisteredMetricsGroup(), (n, v) -> {}, List.of(), new CloseableRegistry(), 1.0));
            try {
                ValueState<String> value = backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, valueDescriptor);
                ListState<String> list = backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, listDescriptor);
                MapState<Integer, String> map = backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, mapDescriptor);
                // old keys: written once at time 0, never read again
                for (int key = 0; key < OLD_KEYS; key++) {
                    backend.setCurrentKey(key);
                    value.update("old value " + key);
                    list.add("old element " + key);
                    map.put(1, "old entry " + key);
                    map.put(2, "old entry " + key);
                }
                int stored = ((org.apache.flink.runtime.state.AbstractKeyedStateBackend<Integer>) backend)
                        .numKeyValueStateEntries();
                assertThat(stored).isEqualTo(OLD_KEYS * 4);
                // a live key whose map keeps one entry from before expiry and gets fresh ones later
                backend.setCurrentKey(-1);
                map.put(1, "expires");
                clock.time = TTL + 1;
                map.put(2, "fresh");
                // normal work on other keys, long after the old keys expired: each access cleans a few
                for (int round = 0; round < 40; round++) {
                    for (int key = -LIVE_KEYS; key < 0; key++) {
                        backend.setCurrentKey(key);
                        value.update("live " + round);
                    }
                }
                int left = ((org.apache.flink.runtime.state.AbstractKeyedStateBackend<Integer>) backend)
                        .numKeyValueStateEntries();
                // what must remain: the live keys' values and the live map's fresh entry
                assertThat(left).as("stored entries left of %d", stored).isEqualTo(LIVE_KEYS + 1);
                backend.setCurrentKey(-1);
                assertThat(map.get(2)).isEqualTo("fresh");
                assertThat(map.get(1)).isNull();
                assertThat(value.value()).isEqualTo("live 39");
                backend.setCurrentKey(7);
                assertThat(value.value()).isNull();
                assertThat(list.get()).isNullOrEmpty();
            } finally {
                backend.close();
                backend.dispose();
            }
        }
    }

    /**
     * Maps keyed by a type without value equality (byte[]): the cleanup keeps a map's unexpired
     * entries by the very key objects it decoded, so fresh entries survive beside expired ones
     * (matching freshly decoded byte[] keys found none and deleted the fresh entries too).
     */
    @Test
    void mapsKeyedByByteArraysKeepTheirFreshEntries() throws Exception {
        MockTtlTimeProvider clock = new MockTtlTimeProvider();
        clock.time = 0;
        MapStateDescriptor<byte[], String> descriptor = new MapStateDescriptor<>("bytes",
                org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO,
                org.apache.flink.api.common.typeinfo.Types.STRING);
        descriptor.enableTimeToLive(StateTtlConfig.newBuilder(Duration.ofMillis(TTL)).cleanupIncrementally(20, true).build());
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = ZStateBackendTest.backend("zsmalloc").createKeyedStateBackend(
                    new KeyedStateBackendParametersImpl<>(env, new JobID(), "ttl", IntSerializer.INSTANCE,
                            KEY_GROUPS, new KeyGroupRange(0, KEY_GROUPS - 1), env.getTaskKvStateRegistry(), clock,
                            new UnregisteredMetricsGroup(), (n, v) -> {}, List.of(), new CloseableRegistry(), 1.0));
            try {
                MapState<byte[], String> map = backend.getPartitionedState(
                        VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, descriptor);
                for (int key = 0; key < 200; key++) {
                    backend.setCurrentKey(key);
                    map.put(new byte[] {1, (byte) key}, "old");
                }
                clock.time = TTL + 1;
                for (int key = 0; key < 200; key++) {
                    backend.setCurrentKey(key);
                    map.put(new byte[] {2, (byte) key}, "fresh");
                }
                for (int round = 0; round < 40; round++) { // accesses that run the cleanup over every map
                    for (int key = -50; key < 0; key++) {
                        backend.setCurrentKey(key);
                        map.put(new byte[] {3}, "live");
                    }
                }
                for (int key = 0; key < 200; key++) {
                    backend.setCurrentKey(key);
                    List<String> values = new java.util.ArrayList<>();
                    map.values().forEach(values::add);
                    assertThat(values).as("map of key %d", key).containsExactly("fresh");
                }
            } finally {
                backend.close();
                backend.dispose();
            }
        }
    }

    /**
     * The cleanup judges a copy and acts later (Flink works through a batch over many state
     * accesses): whatever the task wrote since the copy must survive the cleanup's remove and
     * update; only entries unchanged since the copy go.
     */
    @SuppressWarnings("unchecked")
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"zsmalloc", "zbud-tiny-pool"})
    void theCleanupNeverUndoesAWriteMadeAfterItsCopy(String setup) throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend =
                    KeyedBackends.create(ZStateBackendTest.backend(setup), env, KEY_GROUPS, List.of());
            try {
                ValueState<String> value = backend.getPartitionedState(VoidNamespace.INSTANCE,
                        VoidNamespaceSerializer.INSTANCE, new ValueStateDescriptor<>("value", String.class));
                MapState<Integer, String> map = backend.getPartitionedState(VoidNamespace.INSTANCE,
                        VoidNamespaceSerializer.INSTANCE, new MapStateDescriptor<>("map", Integer.class, String.class));
                for (int key = 0; key < 200; key++) {
                    backend.setCurrentKey(key);
                    value.update("old " + key);
                    map.put(1, "old one " + key);
                    map.put(2, "old two " + key);
                }
                var values = ((org.apache.flink.runtime.state.internal.InternalKvState<Integer, VoidNamespace, String>) value)
                        .getStateIncrementalVisitor(1_000);
                var maps = ((org.apache.flink.runtime.state.internal.InternalKvState<Integer, VoidNamespace,
                        java.util.Map<Integer, String>>) map).getStateIncrementalVisitor(1_000);
                List<org.apache.flink.runtime.state.StateEntry<Integer, VoidNamespace, String>> valueCopies =
                        new java.util.ArrayList<>();
                List<org.apache.flink.runtime.state.StateEntry<Integer, VoidNamespace, java.util.Map<Integer, String>>>
                        mapCopies = new java.util.ArrayList<>();
                while (values.hasNext()) {
                    valueCopies.addAll(values.nextEntries());
                }
                while (maps.hasNext()) {
                    mapCopies.addAll(maps.nextEntries());
                }
                assertThat(valueCopies).hasSize(200);
                assertThat(mapCopies).hasSize(200);
                // the task writes even keys after the copies were taken
                for (int key = 0; key < 200; key += 2) {
                    backend.setCurrentKey(key);
                    value.update("new " + key);
                    map.put(2, "new two " + key);
                    map.put(3, "new three " + key);
                }
                // the cleanup removes every value and drops user key 2 from every map, judging its copies
                for (var entry : valueCopies) {
                    values.remove(entry);
                }
                for (var entry : mapCopies) {
                    java.util.Map<Integer, String> kept = new java.util.HashMap<>(entry.getState());
                    kept.remove(2);
                    maps.update(entry, kept);
                }
                for (int key = 0; key < 200; key++) {
                    backend.setCurrentKey(key);
                    boolean written = key % 2 == 0;
                    assertThat(value.value()).as("value of key %d", key).isEqualTo(written ? "new " + key : null);
                    assertThat(map.get(1)).isEqualTo("old one " + key);
                    assertThat(map.get(2)).as("user key 2 of key %d", key).isEqualTo(written ? "new two " + key : null);
                    assertThat(map.get(3)).isEqualTo(written ? "new three " + key : null);
                }
            } finally {
                KeyedBackends.dispose(backend);
            }
        }
    }
}

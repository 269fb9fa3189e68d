package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.flink.iterator.ZFrozenStatesIterator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.FullSnapshotResources;
import org.apache.flink.runtime.state.KeyValueStateIterator;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.junit.jupiter.api.Test;

/**
 * A snapshot walks the frozen store a batch at a time: a map of 60,000 entries under one key is
 * written leaf by leaf, never buffered whole on the heap, and the iterator still yields every
 * entry once, grouped by key-group and then by state as the canonical format wants.
 */
class SnapshotBatchesTest {

    private static final int KEY_GROUPS = 4;

    @Test
    void aHugeMapIsWrittenALeafAtATime() throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                    ZStateBackendTest.backend("zsmalloc"), env, KEY_GROUPS, List.of());
            MapState<Integer, String> map = backend.getPartitionedState(VoidNamespace.INSTANCE,
                    VoidNamespaceSerializer.INSTANCE, new MapStateDescriptor<>("map", Integer.class, String.class));
            ValueState<String> value = backend.getPartitionedState(VoidNamespace.INSTANCE,
                    VoidNamespaceSerializer.INSTANCE, new ValueStateDescriptor<>("value", String.class));
            backend.setCurrentKey(42);
            for (int i = 0; i < 60_000; i++) {
                map.put(i, "entry " + i);
            }
            for (int key = 0; key < 300; key++) {
                backend.setCurrentKey(key);
                value.update("v" + key);
                map.put(-1, "small " + key);
            }
            FullSnapshotResources<Integer> resources = backend.savepoint().getSnapshotResources();
            Map<Integer, Integer> perState = new HashMap<>();
            int lastKeyGroup = -1;
            int lastState = -1;
            java.util.Set<String> seenRuns = new java.util.HashSet<>();
            try (KeyValueStateIterator it = resources.createKVStateIterator()) {
                for (; it.isValid(); it.next()) {
                    boolean newGroup = it.keyGroup() != lastKeyGroup;
                    assertThat(it.isNewKeyGroup()).as("new key-group flag").isEqualTo(newGroup);
                    assertThat(it.isNewKeyValueState()).as("new state flag")
                            .isEqualTo(newGroup || it.kvStateId() != lastState);
                    if (it.isNewKeyValueState()) {
                        assertThat(seenRuns.add(it.keyGroup() + "/" + it.kvStateId()))
                                .as("one run per key-group and state").isTrue();
                    }
                    assertThat(it.keyGroup()).isGreaterThanOrEqualTo(lastKeyGroup);
                    lastKeyGroup = it.keyGroup();
                    lastState = it.kvStateId();
                    perState.merge(it.kvStateId(), 1, Integer::sum);
                }
                assertThat(((ZFrozenStatesIterator) it).largestBatch())
                        .as("entries buffered at once").isLessThan(2_000);
            } finally {
                resources.release();
            }
            assertThat(perState.values()).containsExactlyInAnyOrder(60_000 + 300 - 1 + 1, 300);
            KeyedBackends.dispose(backend);
        }
    }
}

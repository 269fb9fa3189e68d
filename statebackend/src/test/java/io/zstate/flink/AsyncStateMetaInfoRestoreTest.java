package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
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
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.FullSnapshotResources;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyValueStateIterator;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.RegisteredStateMetaInfoUtils;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.StreamCompressionDecorator;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot.BackendStateType;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A canonical savepoint whose states are described by V2 meta info (the async state API's: list
 * states by their element serializer, map states by separate user-key and value serializers)
 * restores into zstate with every entry, and zstate's next savepoint restores into HashMap.
 *
 * <p>Flink 2.3 writes V2 meta info in ForSt's native snapshots, and refuses a canonical savepoint
 * of an async-state operator ("Not supported yet", {@code StreamOperatorStateHandler}), so no
 * stock job writes this savepoint today. The test writes it with Flink's own parts: a HashMap or
 * RocksDB backend's savepoint resources, with each state's meta info converted to V2 by Flink's
 * {@link RegisteredStateMetaInfoUtils#createMetaInfoV2FromV1Snapshot}, written by Flink's
 * savepoint strategy. Key and value bytes are the same in both forms. Before the fix, zstate's
 * restore cast the V2 meta info to the V1 class and failed with a ClassCastException.
 */
class AsyncStateMetaInfoRestoreTest {

    private static final int KEY_GROUPS = 16;
    private static final int KEYS = 400;
    private static final ValueStateDescriptor<Long> COUNT = new ValueStateDescriptor<>("count", Long.class);
    private static final ListStateDescriptor<String> EVENTS = new ListStateDescriptor<>("events", String.class);
    private static final MapStateDescriptor<String, Long> CLICKS =
            new MapStateDescriptor<>("clicks", String.class, Long.class);

    @ParameterizedTest(name = "written by {0}")
    @ValueSource(strings = {"hashmap", "rocksdb"})
    void aSavepointWithV2MetaInfoRestoresEveryEntry(String writer) throws Exception {
        StateBackend first = writer.equals("hashmap") ? new HashMapStateBackend() : new EmbeddedRocksDBStateBackend();
        RewrittenMetaInfo[] rewritten = new RewrittenMetaInfo[1]; // its written: how the savepoint described its states
        KeyedStateHandle savepoint;
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(first, env, KEY_GROUPS, List.of());
            write(backend);
            savepoint = KeyedBackends.savepoint(backend, resources -> rewritten[0] = new RewrittenMetaInfo(resources,
                    meta -> meta.getBackendStateType() == BackendStateType.KEY_VALUE
                            ? RegisteredStateMetaInfoUtils.createMetaInfoV2FromV1Snapshot(meta).snapshot()
                            : meta));
            KeyedBackends.dispose(backend);
        }
        assertThat(rewritten[0].written).extracting(StateMetaInfoSnapshot::getBackendStateType)
                .as("the savepoint describes its states with V2 meta info")
                .containsOnly(BackendStateType.KEY_VALUE_V2)
                .hasSize(3);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                    ZStateBackendTest.backend("zbud-tiny-pool"), env, KEY_GROUPS, List.of(savepoint));
            verify(backend);
            savepoint = KeyedBackends.savepoint(backend);
            KeyedBackends.dispose(backend);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend =
                    KeyedBackends.create(new HashMapStateBackend(), env, KEY_GROUPS, List.of(savepoint));
            verify(backend);
            KeyedBackends.dispose(backend);
        }
    }

    private static void write(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        ValueState<Long> count = state(backend, COUNT);
        ListState<String> events = state(backend, EVENTS);
        MapState<String, Long> clicks = state(backend, CLICKS);
        for (int key = 0; key < KEYS; key++) {
            backend.setCurrentKey(key);
            count.update((long) key * 7);
            for (String event : events(key)) {
                events.add(event);
            }
            clicks.putAll(clicks(key));
        }
    }

    private static void verify(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        ValueState<Long> count = state(backend, COUNT);
        ListState<String> events = state(backend, EVENTS);
        MapState<String, Long> clicks = state(backend, CLICKS);
        for (int key = 0; key < KEYS; key++) {
            backend.setCurrentKey(key);
            assertThat(count.value()).as("count of key %d", key).isEqualTo(key * 7L);
            List<String> listed = new ArrayList<>();
            events.get().forEach(listed::add);
            assertThat(listed).as("events of key %d", key).isEqualTo(events(key));
            Map<String, Long> mapped = new HashMap<>();
            clicks.entries().forEach(e -> mapped.put(e.getKey(), e.getValue()));
            assertThat(mapped).as("clicks of key %d", key).isEqualTo(clicks(key));
            assertThat(clicks.get("/page/0")).isEqualTo((long) key);
        }
    }

    private static List<String> events(int key) {
        List<String> events = new ArrayList<>();
        for (int i = 0; i <= key % 5; i++) {
            events.add("click:/product/" + key + "/" + i);
        }
        return events;
    }

    private static Map<String, Long> clicks(int key) {
        Map<String, Long> clicks = new HashMap<>();
        for (int page = 0; page <= key % 7; page++) {
            clicks.put("/page/" + page, (long) key + page);
        }
        return clicks;
    }

    @SuppressWarnings("unchecked")
    private static <S extends org.apache.flink.api.common.state.State> S state(
            CheckpointableKeyedStateBackend<Integer> backend, org.apache.flink.api.common.state.StateDescriptor<S, ?> d)
            throws Exception {
        return backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, d);
    }
}

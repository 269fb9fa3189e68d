package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.runtime.testutils.statemigration.TestType;
import org.apache.flink.util.ExceptionUtils;
import org.apache.flink.util.StateMigrationException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Schema evolution through a checkpoint and through a canonical savepoint, state by state, with
 * every entry read back: value, list element, map value and map user-key serializers that need
 * migration (Flink's {@code TestType} V1 to V2 serializers: V2 writes an extra field and checks
 * it on read, so an entry left in the V1 format fails loudly), and incompatible serializers, which
 * are refused. Flink's HashMap backend runs the same scenario as the oracle.
 *
 * <p>The map user-key case is the one that lost data silently: zstate finds a map entry by its
 * stored key bytes, so keys left in the old format were unreachable after the change (get
 * returned null, a put added a duplicate). zstate now migrates the keys too, as HashMap does.
 */
class ZStateSchemaEvolutionTest {

    private static final int KEY_GROUPS = 16;
    private static final int KEYS = 300;
    private static final int MAP_ENTRIES = 12;

    private static final TypeSerializer<TestType> V1 = new TestType.V1TestTypeSerializer();
    private static final TypeSerializer<TestType> V2 = new TestType.V2TestTypeSerializer();
    private static final TypeSerializer<TestType> INCOMPATIBLE = new TestType.IncompatibleTestTypeSerializer();

    @ParameterizedTest(name = "{0} through a {1}")
    @CsvSource({"zstate, checkpoint", "zstate, savepoint", "zstate-tiny-pool, checkpoint",
            "zstate-tiny-pool, savepoint", "hashmap, checkpoint", "hashmap, savepoint"})
    void everySerializerThatNeedsMigrationMigratesEveryEntry(String backendName, String snapshot) throws Exception {
        StateBackend backend = backend(backendName);
        KeyedStateHandle handle = writtenWithV1(backend, snapshot);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = create(backend, env, List.of(handle));
            verify(keyed, V2, V2, V2, V2);
            // a put of an existing user key replaces it: no duplicate beside a stale old-format key
            MapState<TestType, TestType> map = map(keyed, V2, V2);
            for (int key = 0; key < KEYS; key++) {
                keyed.setCurrentKey(key);
                map.put(userKey(key, 0), new TestType("again", key));
                int size = 0;
                for (TestType ignored : map.keys()) {
                    size++;
                }
                assertThat(size).as("entries of key %d after a put of an existing user key", key)
                        .isEqualTo(MAP_ENTRIES);
                assertThat(map.get(userKey(key, 0))).isEqualTo(new TestType("again", key));
                map.put(userKey(key, 0), mapValue(key, 0)); // back to what verify expects
            }
            handle = KeyedBackends.snapshot(keyed, snapshot);
            KeyedBackends.dispose(keyed);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = create(backend, env, List.of(handle));
            verify(keyed, V2, V2, V2, V2); // the migrated entries were written in the new format
            KeyedBackends.dispose(keyed);
        }
    }

    @ParameterizedTest(name = "{0} through a {1}")
    @CsvSource({"zstate, checkpoint", "zstate, savepoint", "hashmap, checkpoint", "hashmap, savepoint"})
    void onlyTheMapUserKeyChanges(String backendName, String snapshot) throws Exception {
        StateBackend backend = backend(backendName);
        KeyedStateHandle handle = writtenWithV1(backend, snapshot);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = create(backend, env, List.of(handle));
            verify(keyed, V1, V1, V2, V1);
            KeyedBackends.dispose(keyed);
        }
    }

    @ParameterizedTest(name = "{0} state through a {1}")
    @CsvSource({"value, checkpoint", "value, savepoint", "list, checkpoint", "list, savepoint",
            "map-value, checkpoint", "map-value, savepoint", "map-key, checkpoint", "map-key, savepoint"})
    void anIncompatibleSerializerIsRefused(String changed, String snapshot) throws Exception {
        StateBackend backend = backend("zstate");
        KeyedStateHandle handle = writtenWithV1(backend, snapshot);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = create(backend, env, List.of(handle));
            try {
                assertThatThrownBy(() -> {
                    switch (changed) {
                        case "value" -> value(keyed, INCOMPATIBLE);
                        case "list" -> list(keyed, INCOMPATIBLE);
                        case "map-value" -> map(keyed, V1, INCOMPATIBLE);
                        default -> map(keyed, INCOMPATIBLE, V1);
                    }
                }).satisfies(e -> assertThat(ExceptionUtils.findThrowable(e, StateMigrationException.class))
                        .as("a StateMigrationException in %s", e).hasValueSatisfying(m -> assertThat(m.getMessage())
                                .contains("must not be incompatible").contains("of state " + stateName(changed))));
            } finally {
                KeyedBackends.dispose(keyed);
            }
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = create(backend, env, List.of(handle));
            verify(keyed, V1, V1, V1, V1); // the refusal lost nothing: the same snapshot restores with V1
            KeyedBackends.dispose(keyed);
        }
    }

    private static String stateName(String changed) {
        return changed.startsWith("map") ? "map" : changed;
    }

    /** The state written with the V1 serializers everywhere, then checkpointed or savepointed. */
    private static KeyedStateHandle writtenWithV1(StateBackend backend, String snapshot) throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = create(backend, env, List.of());
            write(keyed, V1, V1, V1, V1);
            KeyedStateHandle handle = KeyedBackends.snapshot(keyed, snapshot);
            KeyedBackends.dispose(keyed);
            return handle;
        }
    }

    private static StateBackend backend(String name) {
        return switch (name) {
            case "zstate" -> ZStateBackendTest.backend("zsmalloc");
            case "zstate-tiny-pool" -> ZStateBackendTest.backend("zbud-tiny-pool");
            case "hashmap" -> new HashMapStateBackend();
            default -> throw new IllegalArgumentException(name);
        };
    }

    // ---- the state and what it should hold ---------------------------------------------------------

    private static ValueState<TestType> value(CheckpointableKeyedStateBackend<Integer> keyed,
            TypeSerializer<TestType> serializer) throws Exception {
        return keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                new ValueStateDescriptor<>("value", serializer));
    }

    private static ListState<TestType> list(CheckpointableKeyedStateBackend<Integer> keyed,
            TypeSerializer<TestType> element) throws Exception {
        return keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                new ListStateDescriptor<>("list", element));
    }

    private static MapState<TestType, TestType> map(CheckpointableKeyedStateBackend<Integer> keyed,
            TypeSerializer<TestType> userKey, TypeSerializer<TestType> value) throws Exception {
        return keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                new MapStateDescriptor<>("map", userKey, value));
    }

    private static TestType userKey(int key, int entry) {
        // long enough that a map's entries span pages, distinct per key so no two maps share bytes
        return new TestType("user-key-" + entry + "-of-" + key + "-".repeat(entry * 3), entry);
    }

    private static TestType mapValue(int key, int entry) {
        return new TestType("map-value", key * 100 + entry);
    }

    private static void write(CheckpointableKeyedStateBackend<Integer> keyed, TypeSerializer<TestType> valueSer,
            TypeSerializer<TestType> listSer, TypeSerializer<TestType> userKeySer, TypeSerializer<TestType> mapValueSer)
            throws Exception {
        ValueState<TestType> value = value(keyed, valueSer);
        ListState<TestType> list = list(keyed, listSer);
        MapState<TestType, TestType> map = map(keyed, userKeySer, mapValueSer);
        for (int key = 0; key < KEYS; key++) {
            keyed.setCurrentKey(key);
            value.update(new TestType("value", key));
            for (int i = 0; i <= key % 4; i++) {
                list.add(new TestType("element-" + i, key));
            }
            for (int entry = 0; entry < MAP_ENTRIES; entry++) {
                map.put(userKey(key, entry), mapValue(key, entry));
            }
        }
    }

    private static void verify(CheckpointableKeyedStateBackend<Integer> keyed, TypeSerializer<TestType> valueSer,
            TypeSerializer<TestType> listSer, TypeSerializer<TestType> userKeySer, TypeSerializer<TestType> mapValueSer)
            throws Exception {
        ValueState<TestType> value = value(keyed, valueSer);
        ListState<TestType> list = list(keyed, listSer);
        MapState<TestType, TestType> map = map(keyed, userKeySer, mapValueSer);
        for (int key = 0; key < KEYS; key++) {
            keyed.setCurrentKey(key);
            assertThat(value.value()).as("value of key %d", key).isEqualTo(new TestType("value", key));
            List<TestType> expectedList = new ArrayList<>();
            for (int i = 0; i <= key % 4; i++) {
                expectedList.add(new TestType("element-" + i, key));
            }
            List<TestType> listed = new ArrayList<>();
            list.get().forEach(listed::add);
            assertThat(listed).as("list of key %d", key).isEqualTo(expectedList);
            Map<TestType, TestType> expectedMap = new HashMap<>();
            for (int entry = 0; entry < MAP_ENTRIES; entry++) {
                expectedMap.put(userKey(key, entry), mapValue(key, entry));
                assertThat(map.get(userKey(key, entry))).as("map entry %d of key %d", entry, key)
                        .isEqualTo(mapValue(key, entry));
                assertThat(map.contains(userKey(key, entry))).isTrue();
            }
            Map<TestType, TestType> iterated = new HashMap<>();
            for (Map.Entry<TestType, TestType> e : map.entries()) {
                assertThat(iterated.put(e.getKey(), e.getValue())).as("user key %s seen twice", e.getKey()).isNull();
            }
            assertThat(iterated).as("map of key %d", key).isEqualTo(expectedMap);
        }
    }

    private static CheckpointableKeyedStateBackend<Integer> create(
            StateBackend backend, MockEnvironment env, List<KeyedStateHandle> handles) throws Exception {
        return KeyedBackends.create(backend, env, KEY_GROUPS, handles);
    }
}

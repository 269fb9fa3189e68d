package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.PageStoreConfig;
import java.nio.file.Path;
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
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each table's random hash seed is kept in its state's snapshot meta info and taken back by a
 * restore, so placement stays what it was (what a restore that places pages as they are will
 * need); a snapshot from another backend has none and the table draws a new one; a seed that is
 * not a number is reported as a corrupt snapshot, naming the option and what was expected.
 */
class TableSeedTest {

    private static final int KEY_GROUPS = 8;
    private static final ValueStateDescriptor<String> VALUE = new ValueStateDescriptor<>("value", String.class);
    private static final MapStateDescriptor<Integer, String> MAP =
            new MapStateDescriptor<>("map", Integer.class, String.class);

    @TempDir
    Path dir;

    @Test
    void aRestoreKeepsEachTablesSeedAndFindsEveryEntry() throws Exception {
        KeyedStateHandle checkpoint;
        Map<String, Integer> seeds;
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                    ZStateBackendTest.backend("zsmalloc"), env, KEY_GROUPS, List.of());
            write(backend);
            seeds = seeds(backend);
            checkpoint = KeyedBackends.checkpoint(backend);
            KeyedBackends.dispose(backend);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(
                    ZStateBackendTest.backend("zsmalloc"), env, KEY_GROUPS, List.of(checkpoint));
            verify(backend);
            assertThat(seeds(backend)).isEqualTo(seeds);
            KeyedStateHandle savepoint = KeyedBackends.savepoint(backend);
            KeyedBackends.dispose(backend);
            try (MockEnvironment rocksEnv = new MockEnvironmentBuilder().build()) {
                CheckpointableKeyedStateBackend<Integer> rocks = KeyedBackends.create(
                        new EmbeddedRocksDBStateBackend(), rocksEnv, KEY_GROUPS, List.of(savepoint));
                verify(rocks); // RocksDB reads past the option
                KeyedStateHandle back = KeyedBackends.savepoint(rocks);
                KeyedBackends.dispose(rocks);
                try (MockEnvironment again = new MockEnvironmentBuilder().build()) {
                    CheckpointableKeyedStateBackend<Integer> restored = KeyedBackends.create(
                            ZStateBackendTest.backend("zsmalloc"), again, KEY_GROUPS, List.of(back));
                    verify(restored); // no seed in RocksDB's snapshot: new ones, every entry found
                    KeyedBackends.dispose(restored);
                }
            }
        }
    }

    @Test
    void aSeedThatIsNotANumberIsACorruptSnapshot() {
        try (PageStore store = new PageStore(PageStoreConfig.defaults(dir), 0, KEY_GROUPS)) {
            ZStateTables tables = new ZStateTables(store, new KeyGroupRange(0, KEY_GROUPS - 1), KEY_GROUPS);
            RegisteredKeyValueStateBackendMetaInfo<?, ?> meta = new RegisteredKeyValueStateBackendMetaInfo<>(
                    VALUE.getType(), "value", VoidNamespaceSerializer.INSTANCE,
                    org.apache.flink.api.common.typeutils.base.StringSerializer.INSTANCE);
            StateMetaInfoSnapshot snapshot = meta.snapshot();
            Map<String, String> options = new HashMap<>(snapshot.getOptionsImmutable());
            options.put(ZStateTables.HASH_SEED_OPTION, "twelve");
            StateMetaInfoSnapshot corrupt = new StateMetaInfoSnapshot(snapshot.getName(),
                    snapshot.getBackendStateType(), options, new HashMap<>(snapshot.getSerializerSnapshotsImmutable()));
            assertThatThrownBy(() -> tables.registerRestored(meta, corrupt))
                    .hasMessageContaining("corrupt")
                    .hasMessageContaining("zstate.hash-seed")
                    .hasMessageContaining("'twelve', expected a 32-bit integer");
        }
    }

    private static Map<String, Integer> seeds(CheckpointableKeyedStateBackend<Integer> backend) {
        ZStateTables tables = ((ZKeyedStateBackend<Integer>) backend).tables;
        Map<String, Integer> seeds = new HashMap<>();
        synchronized (tables.store()) { // the slot's reaper may take the store's lock: every call holds it
            for (ZStateTables.ZStateInfo info : tables.states()) {
                seeds.put(info.meta().getName(), tables.store().tableSeed(info.table()));
            }
        }
        return seeds;
    }

    private static void write(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        ValueState<String> value = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, VALUE);
        MapState<Integer, String> map = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, MAP);
        for (int key = 0; key < 500; key++) {
            backend.setCurrentKey(key);
            value.update("v" + key);
            for (int i = 0; i < (key == 7 ? 5_000 : 3); i++) {
                map.put(i, "m" + key + "/" + i);
            }
        }
    }

    private static void verify(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        ValueState<String> value = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, VALUE);
        MapState<Integer, String> map = backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, MAP);
        for (int key = 0; key < 500; key++) {
            backend.setCurrentKey(key);
            assertThat(value.value()).isEqualTo("v" + key);
            for (int i = 0; i < (key == 7 ? 5_000 : 3); i++) {
                assertThat(map.get(i)).isEqualTo("m" + key + "/" + i);
            }
        }
    }
}

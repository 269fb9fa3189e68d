package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeOffsets;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.memory.ByteStreamStateHandle;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every zstate checkpoint format stays readable. The test resources {@code
 * checkpoints/format-v<N>.bin} hold a checkpoint written by the code of format N (the key-group
 * offsets and the stream's bytes, not a Java-serialized handle, so that a Flink upgrade cannot
 * strand them); each is restored, whole and rescaled, and must hold exactly the state it was
 * written with; from format 2 on, {@code checkpoints/incremental-v<N>.bin} holds an incremental
 * checkpoint too (a base and two deltas: the meta file and every file's bytes; format 3's base is
 * pages, placed into the pool). A checkpoint of a
 * format newer than the code reads is refused with a message that says so. When the format
 * changes, write the new version's resources with {@code mvn test -pl statebackend
 * -Dtest=FormatCompatibilityTest -Dzstate.write-format-resource=<dir>} and add its version to the
 * lists below.
 */
class FormatCompatibilityTest {

    private static final int KEY_GROUPS = 8;
    private static final int KEYS = 300;
    private static final int BIG_MAP_KEY = 7;
    private static final int BIG_MAP_ENTRIES = 3_000;

    private static final ValueStateDescriptor<String> VALUE = new ValueStateDescriptor<>("value", String.class);
    private static final MapStateDescriptor<Integer, String> MAP =
            new MapStateDescriptor<>("map", Integer.class, String.class);
    private static final ListStateDescriptor<Long> LIST = new ListStateDescriptor<>("list", Long.class);

    @ParameterizedTest(name = "format {0}")
    @ValueSource(ints = {1, 2, 3})
    void restoresACheckpointOfEveryFormatVersionWholeAndRescaled(int version) throws Exception {
        assertRestoresWholeAndInHalves(ZStateBackendTest.backend("zsmalloc"),
                read("/checkpoints/format-v" + version + ".bin"));
    }

    /**
     * An incremental checkpoint of every format that has them (2 on): a base and two deltas
     * that clear and rewrite a quarter of the keys each (so the state is again what {@link
     * #write} wrote), restored whole and rescaled.
     */
    @ParameterizedTest(name = "format {0}")
    @ValueSource(ints = {2, 3})
    void restoresAnIncrementalCheckpointOfEveryFormatVersionWholeAndRescaled(int version) throws Exception {
        KeyedStateHandle checkpoint = readIncremental("/checkpoints/incremental-v" + version + ".bin");
        assertThat(((org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle) checkpoint).getSharedState())
                .as("a base and two deltas").hasSize(3);
        assertRestoresWholeAndInHalves(IncrementalCheckpointTest.incremental("64mb"), checkpoint);
    }

    /** {@code checkpoint} restored into {@code backend} whole and in two halves holds what {@link #write} wrote. */
    private static void assertRestoresWholeAndInHalves(
            org.apache.flink.runtime.state.StateBackend backend, KeyedStateHandle checkpoint) throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> whole =
                    KeyedBackends.create(backend, env, KEY_GROUPS, List.of(checkpoint));
            assertHolds(whole, new KeyGroupRange(0, KEY_GROUPS - 1));
            KeyedBackends.dispose(whole);
            for (KeyGroupRange half : List.of(new KeyGroupRange(0, 3), new KeyGroupRange(4, 7))) {
                CheckpointableKeyedStateBackend<Integer> part = KeyedBackends.create(backend, env, KEY_GROUPS, half,
                        List.of(checkpoint.getIntersection(half))); // as Flink assigns a rescaled restore
                assertHolds(part, half);
                KeyedBackends.dispose(part);
            }
        }
    }

    @Test
    void aCheckpointOfANewerFormatIsRefusedWithWhatToDo() throws Exception {
        KeyedStateHandle newer;
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend =
                    KeyedBackends.create(ZStateBackendTest.backend("zsmalloc"), env, KEY_GROUPS, List.of());
            write(backend);
            newer = KeyedBackends.savepoint(backend, resources -> new RewrittenMetaInfo(resources, meta -> {
                Map<String, String> options = new HashMap<>(meta.getOptionsImmutable());
                options.put(ZStateTables.FORMAT_VERSION_OPTION, Integer.toString(ZStateTables.FORMAT_VERSION + 1));
                return new StateMetaInfoSnapshot(meta.getName(), meta.getBackendStateType(), options,
                        meta.getSerializerSnapshotsImmutable());
            }));
            KeyedBackends.dispose(backend);
        }
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            assertThatThrownBy(() -> KeyedBackends.create(
                            ZStateBackendTest.backend("zsmalloc"), env, KEY_GROUPS, List.of(newer)))
                    .rootCause()
                    .hasMessageContaining("zstate snapshot format " + (ZStateTables.FORMAT_VERSION + 1))
                    .hasMessageContaining("reads formats 1 to " + ZStateTables.FORMAT_VERSION);
        }
    }

    /** Writes the current format's resource (run by hand when the format changes; see the class comment). */
    @Test
    @EnabledIfSystemProperty(named = "zstate.write-format-resource", matches = ".+")
    void writeTheCurrentFormatsResource() throws Exception {
        Path dir = Path.of(System.getProperty("zstate.write-format-resource"));
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend =
                    KeyedBackends.create(ZStateBackendTest.backend("zsmalloc"), env, KEY_GROUPS, List.of());
            write(backend);
            KeyGroupsStateHandle handle = (KeyGroupsStateHandle) KeyedBackends.checkpoint(backend);
            KeyedBackends.dispose(backend);
            Files.createDirectories(dir);
            try (DataOutputStream out = new DataOutputStream(
                    Files.newOutputStream(dir.resolve("format-v" + ZStateTables.FORMAT_VERSION + ".bin")))) {
                KeyGroupRangeOffsets offsets = handle.getGroupRangeOffsets();
                out.writeInt(offsets.getKeyGroupRange().getStartKeyGroup());
                out.writeInt(offsets.getKeyGroupRange().getEndKeyGroup());
                for (int kg = 0; kg < KEY_GROUPS; kg++) {
                    out.writeLong(offsets.getKeyGroupOffset(kg));
                }
                byte[] data = ((ByteStreamStateHandle) handle.getDelegateStateHandle()).getData();
                out.writeInt(data.length);
                out.write(data);
            }
            writeIncrementalResource(env, dir);
        }
    }

    /**
     * The incremental resource: checkpoint 1 a base of {@link #write}'s state, checkpoints 2 and 3
     * deltas that clear a quarter of the keys each and write them again as they were.
     */
    private static void writeIncrementalResource(MockEnvironment env, Path dir) throws Exception {
        CheckpointableKeyedStateBackend<Integer> backend =
                KeyedBackends.create(IncrementalCheckpointTest.incremental("64mb"), env, KEY_GROUPS, List.of());
        org.apache.flink.runtime.state.memory.MemCheckpointStreamFactory streams =
                new org.apache.flink.runtime.state.memory.MemCheckpointStreamFactory(64 << 20);
        org.apache.flink.runtime.state.SharedStateRegistryImpl registry =
                new org.apache.flink.runtime.state.SharedStateRegistryImpl();
        org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle last = null;
        try {
            write(backend);
            for (long id = 1; id <= 3; id++) {
                if (id > 1) {
                    rewriteQuarter(backend, (int) id - 2);
                }
                last = (org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle)
                        org.apache.flink.runtime.state.StateBackendTestBase.runSnapshot(backend.snapshot(id, id,
                                streams, org.apache.flink.runtime.checkpoint.CheckpointOptions
                                        .forCheckpointWithDefaultLocation()), registry);
                ((org.apache.flink.api.common.state.CheckpointListener) backend).notifyCheckpointComplete(id);
            }
        } finally {
            KeyedBackends.dispose(backend);
        }
        try (DataOutputStream out = new DataOutputStream(
                Files.newOutputStream(dir.resolve("incremental-v" + ZStateTables.FORMAT_VERSION + ".bin")))) {
            out.writeInt(last.getKeyGroupRange().getStartKeyGroup());
            out.writeInt(last.getKeyGroupRange().getEndKeyGroup());
            out.writeLong(last.getCheckpointId());
            writeBytes(out, ((ByteStreamStateHandle) last.getMetaDataStateHandle()).getData());
            for (List<org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath> files :
                    List.of(last.getSharedState(), last.getPrivateState())) {
                out.writeInt(files.size());
                for (var file : files) {
                    out.writeUTF(file.getLocalPath());
                    writeBytes(out, ((ByteStreamStateHandle) file.getHandle()).getData());
                }
            }
        }
    }

    /** Clears every state of the keys {@code k % 4 == quarter} and writes them again as {@link #write} did. */
    private static void rewriteQuarter(CheckpointableKeyedStateBackend<Integer> backend, int quarter)
            throws Exception {
        ValueState<String> value = state(backend, VALUE);
        MapState<Integer, String> map = state(backend, MAP);
        ListState<Long> list = state(backend, LIST);
        for (int key = quarter; key < KEYS; key += 4) {
            backend.setCurrentKey(key);
            value.clear();
            map.clear();
            list.clear();
            writeKey(value, map, list, key, true);
        }
    }

    private static void writeBytes(DataOutputStream out, byte[] bytes) throws IOException {
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    private static byte[] readBytes(DataInputStream in) throws IOException {
        byte[] bytes = new byte[in.readInt()];
        in.readFully(bytes);
        return bytes;
    }

    /** An incremental checkpoint resource: range, id, the meta file, the shared and private files. */
    private static KeyedStateHandle readIncremental(String resource) throws IOException {
        try (InputStream in = FormatCompatibilityTest.class.getResourceAsStream(resource)) {
            assertThat(in).as("test resource %s", resource).isNotNull();
            DataInputStream data = new DataInputStream(in);
            KeyGroupRange range = new KeyGroupRange(data.readInt(), data.readInt());
            long id = data.readLong();
            ByteStreamStateHandle meta = new ByteStreamStateHandle(resource + "/meta", readBytes(data));
            List<List<org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath>> both =
                    new java.util.ArrayList<>();
            for (int kind = 0; kind < 2; kind++) {
                List<org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath> files =
                        new java.util.ArrayList<>();
                int count = data.readInt();
                for (int i = 0; i < count; i++) {
                    String name = data.readUTF();
                    files.add(org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath.of(
                            new ByteStreamStateHandle(resource + "/" + name, readBytes(data)), name));
                }
                both.add(files);
            }
            return new org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle(
                    java.util.UUID.nameUUIDFromBytes(resource.getBytes(java.nio.charset.StandardCharsets.UTF_8)),
                    range, id, both.get(0), both.get(1), meta);
        }
    }

    /** A checkpoint resource: key-group range, an offset per key-group, the stream's bytes. */
    private static KeyedStateHandle read(String resource) throws IOException {
        try (InputStream in = FormatCompatibilityTest.class.getResourceAsStream(resource)) {
            assertThat(in).as("test resource %s", resource).isNotNull();
            DataInputStream data = new DataInputStream(in);
            KeyGroupRange range = new KeyGroupRange(data.readInt(), data.readInt());
            long[] offsets = new long[range.getNumberOfKeyGroups()];
            for (int i = 0; i < offsets.length; i++) {
                offsets[i] = data.readLong();
            }
            byte[] bytes = new byte[data.readInt()];
            data.readFully(bytes);
            return new KeyGroupsStateHandle(new KeyGroupRangeOffsets(range, offsets),
                    new ByteStreamStateHandle(resource, bytes));
        }
    }

    /** The state every format's resource holds: values, small maps and one big map, lists. */
    private static void write(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        ValueState<String> value = state(backend, VALUE);
        MapState<Integer, String> map = state(backend, MAP);
        ListState<Long> list = state(backend, LIST);
        for (int key = 0; key < KEYS; key++) {
            backend.setCurrentKey(key);
            writeKey(value, map, list, key, false);
        }
    }

    /**
     * What {@link #write} writes for the current key {@code key}; the list in one update, or
     * element by element ({@code appending}: an incremental checkpoint records appends).
     */
    private static void writeKey(ValueState<String> value, MapState<Integer, String> map, ListState<Long> list,
            int key, boolean appending) throws Exception {
        value.update("value of " + key);
        for (int u = 0; u < (key == BIG_MAP_KEY ? BIG_MAP_ENTRIES : 3); u++) {
            map.put(u, "entry " + u + " of " + key);
        }
        if (key % 3 != 0) {
            if (appending) {
                list.add((long) key);
                list.addAll(List.of(key + 1L, key + 2L));
            } else {
                list.update(List.of((long) key, key + 1L, key + 2L));
            }
        }
    }

    /** The keys of {@code range} hold exactly what {@link #write} wrote; no other key holds anything. */
    private static void assertHolds(CheckpointableKeyedStateBackend<Integer> backend, KeyGroupRange range)
            throws Exception {
        ValueState<String> value = state(backend, VALUE);
        MapState<Integer, String> map = state(backend, MAP);
        ListState<Long> list = state(backend, LIST);
        int keysHere = 0;
        for (int key = 0; key < KEYS; key++) {
            int group = org.apache.flink.runtime.state.KeyGroupRangeAssignment.assignToKeyGroup(key, KEY_GROUPS);
            if (!range.contains(group)) {
                continue;
            }
            keysHere++;
            backend.setCurrentKey(key);
            assertThat(value.value()).isEqualTo("value of " + key);
            Map<Integer, String> entries = new HashMap<>();
            for (Map.Entry<Integer, String> e : map.entries()) {
                entries.put(e.getKey(), e.getValue());
            }
            assertThat(entries).hasSize(key == BIG_MAP_KEY ? BIG_MAP_ENTRIES : 3);
            for (Map.Entry<Integer, String> e : entries.entrySet()) {
                assertThat(e.getValue()).isEqualTo("entry " + e.getKey() + " of " + key);
            }
            List<Long> elements = new ArrayList<>();
            Iterable<Long> got = list.get(); // null for an empty list, as Flink's backends answer
            if (got != null) {
                got.forEach(elements::add);
            }
            assertThat(elements).isEqualTo(key % 3 != 0 ? List.of((long) key, key + 1L, key + 2L) : List.of());
        }
        assertThat(keysHere).isPositive();
        assertThat(backend.getKeys(VALUE.getName(), VoidNamespace.INSTANCE).count()).isEqualTo(keysHere);
    }

    private static <S extends org.apache.flink.api.common.state.State> S state(
            CheckpointableKeyedStateBackend<Integer> backend, org.apache.flink.api.common.state.StateDescriptor<S, ?> d)
            throws Exception {
        return backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, d);
    }
}

package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.RunnableFuture;
import java.util.stream.Stream;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PhysicalStateHandleID;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StateBackendTestBase;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.memory.MemCheckpointStreamFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The seams where the keyed backend meets Flink's streams, failed on command: a checkpoint output
 * stream that breaks after some bytes, and a restore input stream that breaks after some bytes.
 * A failed checkpoint changes nothing (the backend goes on, its next checkpoint restores every
 * entry) and releases its frozen view (the spill store closes on dispose); a failed restore fails
 * the backend's creation and leaves nothing behind (managed memory returned, no spill files).
 */
class ZStateStreamFaultTest {

    private static final int KEY_GROUPS = 16;
    private static final int KEYS = 3_000;
    private static final ValueStateDescriptor<String> VALUE = new ValueStateDescriptor<>("value", String.class);
    private static final ListStateDescriptor<Long> LIST = new ListStateDescriptor<>("list", Long.class);
    private static final MapStateDescriptor<Integer, String> MAP =
            new MapStateDescriptor<>("map", Integer.class, String.class);

    @TempDir
    Path spill;

    /** A backend small enough that pages are in every tier when it checkpoints. */
    private ZStateBackend backend() {
        Configuration config = new Configuration();
        config.set(ZStateOptions.SPILL_DIRECTORY, spill.toString());
        config.set(ZStateOptions.POOL_SIZE, MemorySize.parse("64kb"));
        config.set(ZStateOptions.PAGE_CACHE_SIZE, MemorySize.parse("16kb"));
        return new ZStateBackend().configure(config, getClass().getClassLoader());
    }

    @ParameterizedTest(name = "stream breaks after {0} bytes")
    @ValueSource(ints = {0, 100, 10_000, 60_000})
    void aBrokenCheckpointStreamFailsTheCheckpointAndChangesNothing(int bytesBeforeFailure) throws Exception {
        KeyedStateHandle good;
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = KeyedBackends.create(backend(), env, KEY_GROUPS, List.of());
            write(keyed, 0);
            RunnableFuture<SnapshotResult<KeyedStateHandle>> failing = keyed.snapshot(
                    1L, 1L, breakingStreams(bytesBeforeFailure), CheckpointOptions.forCheckpointWithDefaultLocation());
            assertThatThrownBy(() -> StateBackendTestBase.runSnapshot(failing, new SharedStateRegistryImpl()))
                    .hasStackTraceContaining("injected: the checkpoint stream broke");
            write(keyed, 1); // the backend goes on
            verify(keyed, 1);
            good = KeyedBackends.checkpoint(keyed);
            KeyedBackends.dispose(keyed);
            assertThat(env.getMemoryManager().verifyEmpty()).as("managed memory returned").isTrue();
        }
        assertThat(files()).as("spill files after dispose (a frozen view left open keeps them)").isEmpty();
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = KeyedBackends.create(backend(), env, KEY_GROUPS, List.of(good));
            verify(keyed, 1);
            KeyedBackends.dispose(keyed);
        }
    }

    @ParameterizedTest(name = "stream breaks after {0} bytes")
    @ValueSource(ints = {0, 100, 10_000, 60_000})
    void aBrokenRestoreStreamFailsTheBackendAndLeavesNothingBehind(int bytesBeforeFailure) throws Exception {
        KeyGroupsStateHandle good;
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = KeyedBackends.create(backend(), env, KEY_GROUPS, List.of());
            write(keyed, 0);
            good = (KeyGroupsStateHandle) KeyedBackends.checkpoint(keyed);
            KeyedBackends.dispose(keyed);
        }
        assertThat(good.getStateSize()).as("the checkpoint is larger than the break point")
                .isGreaterThan(bytesBeforeFailure);
        KeyGroupsStateHandle breaking = new KeyGroupsStateHandle(
                good.getGroupRangeOffsets(), new BreakingHandle(good.getDelegateStateHandle(), bytesBeforeFailure));
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            assertThatThrownBy(() -> KeyedBackends.create(backend(), env, KEY_GROUPS, List.of(breaking)))
                    .hasStackTraceContaining("injected: the restore stream broke");
            assertThat(env.getMemoryManager().verifyEmpty()).as("managed memory returned").isTrue();
        }
        assertThat(files()).as("spill files after a failed restore").isEmpty();
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> keyed = KeyedBackends.create(backend(), env, KEY_GROUPS, List.of(good));
            verify(keyed, 0); // the checkpoint itself is intact
            KeyedBackends.dispose(keyed);
        }
    }

    private static void write(CheckpointableKeyedStateBackend<Integer> keyed, int round) throws Exception {
        ValueState<String> value = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, VALUE);
        ListState<Long> list = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, LIST);
        MapState<Integer, String> map = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, MAP);
        for (int key = 0; key < KEYS; key++) {
            keyed.setCurrentKey(key);
            value.update("value " + key + " round " + round);
            list.add((long) key * 10 + round);
            map.put(round, "entry " + round + " of " + key);
        }
    }

    private static void verify(CheckpointableKeyedStateBackend<Integer> keyed, int rounds) throws Exception {
        ValueState<String> value = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, VALUE);
        ListState<Long> list = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, LIST);
        MapState<Integer, String> map = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, MAP);
        for (int key = 0; key < KEYS; key++) {
            keyed.setCurrentKey(key);
            assertThat(value.value()).isEqualTo("value " + key + " round " + rounds);
            List<Long> expected = new java.util.ArrayList<>();
            for (int r = 0; r <= rounds; r++) {
                expected.add((long) key * 10 + r);
                assertThat(map.get(r)).isEqualTo("entry " + r + " of " + key);
            }
            assertThat(list.get()).containsExactlyElementsOf(expected);
        }
    }

    private List<File> files() throws IOException {
        try (Stream<Path> paths = Files.walk(spill)) {
            return paths.filter(Files::isRegularFile).map(Path::toFile).toList();
        }
    }

    /** Checkpoint streams (in memory) that throw once {@code limit} bytes were written to one. */
    private static CheckpointStreamFactory breakingStreams(int limit) {
        return new WatchedStreams(new MemCheckpointStreamFactory(64 << 20), () -> (written, bytes) -> {
            if (written + bytes > limit) {
                throw new IOException("injected: the checkpoint stream broke after " + limit + " bytes");
            }
        });
    }

    /** A state handle whose input stream throws once {@code limit} bytes were read. */
    private static final class BreakingHandle implements StreamStateHandle {
        private static final long serialVersionUID = 1L;
        private final StreamStateHandle handle;
        private final int limit;

        BreakingHandle(StreamStateHandle handle, int limit) {
            this.handle = handle;
            this.limit = limit;
        }

        @Override
        public FSDataInputStream openInputStream() throws IOException {
            FSDataInputStream in = handle.openInputStream();
            return new FSDataInputStream() {
                private void check(long pos) throws IOException {
                    if (pos > limit) {
                        throw new IOException("injected: the restore stream broke after " + limit + " bytes");
                    }
                }

                @Override
                public void seek(long desired) throws IOException {
                    in.seek(desired);
                }

                @Override
                public long getPos() throws IOException {
                    return in.getPos();
                }

                @Override
                public int read() throws IOException {
                    check(in.getPos() + 1);
                    return in.read();
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = in.read(b, off, len);
                    check(in.getPos());
                    return n;
                }

                @Override
                public void close() throws IOException {
                    in.close();
                }
            };
        }

        @Override
        public Optional<byte[]> asBytesIfInMemory() {
            return Optional.empty(); // force a stream read
        }

        @Override
        public PhysicalStateHandleID getStreamStateHandleID() {
            return handle.getStreamStateHandleID();
        }

        @Override
        public void discardState() throws Exception {
            handle.discardState();
        }

        @Override
        public long getStateSize() {
            return handle.getStateSize();
        }
    }
}

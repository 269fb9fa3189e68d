package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeOffsets;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.memory.ByteStreamStateHandle;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.util.StateMigrationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A build that fails in the restore (after the page store exists and the managed memory is
 * reserved) closes the store and returns the memory: nothing is held and no spill file is left.
 */
class ZKeyedStateBackendBuilderTest {

    private static final KeyGroupRange RANGE = new KeyGroupRange(0, 9);

    @TempDir
    Path spill;

    @Test
    void aRestoreThatCannotReadItsHandleLeavesNothingHeld() throws Exception {
        KeyedStateHandle garbage = new KeyGroupsStateHandle(
                new KeyGroupRangeOffsets(RANGE), new ByteStreamStateHandle("garbage", new byte[] {1, 2, 3}));
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            assertThatThrownBy(() -> create(env, garbage)).isInstanceOf(IOException.class);
            assertThat(env.getMemoryManager().verifyEmpty()).as("managed memory returned").isTrue();
            assertThat(files(spill)).as("spill files after a failed build").isEmpty();
        }
    }

    @Test
    void aHandleOfAnotherKindFailsTheBuildWithTheReasonAndLeavesNothingHeld() throws Exception {
        KeyedStateHandle incremental = new IncrementalRemoteKeyedStateHandle(UUID.randomUUID(), RANGE, 1L,
                List.of(), List.of(), new ByteStreamStateHandle("meta", new byte[0]));
        KeyedStateHandle other = new org.apache.flink.runtime.state.IncrementalLocalKeyedStateHandle(
                UUID.randomUUID(), 1L, new org.apache.flink.runtime.state.DirectoryStateHandle(spill, 0), RANGE,
                new ByteStreamStateHandle("meta", new byte[0]), List.of());
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            assertThatThrownBy(() -> create(env, other))
                    .isInstanceOf(IOException.class)
                    .hasMessage("Could not create the zstate keyed backend.")
                    .hasCauseInstanceOf(StateMigrationException.class)
                    .hasRootCauseMessage("zstate restores its own checkpoints (full and incremental) and canonical"
                            + " savepoints, but got a IncrementalLocalKeyedStateHandle. Take a canonical savepoint with the"
                            + " previous backend (the default savepoint format) and restore from it.");
            assertThat(env.getMemoryManager().verifyEmpty()).as("managed memory returned").isTrue();
            assertThat(files(spill)).as("spill files after a failed build").isEmpty();
            // an incremental checkpoint of another backend (RocksDB's meta file is no zstate meta file)
            KeyedStateHandle rocks = new IncrementalRemoteKeyedStateHandle(UUID.randomUUID(), RANGE, 1L,
                    List.of(), List.of(), new ByteStreamStateHandle("meta", new byte[] {0, 0, 0, 6, 1, 2, 3, 4}));
            assertThatThrownBy(() -> create(env, rocks))
                    .isInstanceOf(IOException.class)
                    .hasStackTraceContaining("is not a zstate incremental checkpoint's")
                    .hasStackTraceContaining("another state backend (RocksDB, ForSt) wrote");
            assertThatThrownBy(() -> create(env, incremental))
                    .isInstanceOf(IOException.class)
                    .hasStackTraceContaining("is truncated");
            assertThat(env.getMemoryManager().verifyEmpty()).as("managed memory returned").isTrue();
            assertThat(files(spill)).as("spill files after a failed build").isEmpty();
        }
    }

    private void create(MockEnvironment env, KeyedStateHandle restoreFrom) throws Exception {
        Configuration config = new Configuration();
        config.set(ZStateOptions.SPILL_DIRECTORY, spill.toString());
        ZStateBackend backend = new ZStateBackend().configure(config, getClass().getClassLoader());
        backend.createKeyedStateBackend(new KeyedStateBackendParametersImpl<>(
                        env, new JobID(), "failed build", IntSerializer.INSTANCE, 10, RANGE,
                        env.getTaskKvStateRegistry(), TtlTimeProvider.DEFAULT, new UnregisteredMetricsGroup(),
                        (n, v) -> {}, List.of(restoreFrom), new CloseableRegistry(), 1.0))
                .dispose();
        throw new AssertionError("the backend was created");
    }

    private static List<File> files(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            return paths.filter(Files::isRegularFile).map(Path::toFile).toList();
        }
    }
}

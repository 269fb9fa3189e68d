package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.RunnableFuture;
import java.util.function.UnaryOperator;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.FullSnapshotResources;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SavepointResources;
import org.apache.flink.runtime.state.SavepointSnapshotStrategy;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategyRunner;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.StateBackendTestBase;
import org.apache.flink.runtime.state.memory.MemCheckpointStreamFactory;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;

/**
 * Keyed backends of any kind (zstate, HashMap, RocksDB) made, snapshotted and disposed the way a
 * task does it, for tests that move state between them: integer keys, all key-groups of {@code
 * keyGroups} in one backend.
 */
final class KeyedBackends {

    private KeyedBackends() {}

    static CheckpointableKeyedStateBackend<Integer> create(StateBackend backend, MockEnvironment env,
            int keyGroups, List<KeyedStateHandle> restoreFrom) throws Exception {
        return create(backend, env, keyGroups, new KeyGroupRange(0, keyGroups - 1), restoreFrom);
    }

    /** A backend for the key-groups of {@code range} only (rescaling: restore takes just those). */
    static CheckpointableKeyedStateBackend<Integer> create(StateBackend backend, MockEnvironment env,
            int keyGroups, KeyGroupRange range, List<KeyedStateHandle> restoreFrom) throws Exception {
        return create(backend, env, keyGroups, range, restoreFrom, TtlTimeProvider.DEFAULT);
    }

    /** A backend whose TTL clock is {@code time}. */
    static CheckpointableKeyedStateBackend<Integer> create(StateBackend backend, MockEnvironment env,
            int keyGroups, KeyGroupRange range, List<KeyedStateHandle> restoreFrom, TtlTimeProvider time)
            throws Exception {
        return backend.createKeyedStateBackend(new KeyedStateBackendParametersImpl<>(
                env, new JobID(), "test-operator", IntSerializer.INSTANCE, keyGroups,
                range, env.getTaskKvStateRegistry(), time,
                new UnregisteredMetricsGroup(), (name, value) -> {}, restoreFrom, new CloseableRegistry(), 1.0));
    }

    /** A checkpoint in the backend's own format. */
    static KeyedStateHandle checkpoint(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        return run(backend.snapshot(1L, 1L, streams(), CheckpointOptions.forCheckpointWithDefaultLocation()));
    }

    /** A checkpoint, or null when the backend holds no state at all (as Flink's backends answer). */
    static KeyedStateHandle checkpointOrNull(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        return StateBackendTestBase.runSnapshot(
                backend.snapshot(1L, 1L, streams(), CheckpointOptions.forCheckpointWithDefaultLocation()),
                new SharedStateRegistryImpl());
    }

    /** A canonical savepoint, written by Flink's savepoint strategy from the backend's resources. */
    static KeyedStateHandle savepoint(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        return savepoint(backend, resources -> resources);
    }

    /**
     * A canonical savepoint whose snapshot resources are first passed through {@code change} (to
     * write what another kind of job would write).
     */
    static KeyedStateHandle savepoint(CheckpointableKeyedStateBackend<Integer> backend,
            UnaryOperator<FullSnapshotResources<Integer>> change) throws Exception {
        SavepointResources<Integer> resources = backend.savepoint();
        return run(new SnapshotStrategyRunner<>(
                        "savepoint", new SavepointSnapshotStrategy<>(change.apply(resources.getSnapshotResources())),
                        new CloseableRegistry(), resources.getPreferredSnapshotExecutionType())
                .snapshot(1L, 1L, streams(),
                        CheckpointOptions.forConfig(SavepointType.savepoint(SavepointFormatType.CANONICAL),
                                CheckpointStorageLocationReference.getDefault(), true, false, 0)));
    }

    /** A checkpoint or a canonical savepoint, by name. */
    static KeyedStateHandle snapshot(CheckpointableKeyedStateBackend<Integer> backend, String kind) throws Exception {
        return switch (kind) {
            case "checkpoint" -> checkpoint(backend);
            case "savepoint" -> savepoint(backend);
            default -> throw new IllegalArgumentException("snapshot kind " + kind + ": checkpoint or savepoint");
        };
    }

    static void dispose(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        backend.close();
        backend.dispose();
    }

    private static MemCheckpointStreamFactory streams() {
        return new MemCheckpointStreamFactory(64 << 20);
    }

    private static KeyedStateHandle run(RunnableFuture<SnapshotResult<KeyedStateHandle>> future) throws Exception {
        KeyedStateHandle handle = StateBackendTestBase.runSnapshot(future, new SharedStateRegistryImpl());
        assertThat(handle).as("the snapshot's handle").isNotNull();
        return handle;
    }
}

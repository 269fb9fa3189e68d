package io.zstate.flink;

import javax.annotation.Nonnull;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointStreamWithResultProvider;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.FullSnapshotAsyncWriter;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategy;

/**
 * Checkpoints as full snapshots in the canonical savepoint format: the resources are copied on
 * the task thread, and Flink's {@link FullSnapshotAsyncWriter} writes them asynchronously.
 */
final class ZFullSnapshotStrategy<K> implements SnapshotStrategy<KeyedStateHandle, ZFullSnapshotResources<K>> {

    private final ZKeyedStateBackend<K> backend;

    ZFullSnapshotStrategy(ZKeyedStateBackend<K> backend) {
        this.backend = backend;
    }

    @Override
    public ZFullSnapshotResources<K> syncPrepareResources(long checkpointId) throws Exception {
        return ZFullSnapshotResources.create(backend);
    }

    @Override
    public SnapshotResultSupplier<KeyedStateHandle> asyncSnapshot(
            ZFullSnapshotResources<K> resources,
            long checkpointId,
            long timestamp,
            @Nonnull CheckpointStreamFactory streamFactory,
            @Nonnull CheckpointOptions checkpointOptions) {
        if (resources.getMetaInfoSnapshots().isEmpty()) {
            return registry -> SnapshotResult.empty();
        }
        return new FullSnapshotAsyncWriter<>(
                checkpointOptions.getCheckpointType(),
                () -> CheckpointStreamWithResultProvider.createSimpleStream(
                        CheckpointedStateScope.EXCLUSIVE, streamFactory),
                resources);
    }
}

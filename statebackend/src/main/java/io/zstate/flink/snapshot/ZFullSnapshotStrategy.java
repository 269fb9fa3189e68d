package io.zstate.flink.snapshot;

import io.zstate.flink.iterator.ExpiredEntries;
import io.zstate.flink.ZStateTables;
import javax.annotation.Nonnull;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointStreamWithResultProvider;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.FullSnapshotAsyncWriter;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.SnapshotStrategy;
import org.apache.flink.runtime.state.StreamCompressionDecorator;

/**
 * Checkpoints as full snapshots in the canonical savepoint format: on the task thread, {@link
 * ZFullSnapshotResources#create} takes the meta infos and timer snapshots and freezes the page
 * store; asynchronously, Flink's {@link FullSnapshotAsyncWriter} walks the frozen view (through
 * the resources' iterator) and writes it.
 *
 * <p>Owns the choice of writer and stream (exclusive scope); must not touch the page store (the
 * resources do).
 */
public final class ZFullSnapshotStrategy<K>
        implements SnapshotStrategy<KeyedStateHandle, ZFullSnapshotResources<K>> {

    private final ZStateTables tables;
    private final TypeSerializer<K> keySerializer;
    private final StreamCompressionDecorator compression;
    private final java.util.function.LongFunction<ExpiredEntries> expired;

    /**
     * Internal: for {@code io.zstate.flink.ZKeyedStateBackend}.
     *
     * @param expired per checkpoint id, where the walk offers entries for TTL background cleanup (or null)
     */
    public ZFullSnapshotStrategy(ZStateTables tables, TypeSerializer<K> keySerializer,
            StreamCompressionDecorator compression, java.util.function.LongFunction<ExpiredEntries> expired) {
        this.tables = tables;
        this.keySerializer = keySerializer;
        this.compression = compression;
        this.expired = expired;
    }

    @Override
    public ZFullSnapshotResources<K> syncPrepareResources(long checkpointId) throws Exception {
        return ZFullSnapshotResources.create(tables, keySerializer, compression, expired.apply(checkpointId));
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

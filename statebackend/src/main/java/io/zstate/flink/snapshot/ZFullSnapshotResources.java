package io.zstate.flink.snapshot;

import io.zstate.flink.ZStateTables;
import io.zstate.flink.ZStateTables.ZStateInfo;
import io.zstate.flink.iterator.ExpiredEntries;
import io.zstate.flink.iterator.ZFrozenStatesIterator;
import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.snapshot.FrozenView;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.FullSnapshotResources;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyValueStateIterator;
import org.apache.flink.runtime.state.StateSnapshotTransformer;
import org.apache.flink.runtime.state.StreamCompressionDecorator;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueStateSnapshot;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;

/**
 * A point-in-time view of a keyed backend's state for one full snapshot, written in the canonical
 * savepoint layout: entries grouped by key-group, then by state id (the index in {@link
 * #getMetaInfoSnapshots()}: key-value states in registration order, then timer queues).
 *
 * <pre>
 * Synchronous part (task thread, {@link #create}, under the store's lock): meta infos, one
 * snapshot transformer per state (TTL cleanup), the timer queues' array snapshots, and
 * PageStore.freeze(), a FrozenView: directories copied, a snapshot epoch opened; nothing of the
 * state is copied (pages the task changes afterwards are saved first, as pins).
 *
 * Asynchronous part (Flink's FullSnapshotAsyncWriter, through createKVStateIterator, a
 * ZFrozenStatesIterator): key-group by key-group, copy each frozen page out under the store's
 * lock and decode it, run the transformers, serialize the timers. release() closes the frozen
 * view (its pins are freed).
 * </pre>
 *
 * <p>Owns what one snapshot holds and its release; must not touch the live page store after
 * {@link #create} returns (the asynchronous part reads only through the frozen view, which
 * takes the store's lock itself).
 */
public final class ZFullSnapshotResources<K> implements FullSnapshotResources<K> {

    private final List<StateMetaInfoSnapshot> metaInfoSnapshots;
    private final KeyGroupRange keyGroupRange;
    private final TypeSerializer<K> keySerializer;
    private final StreamCompressionDecorator compression;
    private final int keyGroupPrefixBytes;
    private final int[] tables;
    private final List<StateSnapshotTransformer<byte[]>> transformers;
    private final List<HeapPriorityQueueStateSnapshot<?>> queues;
    /** The frozen store; null for the timers only, or until {@link #freezeStore} (an incremental checkpoint's base). */
    private FrozenView frozen;
    private final ExpiredEntries expired;

    private ZFullSnapshotResources(List<StateMetaInfoSnapshot> metaInfoSnapshots, KeyGroupRange keyGroupRange,
            TypeSerializer<K> keySerializer, StreamCompressionDecorator compression, int keyGroupPrefixBytes,
            int[] tables, List<StateSnapshotTransformer<byte[]>> transformers,
            List<HeapPriorityQueueStateSnapshot<?>> queues, FrozenView frozen, ExpiredEntries expired) {
        this.metaInfoSnapshots = metaInfoSnapshots;
        this.keyGroupRange = keyGroupRange;
        this.keySerializer = keySerializer;
        this.compression = compression;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.tables = tables;
        this.transformers = transformers;
        this.queues = queues;
        this.frozen = frozen;
        this.expired = expired;
    }

    /**
     * The synchronous part of a snapshot of {@code tables}, on the task thread (see the class
     * comment). Internal: for {@code io.zstate.flink.ZKeyedStateBackend} (savepoints) and {@link
     * ZFullSnapshotStrategy} (checkpoints).
     *
     * @param expired where the walk offers entries of TTL states for background cleanup, or null
     */
    public static <K> ZFullSnapshotResources<K> create(ZStateTables tables, TypeSerializer<K> keySerializer,
            StreamCompressionDecorator compression, ExpiredEntries expired) {
        return create(tables, keySerializer, compression, expired, true, true);
    }

    /**
     * As {@link #create(ZStateTables, TypeSerializer, StreamCompressionDecorator, ExpiredEntries)},
     * with the key-value states only, or the timer queues only (an incremental checkpoint writes
     * its base or delta, and the timers whole in a file of their own). Without key-value states
     * the store is not frozen.
     */
    public static <K> ZFullSnapshotResources<K> create(ZStateTables tables, TypeSerializer<K> keySerializer,
            StreamCompressionDecorator compression, ExpiredEntries expired, boolean keyValues, boolean timers) {
        return create(tables, keySerializer, compression, expired, keyValues, timers, keyValues);
    }

    /**
     * As above; with {@code freeze} false the store is not frozen here but by {@link #freezeStore},
     * which the caller calls before the task changes the store again, or never (an incremental
     * checkpoint that turns out to be a delta reads only its logs: no epoch is opened, no page is
     * pinned for it).
     */
    public static <K> ZFullSnapshotResources<K> create(ZStateTables tables, TypeSerializer<K> keySerializer,
            StreamCompressionDecorator compression, ExpiredEntries expired, boolean keyValues, boolean timers,
            boolean freeze) {
        PageStore store = tables.store();
        synchronized (store) {
            List<StateMetaInfoSnapshot> metas = new ArrayList<>();
            List<ZStateInfo> states = keyValues ? new ArrayList<>(tables.states()) : List.of();
            int[] tableIds = new int[states.size()];
            List<StateSnapshotTransformer<byte[]>> transformers = new ArrayList<>();
            for (int i = 0; i < states.size(); i++) {
                ZStateInfo info = states.get(i);
                tableIds[i] = info.table();
                metas.add(tables.withSeed(info));
                transformers.add(
                        info.meta().getStateSnapshotTransformFactory().createForSerializedState().orElse(null));
            }
            List<HeapPriorityQueueStateSnapshot<?>> queues = new ArrayList<>();
            for (HeapPriorityQueueSnapshotRestoreWrapper<?> wrapper : timers ? tables.queues()
                    : List.<HeapPriorityQueueSnapshotRestoreWrapper<?>>of()) {
                HeapPriorityQueueStateSnapshot<?> snapshot = wrapper.stateSnapshot();
                queues.add(snapshot);
                metas.add(snapshot.getMetaInfoSnapshot());
            }
            return new ZFullSnapshotResources<>(metas, tables.keyGroupRange(), keySerializer, compression,
                    tables.keyGroupPrefixBytes(), tableIds, transformers, queues,
                    keyValues && freeze ? store.freeze() : null, expired);
        }
    }

    /** Freezes {@code store} for these resources if {@link #create} did not (see there). */
    void freezeStore(PageStore store) {
        synchronized (store) {
            if (frozen == null) {
                frozen = store.freeze();
            }
        }
    }

    @Override
    public List<StateMetaInfoSnapshot> getMetaInfoSnapshots() {
        return metaInfoSnapshots;
    }

    @Override
    public KeyValueStateIterator createKVStateIterator() throws IOException {
        return new ZFrozenStatesIterator(frozen, keyGroupRange, keyGroupPrefixBytes, tables, transformers, queues,
                expired);
    }

    /** The frozen store (null for a snapshot of the timers only): an incremental base writes its pages. */
    FrozenView frozenView() {
        return frozen;
    }

    /** The table of each key-value state, in the order of {@link #getMetaInfoSnapshots()}. */
    int[] tableIds() {
        return tables;
    }

    @Override
    public KeyGroupRange getKeyGroupRange() {
        return keyGroupRange;
    }

    @Override
    public TypeSerializer<K> getKeySerializer() {
        return keySerializer;
    }

    @Override
    public StreamCompressionDecorator getStreamCompressionDecorator() {
        return compression;
    }

    @Override
    public void release() {
        if (frozen != null) {
            frozen.close();
        }
    }
}

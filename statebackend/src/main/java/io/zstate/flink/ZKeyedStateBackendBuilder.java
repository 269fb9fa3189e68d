package io.zstate.flink;

import io.zstate.allocator.MemoryBudget;
import io.zstate.flink.restore.ZRestoreOperation;
import io.zstate.pagestore.Faults;
import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.Reaper;
import io.zstate.pagestore.SlotMemory;
import io.zstate.pagestore.SpillDirectories;
import io.zstate.pagestore.PageStoreConfig;
import java.io.IOException;
import java.nio.file.Path;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.memory.OpaqueMemoryResource;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.StateBackend.KeyedStateBackendParameters;
import org.apache.flink.runtime.state.StateBackendBuilder;
import org.apache.flink.runtime.state.metrics.LatencyTrackingStateConfig;
import org.apache.flink.runtime.state.metrics.SizeTrackingStateConfig;
import org.apache.flink.util.Preconditions;

/**
 * Builds a {@link ZKeyedStateBackend}, as Flink's {@code RocksDBKeyedStateBackendBuilder} builds
 * RocksDB's: what Flink hands every keyed backend comes in the constructor, zstate's own parts
 * through named setters, and {@link #build()} creates the page store, restores the state handles
 * into it (which settles the key serializer: a restore may reconfigure it), then the backend.
 *
 * <p>Owns the order of construction and the cleanup of a failed build: if anything fails, the
 * page store is closed, the managed memory released and the spill directory deleted before the
 * error (any Throwable) is rethrown. Once {@link
 * #build()} returns, the backend owns both; the builder must not touch them again.
 */
final class ZKeyedStateBackendBuilder<K> implements StateBackendBuilder<ZKeyedStateBackend<K>, IOException> {

    private final KeyedStateBackendParameters<K> parameters;
    private PageStoreConfig pageStoreConfig;
    private OpaqueMemoryResource<SlotMemory> sharedMemory;
    private Path spillParent;
    private LatencyTrackingStateConfig latencyTrackingStateConfig;
    private SizeTrackingStateConfig sizeTrackingStateConfig;
    private Faults faults = Faults.NONE;
    private IncrementalSettings incremental = IncrementalSettings.OFF;
    private boolean backgroundReaper;
    private boolean slotPoolBalancing = true;
    private boolean timerHeap = true;
    private double reaperCpuLimit = 1.0;

    ZKeyedStateBackendBuilder(KeyedStateBackendParameters<K> parameters) {
        this.parameters = Preconditions.checkNotNull(parameters);
    }

    /** The page store's configuration (required). */
    ZKeyedStateBackendBuilder<K> setPageStoreConfig(PageStoreConfig pageStoreConfig) {
        this.pageStoreConfig = pageStoreConfig;
        return this;
    }

    /**
     * The slot's shared managed memory: the pool draws from its budget, and the backend releases
     * it on dispose (or the builder, if the build fails). Unset (null): the pool has a budget of
     * its own, of the configuration's pool size.
     */
    ZKeyedStateBackendBuilder<K> setSharedMemory(OpaqueMemoryResource<SlotMemory> sharedMemory) {
        this.sharedMemory = sharedMemory;
        return this;
    }

    /** The directory the page store spills into (required); the backend deletes it on dispose. */
    ZKeyedStateBackendBuilder<K> setSpillParent(Path spillParent) {
        this.spillParent = spillParent;
        return this;
    }

    /** Flink's latency tracking of state accesses (required). */
    ZKeyedStateBackendBuilder<K> setLatencyTrackingStateConfig(LatencyTrackingStateConfig config) {
        this.latencyTrackingStateConfig = config;
        return this;
    }

    /** Flink's size tracking of state accesses (required). */
    ZKeyedStateBackendBuilder<K> setSizeTrackingStateConfig(SizeTrackingStateConfig config) {
        this.sizeTrackingStateConfig = config;
        return this;
    }

    /** Incremental checkpoints, or not (the default). */
    ZKeyedStateBackendBuilder<K> setIncremental(IncrementalSettings incremental) {
        this.incremental = incremental;
        return this;
    }

    /** Whether Flink's timers wait in zstate's timer heap rather than Flink's heap queue. */
    ZKeyedStateBackendBuilder<K> setTimerHeap(boolean timerHeap) {
        this.timerHeap = timerHeap;
        return this;
    }

    /** Whether the slot's reaper balances this backend's pool with the slot's others (managed memory only). */
    ZKeyedStateBackendBuilder<K> setSlotPoolBalancing(boolean slotPoolBalancing) {
        this.slotPoolBalancing = slotPoolBalancing;
        return this;
    }

    /** The CPU limit of a reaper of the backend's own (without a slot's memory; a slot's reaper has the slot's). */
    ZKeyedStateBackendBuilder<K> setReaperCpuLimit(double reaperCpuLimit) {
        this.reaperCpuLimit = reaperCpuLimit;
        return this;
    }

    /**
     * Whether the page store is cleaned by a background reaper: the slot's (one thread for the
     * slot's backends), or the backend's own when the pool is sized by hand (default: off).
     */
    ZKeyedStateBackendBuilder<K> setBackgroundReaper(boolean backgroundReaper) {
        this.backgroundReaper = backgroundReaper;
        return this;
    }

    /** Failures the page store injects where it meets the outside (tests; default: none). */
    ZKeyedStateBackendBuilder<K> setFaults(Faults faults) {
        this.faults = Preconditions.checkNotNull(faults);
        return this;
    }

    /**
     * Creates the page store, restores the state handles into it, then the backend. An error that
     * is not an {@link IOException} is wrapped in one.
     */
    @Override
    public ZKeyedStateBackend<K> build() throws IOException {
        KeyGroupRange range = parameters.getKeyGroupRange();
        SlotMemory slot = sharedMemory == null ? null : sharedMemory.getResourceHandle();
        PageStore store = null;
        try {
            Preconditions.checkNotNull(pageStoreConfig, "the page store's configuration");
            Preconditions.checkNotNull(spillParent, "the spill directory");
            Preconditions.checkNotNull(latencyTrackingStateConfig, "the latency tracking configuration");
            Preconditions.checkNotNull(sizeTrackingStateConfig, "the size tracking configuration");
            int groups = Math.max(1, range.getNumberOfKeyGroups());
            store = slot != null
                    ? new PageStore(pageStoreConfig, range.getStartKeyGroup(), groups, slot, faults)
                    : new PageStore(pageStoreConfig, range.getStartKeyGroup(), groups, (MemoryBudget) null, faults);
            if (backgroundReaper) {
                if (slot != null) {
                    slot.reaper().register(store);
                } else {
                    Reaper own = new Reaper(parameters.getOperatorIdentifier(), reaperCpuLimit);
                    own.register(store);
                    store.whenReleased(own::close);
                }
            }
            ZStateTables tables = new ZStateTables(store, range, parameters.getNumberOfKeyGroups(), timerHeap);
            TypeSerializer<K> keySerializer = new ZRestoreOperation<>(
                            tables, parameters.getKeySerializer(),
                            parameters.getEnv().getUserCodeClassLoader().asClassLoader())
                    .restore(parameters.getStateHandles());
            if (slot != null && slotPoolBalancing) {
                // from now on the slot's reaper may take the store's lock to balance the slot's pools
                synchronized (store) {
                    slot.reaper().share(store);
                }
            }
            return new ZKeyedStateBackend<>(parameters, keySerializer, tables, sharedMemory, spillParent,
                    latencyTrackingStateConfig, sizeTrackingStateConfig, incremental);
        } catch (Throwable e) {
            if (store != null) {
                try {
                    store.close();
                } catch (RuntimeException closeFailure) {
                    e.addSuppressed(closeFailure);
                }
            }
            releaseSharedMemory();
            if (spillParent != null) {
                SpillDirectories.deleteQuietly(spillParent);
            }
            if (e instanceof Error) {
                throw (Error) e;
            }
            throw e instanceof IOException ? (IOException) e
                    : new IOException("Could not create the zstate keyed backend.", e);
        }
    }

    private void releaseSharedMemory() {
        if (sharedMemory == null) {
            return;
        }
        try {
            sharedMemory.close();
        } catch (Exception ignored) {
            // releasing on an error path: the original error is what matters
        }
    }
}

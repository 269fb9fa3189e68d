package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.pagestore.PageStoreStats;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RunnableFuture;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.core.fs.local.LocalFileSystem;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StateBackendTestBase;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checkpoint stress test (its own command, about a minute: {@code mvn -B -Pstress verify
 * -pl statebackend -am}): the task writes three times the pool's size, at about a megabyte a
 * second, over at least five checkpoints ({@code -Dstress.checkpoints}) that run back to back, their asynchronous part on another thread and throttled to 1 MB/s, so every
 * checkpoint is long and the task changes many pages under it. Each checkpoint restores exactly
 * the state at its barrier; the store never fails for lack of frames (pinned copies are written
 * back instead); the heap held at each barrier stays flat (the state is never copied onto it).
 * Sizes: {@code -Dstress.pool-mib} (default 2), keys {@code -Dstress.keys} (default 40,000).
 */
@Tag("stress")
class CheckpointStressTest {

    private static final long THROTTLE_BYTES_PER_SECOND = 1 << 20;

    @TempDir
    Path checkpoints;

    @Test
    void checkpointsBackToBackWhileTheTaskWritesThreeTimesThePool() throws Exception {
        long poolBytes = Long.getLong("stress.pool-mib", 2) << 20;
        int keys = Integer.getInteger("stress.keys", 40_000);
        Configuration config = new Configuration();
        config.set(ZStateOptions.POOL_SIZE, new MemorySize(poolBytes));
        config.set(ZStateOptions.PAGE_CACHE_SIZE, MemorySize.parse("256kb"));
        ZStateBackend zstate = new ZStateBackend().configure(config, getClass().getClassLoader());
        ExecutorService asyncPart = Executors.newSingleThreadExecutor();
        CheckpointStreamFactory streams = throttled(new FsCheckpointStreamFactory(
                LocalFileSystem.getSharedInstance(), new org.apache.flink.core.fs.Path(checkpoints.toUri()),
                new org.apache.flink.core.fs.Path(checkpoints.toUri()), 20 * 1024, 64 * 1024));
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> backend = KeyedBackends.create(zstate, env, 32, List.of());
            ValueState<String> state = backend.getPartitionedState(VoidNamespace.INSTANCE,
                    VoidNamespaceSerializer.INSTANCE, new ValueStateDescriptor<>("v", Types.STRING));
            int[] versions = new int[keys]; // the model: key k holds value(k, versions[k]); 0 = absent
            Random random = new Random(3);
            long written = 0;
            for (int k = 0; k < keys; k++) {
                written += write(backend, state, versions, k, 1);
            }
            long target = written + 3 * poolBytes;
            long baseline = usedHeapAfterGc(); // no checkpoint in flight
            List<Long> heldAtBarriers = new ArrayList<>();
            Future<KeyedStateHandle> inFlight = null;
            int[] barrier = null;
            int checkpointsVerified = 0;
            long id = 0;
            int checkpointsWanted = Integer.getInteger("stress.checkpoints", 5);
            while (written < target || checkpointsVerified + (inFlight == null ? 0 : 1) < checkpointsWanted
                    || inFlight != null) {
                boolean writing = written < target || checkpointsVerified + (inFlight == null ? 0 : 1) < checkpointsWanted;
                if (inFlight == null || inFlight.isDone()) {
                    if (inFlight != null) {
                        verify(inFlight.get(), barrier);
                        checkpointsVerified++;
                        inFlight = null;
                        barrier = null;
                    }
                    if (writing) {
                        RunnableFuture<SnapshotResult<KeyedStateHandle>> checkpoint = backend.snapshot(++id, id,
                                streams, CheckpointOptions.forCheckpointWithDefaultLocation());
                        heldAtBarriers.add(usedHeapAfterGc()); // before the test's own copy of the model
                        barrier = versions.clone();
                        inFlight = asyncPart.submit(
                                () -> StateBackendTestBase.runSnapshot(checkpoint, new SharedStateRegistryImpl()));
                    }
                }
                if (writing) {
                    for (int i = 0; i < 200; i++) {
                        int k = random.nextInt(keys);
                        written += write(backend, state, versions, k, random.nextInt(9) == 0 ? 0 : versions[k] + 1);
                    }
                    Thread.sleep(15); // about a megabyte a second: checkpoints overlap many writes
                } else {
                    Thread.sleep(5);
                }
            }
            PageStoreStats stats = ((ZKeyedStateBackend<Integer>) backend).pageStoreStats();
            long spread = heldAtBarriers.stream().mapToLong(Long::longValue).max().orElseThrow() - baseline;
            System.out.printf("checkpoint stress: %d checkpoints verified, %,d bytes written (pool %,d), heap at "
                            + "barriers %s, at most %,d bytes over the heap without a checkpoint, pins saved %,d (dirty copies %,d, written back %,d), "
                            + "writebacks %,d, frames reclaimed %,d%n", checkpointsVerified, written, poolBytes,
                    heldAtBarriers, spread, stats.pinSaves(), stats.pinCopies(), stats.pinWritebacks(),
                    stats.writebacks(), stats.framesReclaimed());
            assertThat(checkpointsVerified).as("checkpoints while the task wrote").isGreaterThanOrEqualTo(checkpointsWanted);
            assertThat(stats.pinSaves()).isPositive();
            assertThat(stats.writebacks()).as("the pool was full").isPositive();
            assertThat(stats.openSnapshots()).isZero();
            // a copy of the state would hold at least the pool's payload (about the pool) on the heap
            assertThat(spread).as("heap held at the barriers: well under the pool's size").isLessThan(poolBytes / 2);
            KeyedBackends.dispose(backend);
            assertThat(env.getMemoryManager().verifyEmpty()).isTrue();
        } finally {
            asyncPart.shutdownNow();
        }
    }

    /** Writes key {@code k} at {@code version} (0 removes it); returns the bytes written. */
    private static long write(CheckpointableKeyedStateBackend<Integer> backend, ValueState<String> state,
            int[] versions, int k, int version) throws IOException {
        backend.setCurrentKey(k);
        versions[k] = version;
        if (version == 0) {
            state.clear();
            return 8;
        }
        String value = value(k, version);
        state.update(value);
        return value.length() + 8;
    }

    /** 40 to 120 characters, half of them repeating: pages compress about two to one. */
    static String value(int k, int version) {
        StringBuilder b = new StringBuilder();
        Random random = new Random(k * 1_000_003L + version);
        int length = 40 + random.nextInt(81);
        for (int i = 0; i < length; i++) {
            b.append(i % 2 == 0 ? (char) ('a' + random.nextInt(26)) : '.');
        }
        return b.toString();
    }

    private static void verify(KeyedStateHandle handle, int[] versions) throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> restored =
                    KeyedBackends.create(ZStateBackendTest.backend("zsmalloc"), env, 32, List.of(handle));
            ValueState<String> state = restored.getPartitionedState(VoidNamespace.INSTANCE,
                    VoidNamespaceSerializer.INSTANCE, new ValueStateDescriptor<>("v", Types.STRING));
            for (int k = 0; k < versions.length; k++) {
                restored.setCurrentKey(k);
                assertThat(state.value()).as("key %s at the barrier", k)
                        .isEqualTo(versions[k] == 0 ? null : value(k, versions[k]));
            }
            KeyedBackends.dispose(restored);
        }
        handle.discardState();
    }

    private static long usedHeapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** Checkpoint streams that write at most {@link #THROTTLE_BYTES_PER_SECOND} each. */
    private static CheckpointStreamFactory throttled(CheckpointStreamFactory inner) {
        return new WatchedStreams(inner, () -> {
            long start = System.nanoTime(); // each stream from its own start
            return (written, bytes) -> {
                long due = start + (written + bytes) * 1_000_000_000L / THROTTLE_BYTES_PER_SECOND;
                long wait = due - System.nanoTime();
                if (wait > 1_000_000) {
                    try {
                        Thread.sleep(wait / 1_000_000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException("interrupted while throttled", e);
                    }
                }
            };
        });
    }
}

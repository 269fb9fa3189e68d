package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.pagestore.PageStoreStats;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackendParametersImpl;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * One view across a slot's pools: the keyed backends of one slot (one MemoryManager) draw their
 * pools' frames from one set, and the slot's reaper moves frames from a pool that does not use
 * them to one that does.
 */
class SlotPoolsTest {

    private static final int KEYS = 160_000;

    @TempDir
    Path spill;

    /**
     * The fairness test: two backends in one slot, one idle and one busy. The first fills the
     * whole pool and goes idle; the second then writes and rewrites a state larger than the pool.
     * The busy one ends up with at least 90% of the pool's frames, the idle one's pages went to its
     * RocksDB (every value still reads back), and everything is returned once both are disposed.
     * With the write buffer (the default) and without: with it, the first backend's last inserts
     * into buckets in RocksDB wait rather than fault their pages, so the frames its last reclaims
     * freed stay free (it holds about 0.8 of the pool, 0.95 without), and the busy one takes those
     * before the reaper takes the idle one's.
     */
    @ParameterizedTest
    @ValueSource(doubles = {0.25, 0.0})
    void theBusyBackendOfASlotEndsUpWithAtLeastNinetyPercentOfThePool(double writeBuffer) throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().setManagedMemorySize(16L << 20).build()) {
            CheckpointableKeyedStateBackend<Integer> idle = backend(env, true, writeBuffer);
            CheckpointableKeyedStateBackend<Integer> busy = backend(env, true, writeBuffer);
            ValueState<String> idleState = state(idle);
            ValueState<String> busyState = state(busy);
            write(idle, idleState, 0, KEYS, 1);
            PageStoreStats alone = stats(idle);
            assertThat(alone.slotPoolFrames()).as("the slot's pool").isPositive();
            assertThat(alone.slotPoolShare()).as("the first backend, alone, fills the slot's pool")
                    .isGreaterThan(writeBuffer > 0 ? 0.7 : 0.95);
            long freeAtStart = alone.slotPoolFrames() - alone.poolFramesHeld();
            assertThat(alone.spilledPages()).as("and spills beyond it").isPositive();

            write(busy, busyState, 0, KEYS, 2);
            Random random = new Random(3);
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (stats(busy).slotPoolShare() < 0.9 && System.nanoTime() < deadline) {
                rewrite(busy, busyState, random, 5_000);
            }
            PageStoreStats busyStats = stats(busy);
            PageStoreStats idleStats = stats(idle);
            assertThat(busyStats.slotPoolShare())
                    .as("the busy backend's share of the slot's pool (idle holds %s frames)", idleStats.poolFramesHeld())
                    .isGreaterThanOrEqualTo(0.9);
            assertThat(busyStats.slotShortfalls()).as("the busy pool was short of the slot's frames").isPositive();
            assertThat(idleStats.framesReclaimedForSlot()).as("frames the reaper took from the idle pool")
                    .isGreaterThanOrEqualTo(busyStats.poolFramesHeld() - freeAtStart - alone.slotPoolFrames() / 20);
            assertThat(busyStats.framesReclaimedForSlot()).as("nothing taken from the busy one").isZero();
            assertThat(((ZKeyedStateBackend<Integer>) idle).slotMemory().reaper().framesBalanced())
                    .isEqualTo(idleStats.framesReclaimedForSlot());
            assertThat(busyStats.poolFramesHeld() + idleStats.poolFramesHeld())
                    .as("both pools within the slot's").isLessThanOrEqualTo(alone.slotPoolFrames());

            Random check = new Random(1);
            byte[] noise = new byte[60];
            for (int key = 0; key < KEYS; key++) {
                idle.setCurrentKey(key);
                check.nextBytes(noise);
                assertThat(idleState.value()).as("key %s of the idle backend", key).isEqualTo(HexFormat.of().formatHex(noise));
            }
            disposeAndCheckMemory(env, idle, busy);
        }
    }

    /**
     * With {@code slot-pool-balancing} off, the first backend to fill the pool keeps it: the busy
     * one works with what the idle one left, and nothing is taken from the idle one.
     */
    @Test
    void withoutBalancingTheFirstBackendKeepsThePool() throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().setManagedMemorySize(16L << 20).build()) {
            CheckpointableKeyedStateBackend<Integer> idle = backend(env, false, 0.0);
            CheckpointableKeyedStateBackend<Integer> busy = backend(env, false, 0.0);
            ValueState<String> busyState = state(busy);
            write(idle, state(idle), 0, KEYS, 1);
            write(busy, busyState, 0, KEYS, 2);
            rewrite(busy, busyState, new Random(3), 50_000);
            assertThat(stats(idle).framesReclaimedForSlot()).isZero();
            assertThat(stats(busy).slotPoolShare()).as("what the idle backend left").isLessThan(0.1);
            assertThat(((ZKeyedStateBackend<Integer>) idle).slotMemory().reaper().isRunning())
                    .as("no reaper thread without compression or balancing").isFalse();
            disposeAndCheckMemory(env, idle, busy);
        }
    }

    @SafeVarargs
    private static void disposeAndCheckMemory(MockEnvironment env, CheckpointableKeyedStateBackend<Integer>... backends)
            throws Exception {
        for (CheckpointableKeyedStateBackend<Integer> keyed : backends) {
            keyed.close();
            keyed.dispose();
        }
        assertThat(env.getMemoryManager().verifyEmpty()).as("managed memory returned").isTrue();
    }

    /** {@code count} read-modify-writes of random keys, as a counter job does. */
    private static void rewrite(CheckpointableKeyedStateBackend<Integer> keyed, ValueState<String> state, Random random,
            int count) throws Exception {
        for (int i = 0; i < count; i++) {
            keyed.setCurrentKey(random.nextInt(KEYS));
            String value = state.value();
            state.update(value.substring(1) + value.charAt(0));
        }
    }

    /** {@code keys} keys from {@code first}, each a value of 60 random bytes in hex (compresses about 2:1). */
    private static void write(CheckpointableKeyedStateBackend<Integer> keyed, ValueState<String> state, int first,
            int keys, long seed) throws Exception {
        Random random = new Random(seed);
        byte[] noise = new byte[60];
        for (int key = first; key < first + keys; key++) {
            keyed.setCurrentKey(key);
            random.nextBytes(noise);
            state.update(HexFormat.of().formatHex(noise));
        }
    }

    private static ValueState<String> state(CheckpointableKeyedStateBackend<Integer> keyed) throws Exception {
        return keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                new ValueStateDescriptor<>("s", String.class));
    }

    private static PageStoreStats stats(CheckpointableKeyedStateBackend<Integer> keyed) {
        return ((ZKeyedStateBackend<Integer>) keyed).pageStoreStats();
    }

    /**
     * A keyed backend of 10 key-groups on the slot's managed memory, a 64 KiB page cache, without
     * the reaper's compression (the option's default on small machines), with a write buffer of {@code
     * writeBuffer} (0: none; without balancing, none, so the first backend fills the pool): the slot's reaper
     * balances the pools all the same, if {@code balancing}.
     */
    private CheckpointableKeyedStateBackend<Integer> backend(MockEnvironment env, boolean balancing, double writeBuffer)
            throws Exception {
        Configuration config = new Configuration();
        config.set(ZStateOptions.SLOT_POOL_BALANCING, balancing);
        config.set(ZStateOptions.SPILL_DIRECTORY, spill.toString());
        config.set(ZStateOptions.PAGE_CACHE_SIZE, MemorySize.parse("64kb"));
        config.set(ZStateOptions.BACKGROUND_REAPER, "false");
        config.set(ZStateOptions.WRITE_BUFFER_FRACTION, writeBuffer);
        ZStateBackend backend = new ZStateBackend().configure(config, getClass().getClassLoader());
        return backend.createKeyedStateBackend(
                new KeyedStateBackendParametersImpl<>(env, new JobID(), "slot pools", IntSerializer.INSTANCE, 10,
                        new KeyGroupRange(0, 9), env.getTaskKvStateRegistry(), TtlTimeProvider.DEFAULT,
                        new UnregisteredMetricsGroup(), (n, v) -> {}, List.of(), new CloseableRegistry(), 1.0));
    }
}

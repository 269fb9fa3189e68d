package io.zstate.pagestore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pool balancer's rule, step by step on the test's thread (no reaper thread): two page stores
 * of one slot, the balancer's rounds called with chosen clock readings.
 */
class PoolBalancerTest {

    private static final long MS = 1_000_000L;
    private static final int KEYS = 40_000;
    /**
     * The tables' hash seeds, fixed so runs repeat (drawn at random, they moved the two pools'
     * split of the slot by a third either way, and with it how short the busy pool was).
     */
    private static final int A_SEED = 1;
    private static final int B_SEED = 5;

    @TempDir
    Path dir;

    /**
     * Two pools that fault alike keep their frames (no trading back and forth); once one goes
     * idle, a round takes a batch of its coldest frames for the other, whose pages stay readable.
     */
    @Test
    void framesMoveFromAnIdlePoolButNotBetweenTwoBusyOnes() {
        try (SlotMemory slot = new SlotMemory(5L << 20, 0.2)) { // a pool of 4 MiB
            PageStore a = store(slot);
            PageStore b = store(slot);
            try (a; b) {
                int ta = a.createTable("v", A_SEED);
                int tb = b.createTable("v", B_SEED);
                PoolBalancer balancer = balanced(a, b);
                byte[][] aValues = new byte[KEYS][]; // what a holds, to read back
                Random random = new Random(5);
                for (int k = 0; k < KEYS; k++) { // both fill the slot's pool, in turns
                    aValues[k] = put(a, ta, k, random);
                    put(b, tb, k, random);
                }
                assertThat(a.stats().slotShortfalls() + b.stats().slotShortfalls()).as("the slot's pool is full")
                        .isPositive();
                long now = System.nanoTime() + 1_000 * MS;
                assertThat(balancer.balance(now)).as("the first window only starts (what came before is stale)")
                        .isZero();

                for (int i = 0; i < 20_000; i++) { // both busy alike
                    int k = random.nextInt(KEYS);
                    aValues[k] = put(a, ta, k, random);
                    put(b, tb, random.nextInt(KEYS), random);
                }
                assertThat(balancer.hasWork()).as("a pool was short").isTrue();
                now += 200 * MS;
                assertThat(balancer.balance(now)).as("two pools that fault alike keep their frames").isZero();
                assertThat(a.stats().framesReclaimedForSlot() + b.stats().framesReclaimedForSlot()).isZero();

                long aHeld = a.stats().poolFramesHeld();
                for (int i = 0; i < 20_000; i++) { // a idle, b busy and growing: b's pool must be short
                    put(b, tb, KEYS + i, random);
                }
                assertThat(balancer.hasWork()).isTrue();
                now += 200 * MS;
                int moved = balancer.balance(now);
                assertThat(moved).as("a batch of the idle pool's frames").isGreaterThanOrEqualTo(PoolBalancer.BATCH_FRAMES);
                assertThat(a.stats().framesReclaimedForSlot()).isEqualTo(moved);
                assertThat(a.stats().poolFramesHeld()).isEqualTo(aHeld - moved);
                assertThat(b.stats().framesReclaimedForSlot()).isZero();
                assertThat(balancer.framesMoved()).isEqualTo(moved);
                assertThat(balancer.balance(now + MS)).as("no pool short since: nothing to do").isZero();

                synchronized (a) {
                    a.checkInvariants();
                    ValueView view = new ValueView();
                    for (int k = 0; k < KEYS; k++) { // the idle pool's pages went to its RocksDB, not away
                        byte[] key = key(k);
                        assertThat(a.get(ta, 0, key, 0, key.length, key.length, view)).isTrue();
                        assertThat(view.toByteArray()).isEqualTo(aValues[k]);
                    }
                }
                synchronized (b) {
                    b.checkInvariants();
                }
            }
            assertThat(slot.poolFramesTaken()).as("both pools gave their frames back").isZero();
        }
    }

    /**
     * A donor under an open snapshot: the frames the reaper takes hold pinned copies (old versions
     * of pages changed since the freeze), which follow their objects to RocksDB; the snapshot,
     * read afterwards, sees its instant, and the store its current values.
     */
    @Test
    void aDonorsPinnedCopiesFollowTheirFramesToRocksDbAndItsSnapshotReadsItsInstant() throws Exception {
        try (SlotMemory slot = new SlotMemory(5L << 20, 0.2)) {
            PageStore a = store(slot);
            PageStore b = store(slot);
            try (a; b) {
                int ta = a.createTable("v", A_SEED);
                int tb = b.createTable("v", B_SEED);
                PoolBalancer balancer = balanced(a, b);
                Random random = new Random(8);
                byte[][] aValues = new byte[KEYS][];
                for (int k = 0; k < KEYS; k++) {
                    aValues[k] = put(a, ta, k, random);
                }
                io.zstate.pagestore.snapshot.FrozenView frozen;
                synchronized (a) {
                    frozen = a.freeze();
                }
                byte[][] instant = aValues.clone();
                for (int i = 0; i < KEYS / 2; i++) { // pages change after the freeze: their old copies are pinned
                    int k = random.nextInt(KEYS);
                    aValues[k] = put(a, ta, k, random);
                }
                long pinsWrittenBack = a.stats().pinWritebacks(); // (a's own reclaims wrote back some)
                assertThat(a.stats().pinnedPoolObjects()).as("pinned copies in a's pool").isPositive();
                long now = System.nanoTime() + 1_000 * MS;
                for (int round = 0; round < 200 && a.stats().pinWritebacks() == pinsWrittenBack; round++) {
                    for (int i = 0; i < 2_000; i++) { // only b is busy from here on, and grows
                        put(b, tb, random.nextInt(2 * KEYS), random);
                    }
                    balancer.balance(now);
                    now += 200 * MS;
                }
                PageStoreStats stats = a.stats();
                assertThat(stats.framesReclaimedForSlot()).isPositive();
                assertThat(stats.pinWritebacks()).as("pinned copies written back with the frames the reaper took")
                        .isGreaterThan(pinsWrittenBack);
                try (frozen) {
                    byte[][] seen = new byte[KEYS][];
                    frozen.forEachInKeyGroup(ta, 0, (k, ko, kl, v, vo, vl) -> seen[java.nio.ByteBuffer.wrap(k, ko + 1, 4)
                            .getInt()] = java.util.Arrays.copyOfRange(v, vo, vo + vl));
                    for (int k = 0; k < KEYS; k++) {
                        assertThat(seen[k]).as("key %s in the snapshot", k).isEqualTo(instant[k]);
                    }
                }
                synchronized (a) {
                    a.checkInvariants();
                    ValueView view = new ValueView();
                    for (int k = 0; k < KEYS; k++) {
                        byte[] key = key(k);
                        assertThat(a.get(ta, 0, key, 0, key.length, key.length, view)).isTrue();
                        assertThat(view.toByteArray()).isEqualTo(aValues[k]);
                    }
                    assertThat(a.stats().pinnedSpilled()).as("released with the snapshot").isZero();
                }
            }
            assertThat(slot.poolFramesTaken()).isZero();
        }
    }

    /**
     * A donor whose writeback fails on the reaper's thread (RocksDB refuses the batch): the store is
     * marked failed, so its task fails on its next call with what went wrong (the engine-layers
     * rule); the balancer forgets it and the other store goes on.
     */
    @Test
    void aDonorWhoseWritebackFailsOnTheReapersThreadFailsItsTasksNextCall() {
        boolean[] failWrites = {false};
        try (SlotMemory slot = new SlotMemory(5L << 20, 0.2)) {
            PageStore a = new PageStore(PageStoreConfig.defaults(dir).withPageCacheBytes(64 * 1024)
                    .withPoolBytes(slot.pool().capacity()), 0, 1, slot,
                    seam -> seam == Faults.Seam.SPILL_WRITE && failWrites[0]);
            PageStore b = store(slot);
            try (a; b) {
                int ta = a.createTable("v", A_SEED);
                int tb = b.createTable("v", B_SEED);
                PoolBalancer balancer = balanced(a, b);
                Random random = new Random(9);
                for (int k = 0; k < KEYS; k++) {
                    put(a, ta, k, random);
                    put(b, tb, k, random);
                }
                long now = System.nanoTime() + 1_000 * MS;
                balancer.balance(now); // the first window starts
                for (int i = 0; i < 20_000; i++) { // a idle, b busy and growing: b's pool must be short
                    put(b, tb, KEYS + i, random);
                }
                failWrites[0] = true;
                assertThat(balancer.balance(now + 200 * MS)).as("nothing moved").isZero();
                assertThat(a.isFailed()).as("the donor's store is marked failed").isTrue();
                assertThatThrownBy(() -> put(a, ta, 1, random))
                        .isInstanceOf(PageStoreFailedException.class)
                        .hasMessageContaining("writing back pool pages for another keyed backend of the slot")
                        .hasMessageContaining("restore from its last checkpoint");
                failWrites[0] = false;
                for (int i = 0; i < 5_000; i++) { // b goes on; the balancer no longer looks at a
                    put(b, tb, random.nextInt(KEYS), random);
                }
                assertThat(balancer.balance(now + 400 * MS)).isZero();
                synchronized (b) {
                    b.checkInvariants();
                }
                assertThat(b.isFailed()).isFalse();
            }
            assertThat(slot.poolFramesTaken()).as("the failed store's frames too went back at close").isZero();
        }
    }

    /** A page store of 64 KiB of page cache whose pool may take the whole of the slot's. */
    private PageStore store(SlotMemory slot) {
        return new PageStore(PageStoreConfig.defaults(dir).withPageCacheBytes(64 * 1024)
                .withPoolBytes(slot.pool().capacity()), 0, 1, slot, Faults.NONE);
    }

    /** A balancer of {@code stores} (rounds run by the test); every call holds a store's lock from now on. */
    private static PoolBalancer balanced(PageStore... stores) {
        PoolBalancer balancer = new PoolBalancer(() -> {});
        for (PageStore store : stores) {
            synchronized (store) {
                balancer.add(store);
            }
        }
        return balancer;
    }

    /** Puts a {@link #value} under {@link #key}{@code (k)}, under the store's lock; returns the value. */
    static byte[] put(PageStore store, int table, int k, Random random) {
        byte[] key = key(k);
        byte[] value = value(random);
        synchronized (store) {
            store.put(table, 0, key, 0, key.length, key.length, value, 0, value.length);
        }
        return value;
    }

    /** A six-byte key: a key-group byte, the int, a namespace byte. */
    static byte[] key(int k) {
        return java.nio.ByteBuffer.allocate(6).put((byte) 0).putInt(k).put((byte) 0).array();
    }

    /** 48 bytes, half of them random: compresses to about 60%. */
    private static byte[] value(Random random) {
        byte[] value = new byte[48];
        for (int i = 0; i < value.length; i += 2) {
            value[i] = (byte) random.nextInt();
        }
        return value;
    }
}

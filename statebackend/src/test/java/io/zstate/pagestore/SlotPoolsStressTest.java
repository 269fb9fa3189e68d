package io.zstate.pagestore;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The slot's reaper balancing pools while their tasks use them: two stores of one slot, each
 * written by a thread of its own in turns of 300 ms, busy while the other is quiet (a write a
 * millisecond), so the reaper takes frames from a store whose task writes meanwhile (the store's
 * lock keeps them apart). Each store is frozen at the start of each of its quiet turns, and the
 * snapshot read on a third thread while the reaper takes the store's frames, pinned copies among
 * them. Every value
 * reads back afterwards, both stores' invariants hold, frames moved both ways, and every frame is
 * back with the slot at the end.
 */
class SlotPoolsStressTest {

    private static final int KEYS = 30_000;

    @TempDir
    Path dir;

    @Test
    void poolsBalancedWhileTheirTasksWriteKeepEveryValue() throws Exception {
        try (SlotMemory slot = new SlotMemory(4L << 20, 0.25)) { // a pool of 3 MiB
            PageStoreConfig config = PageStoreConfig.defaults(dir).withPageCacheBytes(64 * 1024)
                    .withPoolBytes(slot.pool().capacity());
            // the first keeps pages raw while the slot has room: the reaper takes raw frames from it too
            PageStore[] stores = {new PageStore(config.withRawPoolFill(0.8), 0, 1, slot, Faults.NONE),
                    new PageStore(config, 0, 1, slot, Faults.NONE)};
            int[] tables = new int[2];
            byte[][][] values = new byte[2][KEYS][];
            ExecutorService tasks = Executors.newFixedThreadPool(2);
            ExecutorService readers = Executors.newFixedThreadPool(1);
            List<Future<Integer>> reads = java.util.Collections.synchronizedList(new ArrayList<>());
            try {
                for (int s = 0; s < 2; s++) {
                    tables[s] = stores[s].createTable("v");
                    synchronized (stores[s]) {
                        slot.reaper().share(stores[s]);
                    }
                }
                long start = System.nanoTime();
                long end = start + 3_600_000_000L; // six turns of 300 ms each
                List<Future<Integer>> done = new ArrayList<>();
                for (int s = 0; s < 2; s++) {
                    int me = s;
                    done.add(tasks.submit(() -> {
                        Random random = new Random(me);
                        int writes = 0;
                        boolean busy = me % 2 == 0; // (the first turn: no snapshot before it)
                        for (long now = start; now < end; now = System.nanoTime()) {
                            boolean wasBusy = busy;
                            busy = ((now - start) / 300_000_000L + me) % 2 == 0;
                            if (wasBusy && !busy) { // a snapshot at each quiet turn, read while the reaper takes frames
                                reads.add(readers.submit(snapshotReader(stores[me], tables[me], values[me])));
                            }
                            if (busy) { // busy turn: writes
                                for (int i = 0; i < 500; i++) {
                                    int k = writes < KEYS ? writes : random.nextInt(KEYS);
                                    values[me][k] = PoolBalancerTest.put(stores[me], tables[me], k, random);
                                    writes++;
                                }
                            } else { // quiet turn: a write a millisecond, while the other takes its frames
                                int k = random.nextInt(Math.min(writes + 1, KEYS));
                                values[me][k] = PoolBalancerTest.put(stores[me], tables[me], k, random);
                                writes++;
                                Thread.sleep(1);
                            }
                        }
                        return writes;
                    }));
                }
                for (Future<Integer> f : done) {
                    assertThat(f.get(60, TimeUnit.SECONDS)).isPositive();
                }
                assertThat(reads).as("snapshots taken").hasSizeGreaterThanOrEqualTo(4);
                for (Future<Integer> read : reads) {
                    assertThat(read.get(60, TimeUnit.SECONDS)).as("entries a snapshot held").isPositive();
                }
            } finally {
                tasks.shutdownNow();
                readers.shutdownNow();
            }
            try {
                for (int s = 0; s < 2; s++) {
                    synchronized (stores[s]) {
                        stores[s].checkInvariants();
                        ValueView view = new ValueView();
                        for (int k = 0; k < KEYS; k++) {
                            if (values[s][k] == null) {
                                continue;
                            }
                            byte[] key = PoolBalancerTest.key(k);
                            assertThat(stores[s].get(tables[s], 0, key, 0, key.length, key.length, view))
                                    .as("store %s key %s", s, k).isTrue();
                            assertThat(view.toByteArray()).as("store %s key %s", s, k).isEqualTo(values[s][k]);
                        }
                    }
                    assertThat(stores[s].isFailed()).isFalse();
                }
                assertThat(stores[0].stats().rawStores()).as("the first kept pages raw").isPositive();
                assertThat(stores[0].stats().framesReclaimedForSlot()).as("frames taken from the first").isPositive();
                assertThat(stores[1].stats().framesReclaimedForSlot()).as("frames taken from the second").isPositive();
                assertThat(slot.reaper().framesBalanced()).isEqualTo(stores[0].stats().framesReclaimedForSlot()
                        + stores[1].stats().framesReclaimedForSlot());
                assertThat(stores[0].stats().pinWritebacks() + stores[1].stats().pinWritebacks())
                        .as("pinned copies written back (by a task's reclaim or the reaper's)").isPositive();
                assertThat(stores[0].stats().openSnapshots() + stores[1].stats().openSnapshots()).isZero();
            } finally {
                for (PageStore store : stores) {
                    synchronized (store) {
                        store.close();
                    }
                }
            }
            assertThat(slot.poolFramesTaken()).as("every frame back with the slot").isZero();
        }
    }

    /**
     * Freezes {@code store} now (its task's thread, under the store's lock) and returns a read of
     * the snapshot for another thread: a little later, while the task and the reaper go on, every
     * entry must be as it was at the freeze, and no other there.
     */
    private static java.util.concurrent.Callable<Integer> snapshotReader(PageStore store, int table, byte[][] values) {
        io.zstate.pagestore.snapshot.FrozenView frozen;
        byte[][] instant;
        synchronized (store) {
            frozen = store.freeze();
            instant = values.clone();
        }
        return () -> {
            try (frozen) {
                Thread.sleep(100);
                byte[][] seen = new byte[KEYS][];
                frozen.forEachInKeyGroup(table, 0, (k, ko, kl, v, vo, vl) ->
                        seen[java.nio.ByteBuffer.wrap(k, ko + 1, 4).getInt()] = java.util.Arrays.copyOfRange(v, vo, vo + vl));
                int entries = 0;
                for (int k = 0; k < KEYS; k++) {
                    assertThat(seen[k]).as("key %s in a snapshot", k).isEqualTo(instant[k]);
                    entries += instant[k] == null ? 0 : 1;
                }
                return entries;
            }
        };
    }
}

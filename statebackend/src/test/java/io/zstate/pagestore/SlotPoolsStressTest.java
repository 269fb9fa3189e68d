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
 * lock keeps them apart). Every value
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
            PageStore[] stores = {new PageStore(config, 0, 1, slot, Faults.NONE),
                    new PageStore(config, 0, 1, slot, Faults.NONE)};
            int[] tables = new int[2];
            byte[][][] values = new byte[2][KEYS][];
            ExecutorService tasks = Executors.newFixedThreadPool(2);
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
                        for (long now = start; now < end; now = System.nanoTime()) {
                            if (((now - start) / 300_000_000L + me) % 2 == 0) { // busy turn: writes
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
            } finally {
                tasks.shutdownNow();
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
                assertThat(stores[0].stats().framesReclaimedForSlot()).as("frames taken from the first").isPositive();
                assertThat(stores[1].stats().framesReclaimedForSlot()).as("frames taken from the second").isPositive();
                assertThat(slot.reaper().framesBalanced()).isEqualTo(stores[0].stats().framesReclaimedForSlot()
                        + stores[1].stats().framesReclaimedForSlot());
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
}

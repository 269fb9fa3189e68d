package io.zstate.pagestore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reaper's CPU limit: the thread sleeps out what it used over its share of each window. */
class ReaperCpuLimitTest {

    @TempDir
    Path dir;

    /**
     * A store whose evictions hand the reaper dirty pages as fast as the task writes: held to a
     * tenth of a core, the reaper's thread uses at most about that over the run (its CPU time over
     * the wall time), and the time it slept to keep to it is counted.
     */
    @Test
    void aReaperHeldToATenthOfACoreUsesNoMore() throws Exception {
        double limit = 0.1;
        try (Reaper reaper = new Reaper("test", limit);
                PageStore store = new PageStore(PageStoreConfig.defaults(dir).withPageCacheBytes(64 * 1024)
                        .withPoolBytes(64L << 20), 0, 1)) {
            reaper.register(store);
            int table = store.createTable("v");
            Random random = new Random(4);
            long cpuStart = -1;
            long wallStart = 0;
            long end = System.nanoTime() + 2_500_000_000L;
            for (int i = 0; System.nanoTime() < end; i++) {
                PoolBalancerTest.put(store, table, random.nextInt(200_000), random);
                if (cpuStart < 0 && reaper.isRunning() && i > 20_000) { // from the first work on
                    cpuStart = reaper.cpuNanos();
                    wallStart = System.nanoTime();
                }
            }
            double used = (double) (reaper.cpuNanos() - cpuStart) / (System.nanoTime() - wallStart);
            assertThat(reaper.pagesCompressed()).as("the reaper had work").isPositive();
            assertThat(used).as("the reaper's share of a core").isLessThanOrEqualTo(limit * 1.5);
            if (used > limit / 2) { // it wanted its share (unbounded it uses about half a core here): it slept for it
                assertThat(reaper.throttledNanos()).as("it slept to keep to its limit").isPositive();
            }
        }
    }

    @Test
    void aLimitOutsideAFractionOfOneCoreIsRefused() {
        assertThatThrownBy(() -> new Reaper("test", 0.01)).hasMessageContaining("from 0.05 to 1");
        assertThatThrownBy(() -> new Reaper("test", 1.5)).hasMessageContaining("from 0.05 to 1");
        assertThatThrownBy(() -> new Reaper("test", Double.NaN)).hasMessageContaining("not NaN");
    }
}

package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What is z3fold's own: three objects a frame, the middle moving down when the first goes. */
class Z3foldPoolTest {

    private static byte[] bytes(int size, int seed) {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        return data;
    }

    @Test
    void threeObjectsShareAFrameAndTheMiddleMovesDownWhenTheFirstGoes() {
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                AbstractZPool pool = (AbstractZPool) ZPools.z3fold(source)) {
            byte[] a = bytes(1000, 1);
            byte[] b = bytes(1000, 2);
            byte[] c = bytes(1200, 3);
            long first = pool.malloc(a.length);
            pool.write(first, a, 0, a.length);
            long last = pool.malloc(b.length); // the last buddy of the same frame
            pool.write(last, b, 0, b.length);
            long middle = pool.malloc(c.length); // both ends taken: the middle, after the first
            pool.write(middle, c, 0, c.length);
            assertThat(pool.frameOf(last)).isEqualTo(pool.frameOf(first));
            assertThat(pool.frameOf(middle)).isEqualTo(pool.frameOf(first));
            assertThat(pool.stats().framesHeld()).isEqualTo(1);
            pool.checkInvariants();

            pool.free(first);
            assertThat(pool.stats().movedObjects()).as("the middle moved into the first's place").isEqualTo(1);
            pool.checkInvariants();
            byte[] out = new byte[pool.maxObjectSize()];
            assertThat(Arrays.copyOf(out, pool.read(middle, out, 0))).isEqualTo(c);
            assertThat(Arrays.copyOf(out, pool.read(last, out, 0))).isEqualTo(b);

            long again = pool.malloc(1500); // the freed room is one run again: it fits beside them
            assertThat(pool.frameOf(again)).isEqualTo(pool.frameOf(middle));
            pool.checkInvariants();
            List<Long> evicted = new ArrayList<>();
            assertThat(pool.reclaim(1, (handle, data) -> evicted.add(handle))).isEqualTo(1);
            assertThat(evicted).containsExactlyInAnyOrder(middle, again, last);
        }
    }

    @Test
    void holdsMoreObjectsPerFrameThanZbud() {
        int[] sizes = new Random(7).ints(3000, 300, 1400).toArray(); // compressed 1 KiB pages
        long[] frames = new long[2];
        for (int kind = 0; kind < 2; kind++) {
            try (FrameSource source = new FrameSource(64L << 20, 4096);
                    ZPool pool = kind == 0 ? ZPools.zbud(source) : ZPools.z3fold(source)) {
                for (int size : sizes) {
                    pool.malloc(size);
                }
                frames[kind] = pool.stats().framesHeld();
            }
        }
        assertThat(frames[1]).as("z3fold frames against zbud's %d", frames[0]).isLessThan(frames[0] * 4 / 5);
    }
}

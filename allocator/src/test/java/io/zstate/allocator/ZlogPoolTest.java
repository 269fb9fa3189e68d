package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What is zlog's own: dozens of small objects a frame, and objects stored together dying together. */
class ZlogPoolTest {

    @Test
    void refusesABudgetWithMoreFramesThanALocationNames() {
        try (FrameSource source = new FrameSource(256L << 30, 4096)) { // 2^26 frames
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ZPools.zlog(source))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("zlog addresses at most 33554432 frames")
                    .hasMessageContaining("use larger frames");
        }
    }

    @Test
    void packsDozensOfSmallObjectsIntoAFrame() {
        try (FrameSource source = new FrameSource(1L << 20, 4096); ZPool pool = ZPools.zlog(source)) {
            for (int i = 0; i < 1000; i++) {
                pool.malloc(40);
            }
            // 48-byte records after a 16-byte header: 85 a frame
            assertThat(pool.stats().framesHeld()).isEqualTo((1000 + 84) / 85);
            pool.checkInvariants();
        }
    }

    @Test
    void objectsStoredTogetherReleaseTheirFramesTogetherWithoutCompaction() {
        try (FrameSource source = new FrameSource(64L << 20, 4096);
                ZPool zlog = ZPools.zlog(source);
                FrameSource other = new FrameSource(64L << 20, 4096);
                ZPool zsmalloc = ZPools.zsmalloc(other)) {
            long[] released = new long[2];
            int kind = 0;
            for (ZPool pool : List.of(zlog, zsmalloc)) {
                Random random = new Random(11);
                List<List<Long>> rounds = new ArrayList<>();
                for (int round = 0; round < 5; round++) { // a writeback batch each: evicted pages stored together
                    List<Long> handles = new ArrayList<>();
                    for (int i = 0; i < 400; i++) {
                        handles.add(pool.malloc(200 + random.nextInt(500)));
                    }
                    rounds.add(handles);
                }
                long before = pool.stats().framesHeld();
                for (long handle : rounds.get(2)) { // one batch dies (its pages were read back and changed)
                    pool.free(handle);
                }
                released[kind++] = before - pool.stats().framesHeld();
                pool.checkInvariants();
                assertThat(pool.stats().compactedFrames()).isZero();
            }
            // a round fills about 44 frames; zlog frees all but the two it shares with its neighbours
            assertThat(released[0]).as("zlog frames freed by the batch dying").isGreaterThanOrEqualTo(40);
            assertThat(released[0]).as("against zsmalloc's %d", released[1]).isGreaterThan(released[1]);
        }
    }
}

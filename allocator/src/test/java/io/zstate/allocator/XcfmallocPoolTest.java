package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * What is xcfmalloc's own: objects spread over blocks in several frames, free blocks merged with
 * their neighbours, reclaim evicting every object with a block in the victim, and what the seed
 * thread said it costs (descriptors, copies).
 */
class XcfmallocPoolTest {

    private static byte[] bytes(int size, int seed) {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        return data;
    }

    private static long put(ZPool pool, byte[] data) {
        long handle = pool.malloc(data.length);
        assertThat(handle).isNotEqualTo(ZPool.NO_SPACE);
        pool.write(handle, data, 0, data.length);
        return handle;
    }

    private static byte[] get(ZPool pool, long handle) {
        byte[] out = new byte[pool.size(handle)];
        pool.read(handle, out, 0);
        return out;
    }

    @Test
    void refusesABudgetWithMoreBlocksThanADescriptorNames() {
        try (FrameSource source = new FrameSource(64L << 30, 4096)) { // 2^24 frames of 255 blocks at most
            assertThatThrownBy(() -> ZPools.xcfmalloc(source))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("xcfmalloc addresses at most")
                    .hasMessageContaining("use a smaller budget per pool");
        }
    }

    @Test
    void anObjectSpreadOverBlocksInTwoFramesReadsBackIntact() {
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                AbstractZPool pool = (AbstractZPool) ZPools.xcfmalloc(source)) {
            // 2400 bytes take 151 of a frame's 255 chunks: each frame keeps a 104-chunk hole (1656 bytes)
            byte[] a = bytes(2400, 1);
            byte[] b = bytes(2400, 2);
            long first = put(pool, a);
            long second = put(pool, b);
            assertThat(pool.frameOf(second)).isNotEqualTo(pool.frameOf(first));
            byte[] c = bytes(3000, 3); // more than either hole, less than both
            long spread = put(pool, c);
            int[] frames = pool.framesOf(spread);
            assertThat(frames).hasSize(2);
            assertThat(frames[0]).isNotEqualTo(frames[1]);
            assertThat(Set.of(frames[0], frames[1])).containsExactlyInAnyOrder(pool.frameOf(first), pool.frameOf(second));
            pool.checkInvariants();

            assertThat(get(pool, spread)).isEqualTo(c);
            ByteBuffer direct = ByteBuffer.allocateDirect(3003).position(3);
            assertThat(pool.read(spread, direct)).isEqualTo(3000);
            byte[] viaBuffer = new byte[3000];
            direct.flip().position(3);
            direct.get(viaBuffer);
            assertThat(viaBuffer).isEqualTo(c);
            assertThat(get(pool, first)).isEqualTo(a);
            assertThat(get(pool, second)).isEqualTo(b);

            byte[] prefix = bytes(2000, 4); // a write across the block boundary, through a buffer
            pool.write(spread, ByteBuffer.wrap(prefix));
            System.arraycopy(prefix, 0, c, 0, prefix.length);
            assertThat(get(pool, spread)).isEqualTo(c);

            ZPoolStats stats = pool.stats();
            assertThat(stats.reads()).isEqualTo(5);
            assertThat(stats.splitReads()).as("the spread object's reads").isEqualTo(3);
            assertThat(stats.readCopies()).as("two copies a read of the spread object, one of the others")
                    .isEqualTo(3 * 2 + 2);
            // frame headers and one header a block: 2 * 16 + 4 * 8
            assertThat(stats.inFrameMetadataBytes()).isEqualTo(2 * 16 + 4 * 8);
        }
    }

    @Test
    void anObjectLargerThanAnyFreeBlockIsSplitRatherThanTakingANewFrame() {
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                AbstractZPool pool = (AbstractZPool) ZPools.xcfmalloc(source)) {
            for (int i = 0; i < 4; i++) {
                put(pool, bytes(3500, i)); // 220 chunks: four frames, a 35-chunk hole (552 bytes) each
            }
            assertThat(source.framesInUse()).isEqualTo(4);
            byte[] big = bytes(2000, 9); // no hole holds it; the four together do
            long spread = put(pool, big);
            assertThat(source.framesInUse()).as("no new frame").isEqualTo(4);
            assertThat(pool.framesOf(spread)).hasSize(4).doesNotHaveDuplicates();
            assertThat(get(pool, spread)).isEqualTo(big);
            pool.checkInvariants();

            // what is left of the holes (at most 4 blocks an object) cannot hold another: a new frame
            long next = put(pool, bytes(2000, 10));
            assertThat(source.framesInUse()).isEqualTo(5);
            assertThat(pool.framesOf(next)).hasSize(1);
            pool.checkInvariants();
        }
    }

    @Test
    void freeingMergesABlockWithTheFreeBlocksBesideIt() {
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                AbstractZPool pool = (AbstractZPool) ZPools.xcfmalloc(source)) {
            // 1000 bytes and a header: 63 chunks each, at chunks 1, 64 and 127; the frame's tail, 66 free
            long a = put(pool, bytes(1000, 1));
            long b = put(pool, bytes(1000, 2));
            long c = put(pool, bytes(1000, 3));
            pool.free(a);
            pool.free(c); // merges with the tail: 129 chunks, 2056 bytes
            pool.checkInvariants();
            byte[] merged = bytes(2056, 4); // fits neither 63 nor 66 chunks alone
            long d = put(pool, merged);
            assertThat(pool.framesOf(d)).containsExactly(pool.frameOf(b));
            assertThat(source.framesInUse()).isEqualTo(1);
            pool.checkInvariants();
            assertThat(get(pool, d)).isEqualTo(merged);
            assertThat(get(pool, b)).isEqualTo(bytes(1000, 2));

            pool.free(b); // merges with a's block before it
            pool.checkInvariants();
            pool.free(d); // merges with both sides: the frame is one free block and goes back
            assertThat(source.framesInUse()).isZero();
            assertThat(pool.stats().framesHeld()).isZero();
            pool.checkInvariants();
        }
    }

    @Test
    void reclaimOfAFrameEvictsEachObjectWithABlockInItOnce() {
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                AbstractZPool pool = (AbstractZPool) ZPools.xcfmalloc(source)) {
            long a = put(pool, bytes(2400, 1));
            long b = put(pool, bytes(2400, 2));
            long c = put(pool, bytes(3000, 3)); // spread over a's frame and b's
            long d = put(pool, bytes(4000, 4)); // a frame of its own, the hottest
            int[][] framesBefore = {pool.framesOf(a), pool.framesOf(b), pool.framesOf(c), pool.framesOf(d)};
            long[] all = {a, b, c, d};

            List<Long> evicted = new ArrayList<>();
            assertThat(pool.reclaim(1, (handle, data) -> evicted.add(handle))).isEqualTo(1);
            int victim = -1;
            for (int frame : framesBefore[2]) {
                if (!source.isInUse(frame)) {
                    victim = frame;
                }
            }
            assertThat(victim).as("the cold end is one of the spread object's frames").isNotNegative();
            List<Long> expected = new ArrayList<>();
            for (int i = 0; i < all.length; i++) {
                for (int frame : framesBefore[i]) {
                    if (frame == victim) {
                        expected.add(all[i]);
                    }
                }
            }
            assertThat(evicted).containsExactlyInAnyOrderElementsOf(expected).contains(c);
            assertThat(source.framesInUse()).as("the other frame of the spread object stays: it holds more")
                    .isEqualTo(2);
            pool.checkInvariants();
            long survivor = evicted.contains(a) ? b : a;
            assertThat(get(pool, survivor)).isEqualTo(bytes(2400, survivor == a ? 1 : 2));

            // both frames of a spread object in one reclaim: it is offered once
            long e = put(pool, bytes(2400, 5));
            long f = put(pool, bytes(3000, 6)); // a fresh frame and the holes
            pool.checkInvariants();
            evicted.clear();
            pool.reclaim(Integer.MAX_VALUE, (handle, data) -> evicted.add(handle));
            assertThat(evicted).doesNotHaveDuplicates();
            assertThat(new HashSet<>(evicted)).contains(e, f, d, survivor);
            assertThat(source.framesInUse()).isZero();
            pool.checkInvariants();
        }
    }

    @Test
    void descriptorsCostMoreMetadataPerObjectThanZsmallocAndCompactionNothing() {
        int[] sizes = new Random(5).ints(4000, 300, 3800).toArray(); // compressed 4 KiB pages
        ZPoolStats[] stats = new ZPoolStats[2];
        for (int kind = 0; kind < 2; kind++) {
            try (FrameSource source = new FrameSource(64L << 20, 4096);
                    ZPool pool = kind == 0 ? ZPools.zsmalloc(source) : ZPools.xcfmalloc(source)) {
                List<Long> handles = new ArrayList<>();
                for (int size : sizes) {
                    handles.add(pool.malloc(size));
                }
                for (int i = 0; i < handles.size(); i += 3) {
                    pool.free(handles.get(i));
                }
                for (int i = 0; i < 1000; i++) {
                    pool.malloc(sizes[i]);
                }
                if (kind == 1) {
                    assertThat(pool.compact()).isZero();
                    assertThat(pool.stats().movedObjects()).isZero();
                }
                pool.checkInvariants();
                stats[kind] = pool.stats();
            }
        }
        assertThat(stats[1].metadataBytesPerObject())
                .as("xcfmalloc on-heap bytes an object against zsmalloc's %.1f", stats[0].metadataBytesPerObject())
                .isGreaterThan(stats[0].metadataBytesPerObject());
        assertThat(stats[1].inFrameMetadataBytesPerObject()).isGreaterThanOrEqualTo(8.0);
        assertThat(stats[1].objects()).isEqualTo(stats[0].objects());
    }
}

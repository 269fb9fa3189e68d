package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The ZPool contract, example by example, on every allocator and geometry. */
class ZPoolContractTest {

    static List<PoolSpec> specs() {
        return PoolSpec.list();
    }

    private static byte[] bytes(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void writesAndReadsBackEverySizeFromOneToTheMaximum(PoolSpec spec) {
        try (FrameSource source = new FrameSource(64L * 1024 * 1024, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            int max = pool.maxObjectSize();
            assertThat(ZPools.maxObjectSize(spec.type(), spec.frameSize()))
                    .as("the configuration check's answer").isEqualTo(max);
            Map<Long, byte[]> live = new HashMap<>();
            for (int size : new int[] {1, 2, 7, 8, 9, 31, 32, 33, 100, 1000, max / 2, max - 1, max}) {
                long h = pool.malloc(size);
                assertThat(h).isNotEqualTo(ZPool.NO_SPACE);
                byte[] data = bytes(size, size);
                pool.write(h, data, 0, size);
                live.put(h, data);
            }
            pool.checkInvariants();
            for (Map.Entry<Long, byte[]> e : live.entrySet()) {
                byte[] out = new byte[e.getValue().length + 3];
                assertThat(pool.read(e.getKey(), out, 3)).isEqualTo(e.getValue().length);
                assertThat(ByteBuffer.wrap(out, 3, e.getValue().length)).isEqualTo(ByteBuffer.wrap(e.getValue()));
                ByteBuffer direct = ByteBuffer.allocateDirect(e.getValue().length + 5).position(5);
                pool.read(e.getKey(), direct);
                assertThat(direct.position()).isEqualTo(5 + e.getValue().length);
                assertThat(direct.flip().position(5)).isEqualTo(ByteBuffer.wrap(e.getValue()));
                assertThat(pool.size(e.getKey())).isEqualTo(e.getValue().length);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void rejectsSizeZeroAndSizesAboveTheMaximumWithAClearError(PoolSpec spec) {
        try (FrameSource source = new FrameSource(1 << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            assertThatThrownBy(() -> pool.malloc(0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cannot allocate 0 bytes")
                    .hasMessageContaining("from 1 to " + pool.maxObjectSize());
            assertThatThrownBy(() -> pool.malloc(pool.maxObjectSize() + 1))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("cannot allocate " + (pool.maxObjectSize() + 1));
            assertThatThrownBy(() -> pool.malloc(-5)).isInstanceOf(IllegalArgumentException.class);
            assertThat(pool.stats().objects()).isZero();
            assertThat(source.framesInUse()).isZero();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void answersNoSpaceWhenTheBudgetIsExhaustedAndReclaimMakesRoom(PoolSpec spec) {
        try (FrameSource source = new FrameSource(32L * spec.frameSize(), spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            int size = pool.maxObjectSize() * 3 / 5;
            List<Long> handles = new ArrayList<>();
            long h;
            while ((h = pool.malloc(size)) != ZPool.NO_SPACE) {
                pool.write(h, bytes(size, handles.size()), 0, size);
                handles.add(h);
            }
            assertThat(handles).isNotEmpty();
            assertThat(source.framesAvailable()).isLessThan(spec.framesPerMalloc());
            assertThat(pool.stats().noSpace()).isEqualTo(1);
            assertThat(pool.malloc(size)).isEqualTo(ZPool.NO_SPACE);

            Map<Long, byte[]> evicted = new HashMap<>();
            int released = pool.reclaim(1, (handle, data) -> {
                byte[] copy = new byte[data.remaining()];
                data.get(copy);
                evicted.put(handle, copy);
                return true;
            });
            assertThat(released).isGreaterThanOrEqualTo(1);
            assertThat(evicted).isNotEmpty();
            for (Map.Entry<Long, byte[]> e : evicted.entrySet()) {
                assertThat(e.getValue()).isEqualTo(bytes(size, handles.indexOf(e.getKey())));
                assertThatThrownBy(() -> pool.size(e.getKey())).isInstanceOf(InvalidHandleException.class);
            }
            assertThat(pool.malloc(size)).isNotEqualTo(ZPool.NO_SPACE);
            pool.checkInvariants();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void doubleFreeAndStaleHandlesAreReportedAndDamageNothing(PoolSpec spec) {
        try (FrameSource source = new FrameSource(1 << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            long a = pool.malloc(100);
            long b = pool.malloc(200);
            pool.write(b, bytes(200, 2), 0, 200);
            pool.free(a);
            assertThatThrownBy(() -> pool.free(a))
                    .isInstanceOf(InvalidHandleException.class)
                    .hasMessageContaining("stale")
                    .hasMessageContaining("double free or use after free");
            assertThatThrownBy(() -> pool.read(a, new byte[100], 0)).isInstanceOf(InvalidHandleException.class);
            assertThatThrownBy(() -> pool.write(a, new byte[1], 0, 1)).isInstanceOf(InvalidHandleException.class);
            // the slot is reused by the next malloc; the old handle must not reach the new object
            long c = pool.malloc(100);
            pool.write(c, bytes(100, 3), 0, 100);
            assertThatThrownBy(() -> pool.write(a, new byte[1], 0, 1))
                    .isInstanceOf(InvalidHandleException.class)
                    .hasMessageContaining("reused");
            assertThatThrownBy(() -> pool.free(ZPool.NO_SPACE))
                    .isInstanceOf(InvalidHandleException.class)
                    .hasMessageContaining("NO_SPACE");
            assertThatThrownBy(() -> pool.free(b + 1000)).isInstanceOf(InvalidHandleException.class);
            byte[] out = new byte[200];
            pool.read(b, out, 0);
            assertThat(out).isEqualTo(bytes(200, 2));
            out = new byte[100];
            pool.read(c, out, 0);
            assertThat(out).isEqualTo(bytes(100, 3));
            pool.checkInvariants();
            assertThat(pool.stats().objects()).isEqualTo(2);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void aHandleOfAnotherPoolIsRefused(PoolSpec spec) {
        try (FrameSource source = new FrameSource(1 << 20, spec.frameSize());
                AbstractZPool one = spec.create(source);
                AbstractZPool other = spec.create(source)) {
            long mine = one.malloc(10);
            other.malloc(10);
            assertThatThrownBy(() -> other.free(mine))
                    .isInstanceOf(InvalidHandleException.class)
                    .hasMessageContaining("not issued by this pool");
            one.checkInvariants();
            other.checkInvariants();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void writesLongerThanTheObjectAreRefused(PoolSpec spec) {
        try (FrameSource source = new FrameSource(1 << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            long h = pool.malloc(10);
            assertThatThrownBy(() -> pool.write(h, new byte[11], 0, 11))
                    .hasMessageContaining("cannot write 11 bytes")
                    .hasMessageContaining("of 10 bytes");
            assertThatThrownBy(() -> pool.write(h, ByteBuffer.allocate(11)))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> pool.read(h, ByteBuffer.allocate(9)))
                    .hasMessageContaining("room for 9");
            pool.write(h, ByteBuffer.wrap(new byte[] {1, 2, 3}));
            byte[] out = new byte[10];
            pool.read(h, out, 0);
            assertThat(out).startsWith(1, 2, 3);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void theEvictorCannotReenterThePool(PoolSpec spec) {
        try (FrameSource source = new FrameSource(1 << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            long h = pool.malloc(50);
            pool.write(h, bytes(50, 9), 0, 50);
            int held = source.framesInUse();
            List<Throwable> refused = new ArrayList<>();
            int released = pool.reclaim(1, (handle, data) -> {
                for (Runnable call : List.<Runnable>of(
                        () -> pool.malloc(10),
                        () -> pool.free(handle),
                        () -> pool.write(handle, new byte[1], 0, 1),
                        () -> pool.reclaim(1, (x, y) -> true),
                        pool::compact,
                        pool::close)) {
                    try {
                        call.run();
                    } catch (IllegalStateException e) {
                        refused.add(e);
                    }
                }
                return true;
            });
            assertThat(refused).hasSize(6);
            assertThat(refused.get(0)).hasMessageContaining("must not re-enter");
            assertThat(released).isEqualTo(held);
            assertThat(pool.stats().objects()).isZero();
            pool.checkInvariants();
            assertThat(pool.malloc(10)).isNotEqualTo(ZPool.NO_SPACE);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void aRefusingEvictorKeepsItsObjectAndItsFrame(PoolSpec spec) {
        try (FrameSource source = new FrameSource(1 << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            long h = pool.malloc(300);
            pool.write(h, bytes(300, 5), 0, 300);
            int before = source.framesInUse();
            assertThat(pool.reclaim(4, (handle, data) -> false)).isZero();
            assertThat(source.framesInUse()).isEqualTo(before);
            byte[] out = new byte[300];
            pool.read(h, out, 0);
            assertThat(out).isEqualTo(bytes(300, 5));
            assertThatThrownBy(() -> pool.reclaim(1, (handle, data) -> {
                        throw new IllegalStateException("swap device down");
                    }))
                    .hasMessageContaining("swap device down");
            pool.checkInvariants();
            pool.free(h); // the pool is usable after the evictor failed
            pool.checkInvariants();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void nothingIsFreedBeforeTheEvictorFlushesAndNothingAtAllIfTheFlushFails(PoolSpec spec) {
        try (FrameSource source = new FrameSource(64L << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            Map<Long, byte[]> live = new HashMap<>();
            for (int i = 0; i < 200; i++) {
                int size = 100 + (i * 37) % (pool.maxObjectSize() / 3);
                long h = pool.malloc(size);
                pool.write(h, bytes(size, i), 0, size);
                live.put(h, bytes(size, i));
            }
            int held = source.framesInUse();
            List<Long> taken = new ArrayList<>();
            assertThatThrownBy(() -> pool.reclaim(4, new Evictor() {
                        @Override
                        public boolean evict(long handle, ByteBuffer data) {
                            taken.add(handle);
                            return true;
                        }

                        @Override
                        public void flush() {
                            assertThat(source.framesInUse()).as("frames held until the flush").isEqualTo(held);
                            assertThat(pool.stats().objects()).as("objects held until the flush").isEqualTo(200);
                            throw new IllegalStateException("disk full");
                        }
                    }))
                    .hasMessageContaining("disk full");
            assertThat(taken).isNotEmpty();
            assertThat(source.framesInUse()).isEqualTo(held);
            pool.checkInvariants();
            for (Map.Entry<Long, byte[]> e : live.entrySet()) {
                byte[] out = new byte[e.getValue().length];
                pool.read(e.getKey(), out, 0);
                assertThat(out).as("an object taken by the failed reclaim").isEqualTo(e.getValue());
            }
            // the same victims again, with a flush that works: now they go
            int released = pool.reclaim(4, (handle, data) -> true);
            assertThat(released).isGreaterThanOrEqualTo(4);
            assertThat(source.framesInUse()).isEqualTo(held - released);
            pool.checkInvariants();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void aRefusedArenaIsNoSpaceAndASpanTakesAllItsFramesOrNone(PoolSpec spec) {
        boolean[] refuse = {false};
        ArenaMemory memory = new ArenaMemory() {
            @Override
            public ByteBuffer allocate(int bytes) {
                if (refuse[0]) {
                    throw new OutOfMemoryError("injected: arena refused");
                }
                return ByteBuffer.allocateDirect(bytes);
            }

            @Override
            public void release(ByteBuffer arena) {}
        };
        // arenas of 3 frames: a span of 4 or more frames needs a second arena
        try (FrameSource source = new FrameSource(64L * spec.frameSize(), spec.frameSize(), 3 * spec.frameSize(),
                        null, memory);
                AbstractZPool pool = spec.create(source)) {
            long first = pool.malloc(pool.maxObjectSize());
            assertThat(first).isNotEqualTo(ZPool.NO_SPACE);
            refuse[0] = true;
            List<Long> handles = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                long h = pool.malloc(pool.maxObjectSize());
                if (h == ZPool.NO_SPACE) {
                    break;
                }
                handles.add(h);
            }
            assertThat(source.arenaRefusals()).as("the memory refused an arena").isPositive();
            pool.checkInvariants();
            assertThat(source.framesInUse()).as("frames held = frames the pool counts")
                    .isEqualTo((int) pool.stats().framesHeld());
            refuse[0] = false;
            long later = pool.malloc(pool.maxObjectSize());
            assertThat(later).as("the pool works once memory is back").isNotEqualTo(ZPool.NO_SPACE);
            pool.checkInvariants();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void reclaimReleasesWholeFramesFromTheColdEnd(PoolSpec spec) {
        try (FrameSource source = new FrameSource(64L << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            Random random = new Random(1);
            List<Long> handles = new ArrayList<>();
            for (int i = 0; i < 800; i++) {
                long h = pool.malloc(1 + random.nextInt(pool.maxObjectSize()));
                assertThat(h).isNotEqualTo(ZPool.NO_SPACE);
                handles.add(h);
            }
            List<Long> evicted = new ArrayList<>();
            Map<Long, int[]> framesOfEvicted = new HashMap<>();
            while (pool.stats().objects() > 0) {
                int framesBefore = source.framesInUse();
                framesOfEvicted.clear();
                int released = pool.reclaim(1, (handle, data) -> {
                    evicted.add(handle);
                    framesOfEvicted.put(handle, pool.framesOf(handle));
                    return true;
                });
                assertThat(released).isPositive();
                assertThat(source.framesInUse()).isEqualTo(framesBefore - released);
                for (int[] frames : framesOfEvicted.values()) {
                    assertEvictedObjectsFrameReleased(spec.type(), source, frames);
                }
                pool.checkInvariants();
            }
            assertThat(evicted).hasSize(handles.size());
            assertThat(source.framesInUse()).isZero();
            if (spec.type().equals("zbud")) {
                assertThat(pool.stats().evictedObjectsPerReclaimedFrame()).isLessThanOrEqualTo(2.0);
            }
            if (spec.type().equals("z3fold")) {
                assertThat(pool.stats().evictedObjectsPerReclaimedFrame()).isLessThanOrEqualTo(3.0);
            }
        }
    }

    /**
     * An evicted object's frames are released: all of them, since zsmalloc releases whole spans;
     * for xcfmalloc, whose objects may have blocks in frames beside the victim, the victim's.
     */
    static void assertEvictedObjectsFrameReleased(String type, FrameSource source, int[] frames) {
        if (type.equals("xcfmalloc")) {
            assertThat(java.util.Arrays.stream(frames).anyMatch(f -> !source.isInUse(f)))
                    .as("some frame of an evicted object is released").isTrue();
        } else {
            assertThat(java.util.Arrays.stream(frames).noneMatch(source::isInUse))
                    .as("the frames of an evicted object are released").isTrue();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void reclaimStartsAtTheFrameLeastRecentlyAllocatedInto(PoolSpec spec) {
        try (FrameSource source = new FrameSource(16L << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            int big = pool.maxObjectSize(); // a frame (span) of its own in both allocators
            int half = spec.frameSize() / 2 - spec.frameSize() / 64; // two share a frame (span)
            long a = pool.malloc(half);
            long b = pool.malloc(big);
            long c = pool.malloc(big);
            long d = pool.malloc(half); // joins a's frame, which becomes the hottest
            List<Long> evicted = new ArrayList<>();
            Evictor recorder = (handle, data) -> evicted.add(handle);
            if (spec.type().equals("zlog")) { // appends only to the newest frame: d has one of its own
                assertThat(pool.frameOf(d)).isNotEqualTo(pool.frameOf(a));
                for (long expected : new long[] {a, b, c, d}) {
                    pool.reclaim(1, recorder);
                    assertThat(evicted).endsWith(expected);
                }
                pool.checkInvariants();
                return;
            }
            assertThat(pool.frameOf(d)).isEqualTo(pool.frameOf(a));
            pool.reclaim(1, recorder);
            assertThat(evicted).containsExactly(b);
            pool.reclaim(1, recorder);
            assertThat(evicted).containsExactly(b, c);
            pool.reclaim(1, recorder);
            assertThat(evicted).containsExactlyInAnyOrder(b, c, a, d);
            pool.checkInvariants();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void compactionMovesObjectsIntoDenseFramesAndReleasesTheRest(PoolSpec spec) {
        try (FrameSource source = new FrameSource(64L << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            Random random = new Random(3);
            Map<Long, byte[]> live = new HashMap<>();
            for (int i = 0; i < 1000; i++) {
                int size = 1 + (i % 3) * pool.maxObjectSize() / 7 + random.nextInt(40);
                long h = pool.malloc(size);
                byte[] data = bytes(size, i);
                pool.write(h, data, 0, size);
                live.put(h, data);
            }
            for (Long h : new ArrayList<>(live.keySet())) {
                if (random.nextBoolean()) {
                    pool.free(h);
                    live.remove(h);
                }
            }
            ZPoolStats before = pool.stats();
            int released = pool.compact();
            ZPoolStats after = pool.stats();
            pool.checkInvariants();
            assertThat(after.framesHeld()).isEqualTo(before.framesHeld() - released);
            assertThat(source.framesInUse()).isEqualTo((int) after.framesHeld());
            if (spec.type().equals("zsmalloc") || spec.type().equals("zlog")) {
                assertThat(released).isPositive();
                assertThat(after.movedObjects()).isPositive();
                assertThat(after.utilization()).isGreaterThan(before.utilization());
                assertThat(pool.compact()).as("a second compaction finds nothing to do").isZero();
            } else {
                assertThat(released).isZero();
            }
            byte[] out = new byte[pool.maxObjectSize()];
            for (Map.Entry<Long, byte[]> e : live.entrySet()) {
                int n = pool.read(e.getKey(), out, 0);
                assertThat(ByteBuffer.wrap(out, 0, n)).isEqualTo(ByteBuffer.wrap(e.getValue()));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("specs")
    void closeReturnsEveryFrame(PoolSpec spec) {
        FrameSource source = new FrameSource(64L << 20, spec.frameSize());
        AbstractZPool pool = spec.create(source);
        Random random = new Random(2);
        for (int i = 0; i < 500; i++) {
            long h = pool.malloc(1 + random.nextInt(pool.maxObjectSize()));
            if (i % 3 == 0) {
                pool.free(h);
            }
        }
        assertThat(source.framesInUse()).isPositive();
        pool.close();
        pool.close();
        assertThat(source.framesInUse()).isZero();
        source.checkInvariants();
        assertThatThrownBy(() -> pool.malloc(1)).hasMessageContaining("closed");
        source.close();
        assertThat(source.reservedBytes()).isZero();
    }
}

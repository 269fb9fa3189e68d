package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FrameSourceTest {

    @Test
    void handsOutFramesUpToTheBudgetThenAnswersNoFrame() {
        try (FrameSource source = new FrameSource(10 * 4096 + 100, 4096, 4 * 4096)) {
            assertThat(source.maxFrames()).isEqualTo(10);
            Set<Integer> frames = new HashSet<>();
            for (int i = 0; i < 10; i++) {
                int frame = source.allocate();
                assertThat(frame).isNotEqualTo(FrameSource.NO_FRAME);
                assertThat(frames.add(frame)).isTrue();
            }
            assertThat(source.allocate()).isEqualTo(FrameSource.NO_FRAME);
            assertThat(source.framesInUse()).isEqualTo(10);
            assertThat(source.bytesInUse()).isEqualTo(10 * 4096L);
            assertThat(source.reservedBytes()).isEqualTo(10 * 4096L);
            source.checkInvariants();
        }
    }

    @Test
    void framesDoNotOverlapAcrossArenas() {
        try (FrameSource source = new FrameSource(64 * 4096, 4096, 8 * 4096)) {
            int[] frames = new int[64];
            for (int i = 0; i < 64; i++) {
                frames[i] = source.allocate();
                source.arena(frames[i]).putInt(source.offset(frames[i]), i);
                source.arena(frames[i]).putInt(source.offset(frames[i]) + 4092, ~i);
            }
            for (int i = 0; i < 64; i++) {
                assertThat(source.arena(frames[i]).getInt(source.offset(frames[i]))).isEqualTo(i);
                assertThat(source.arena(frames[i]).getInt(source.offset(frames[i]) + 4092)).isEqualTo(~i);
            }
        }
    }

    @Test
    void releasedFramesAreReused() {
        try (FrameSource source = new FrameSource(2 * 4096)) {
            int a = source.allocate();
            int b = source.allocate();
            source.release(a);
            assertThat(source.allocate()).isEqualTo(a);
            assertThat(source.allocate()).isEqualTo(FrameSource.NO_FRAME);
            source.release(b);
            source.checkInvariants();
        }
    }

    @Test
    void releasingTwiceOrAFrameNeverAllocatedIsAnError() {
        try (FrameSource source = new FrameSource(4 * 4096)) {
            int a = source.allocate();
            source.release(a);
            assertThatThrownBy(() -> source.release(a))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("not in use");
            assertThatThrownBy(() -> source.release(3)).isInstanceOf(IllegalStateException.class);
            source.checkInvariants();
        }
    }

    @Test
    void rejectsFrameSizesThatAreNotAllowed() {
        for (int size : new int[] {2048, 4095, 6000, 128 * 1024}) {
            assertThatThrownBy(() -> new FrameSource(1 << 20, size))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("power of two from 4096 to 65536");
        }
        assertThatThrownBy(() -> new FrameSource(100, 4096))
                .hasMessageContaining("holds no 4096-byte frame");
    }

    @Test
    void everyAllowedFrameSizeWorks() {
        for (int size = 4096; size <= 65536; size <<= 1) {
            try (FrameSource source = new FrameSource(8L * size, size)) {
                int frame = source.allocate();
                source.arena(frame).putLong(source.offset(frame) + size - 8, 42L);
                assertThat(source.arena(frame).getLong(source.offset(frame) + size - 8)).isEqualTo(42L);
                assertThat(source.frameSize()).isEqualTo(size);
            }
        }
    }

    @Test
    void arenasAreAllocatedOnlyWhenNeeded() {
        try (FrameSource source = new FrameSource(1L << 30, 4096, 1 << 20)) {
            assertThat(source.reservedBytes()).isZero();
            source.allocate();
            assertThat(source.reservedBytes()).isEqualTo(1 << 20);
        }
    }

    @Test
    void closeReleasesEverything() {
        FrameSource source = new FrameSource(16 * 4096);
        source.allocate();
        source.allocate();
        source.close();
        assertThat(source.isClosed()).isTrue();
        assertThat(source.framesInUse()).isZero();
        assertThat(source.reservedBytes()).isZero();
        assertThatThrownBy(source::allocate).hasMessageContaining("closed");
    }

    @Test
    void closeGivesEveryArenaBackToItsMemoryOnce() {
        java.util.List<java.nio.ByteBuffer> live = new java.util.ArrayList<>();
        java.util.List<java.nio.ByteBuffer> released = new java.util.ArrayList<>();
        ArenaMemory counting = new ArenaMemory() {
            @Override
            public java.nio.ByteBuffer allocate(int bytes) {
                java.nio.ByteBuffer arena = java.nio.ByteBuffer.allocateDirect(bytes);
                live.add(arena);
                return arena;
            }

            @Override
            public void release(java.nio.ByteBuffer arena) {
                assertThat(live.remove(arena)).as("released an arena it did not hand out, or twice").isTrue();
                released.add(arena);
            }
        };
        FrameSource source = new FrameSource(16 * 4096, 4096, 4 * 4096, null, counting);
        for (int i = 0; i < 9; i++) {
            source.allocate();
        }
        assertThat(live).hasSize(3);
        source.close();
        source.close();
        assertThat(live).isEmpty();
        assertThat(released).hasSize(3);
    }

    @Test
    void sourcesSharingABudgetNeverTakeMoreThanItTogether() {
        MemoryBudget budget = new MemoryBudget(8 * 4096);
        FrameSource a = new FrameSource(8 * 4096, 4096, 2 * 4096, budget);
        FrameSource b = new FrameSource(8 * 4096, 4096, 2 * 4096, budget);
        int taken = 0;
        while (a.allocate() != FrameSource.NO_FRAME) {
            taken++;
            if (b.allocate() != FrameSource.NO_FRAME) {
                taken++;
            }
        }
        assertThat(taken).isEqualTo(8);
        assertThat(budget.reserved()).isEqualTo(8 * 4096);
        a.close();
        assertThat(budget.reserved()).isEqualTo(b.reservedBytes());
        b.close();
        assertThat(budget.reserved()).isZero();
    }

    @Test
    void anArenaTheMemoryRefusesIsNoFrameNotAFailure() {
        boolean[] refuse = {true};
        ArenaMemory flaky = new ArenaMemory() {
            @Override
            public java.nio.ByteBuffer allocate(int bytes) {
                if (refuse[0]) {
                    throw new OutOfMemoryError("injected: no memory for an arena");
                }
                return java.nio.ByteBuffer.allocateDirect(bytes);
            }

            @Override
            public void release(java.nio.ByteBuffer arena) {}
        };
        MemoryBudget budget = new MemoryBudget(8 * 4096);
        try (FrameSource source = new FrameSource(8 * 4096, 4096, 4 * 4096, budget, flaky)) {
            assertThat(source.allocate()).isEqualTo(FrameSource.NO_FRAME);
            assertThat(source.arenaRefusals()).isEqualTo(1);
            assertThat(budget.reserved()).as("the refused arena's reservation is returned").isZero();
            assertThat(source.reservedBytes()).isZero();
            refuse[0] = false;
            assertThat(source.allocate()).isNotEqualTo(FrameSource.NO_FRAME);
            assertThat(budget.reserved()).isEqualTo(4 * 4096);
            source.checkInvariants();
        }
    }

    /**
     * Sources sharing one set of arena frames (a slot's pools): a frame one gives back is the next
     * the other gets, each stays within its own budget, a source refused because the others hold
     * the rest says so, and closing a source gives its frames back and leaves the arenas open.
     */
    @Test
    void sourcesSharingArenaFramesPassFramesToEachOther() {
        try (ArenaFrames slot = ArenaFrames.shared(8 * 4096, 4096, 4 * 4096, null, ArenaMemory.DIRECT)) {
            FrameSource a = new FrameSource(8 * 4096, slot);
            FrameSource b = new FrameSource(6 * 4096, slot);
            int[] held = new int[8];
            for (int i = 0; i < 8; i++) {
                held[i] = a.allocate();
                a.arena(held[i]).putInt(a.offset(held[i]), i);
            }
            assertThat(a.allocate()).isEqualTo(FrameSource.NO_FRAME);
            assertThat(a.isShortOfSharedFrames()).as("a holds its whole budget: not short of the slot").isFalse();
            assertThat(b.allocate()).isEqualTo(FrameSource.NO_FRAME);
            assertThat(b.isShortOfSharedFrames()).as("b is short because a holds the rest").isTrue();
            a.release(held[3]);
            int passed = b.allocate();
            assertThat(passed).as("the frame a gave back").isEqualTo(held[3]);
            assertThat(b.isInUse(passed)).isTrue();
            assertThat(a.isInUse(passed)).isFalse();
            assertThatThrownBy(() -> a.release(passed)).hasMessageContaining("not in use");
            for (int i = 0; i < 8; i++) {
                if (i != 3) {
                    assertThat(a.arena(held[i]).getInt(a.offset(held[i]))).isEqualTo(i);
                }
            }
            a.checkInvariants();
            b.checkInvariants();
            slot.checkInvariants();
            a.close();
            assertThat(slot.framesTaken()).isEqualTo(1);
            assertThat(a.reservedBytes()).isZero();
            assertThat(b.reservedBytes()).isEqualTo(4096);
            for (int i = 1; i < 6; i++) {
                assertThat(b.allocate()).isNotEqualTo(FrameSource.NO_FRAME);
            }
            assertThat(b.allocate()).as("b's own budget of 6").isEqualTo(FrameSource.NO_FRAME);
            assertThat(b.isShortOfSharedFrames()).isFalse();
            b.close();
            assertThat(slot.framesTaken()).isZero();
            assertThat(slot.isClosed()).isFalse();
            assertThat(slot.reservedBytes()).as("the arenas stay until the slot closes").isEqualTo(8 * 4096);
            slot.checkInvariants();
        }
    }

    /**
     * Four threads, each with a source of its own over one set of arena frames, take and give back
     * frames at random, marking each frame they hold with their own number: no frame is ever held
     * by two (a mark is never overwritten while held), and the accounting adds up afterwards.
     */
    @Test
    void threadsDrawingFromSharedFramesNeverHoldTheSameFrame() throws Exception {
        MemoryBudget budget = new MemoryBudget(64 * 4096);
        ArenaFrames slot = ArenaFrames.shared(64 * 4096, 4096, 8 * 4096, budget, ArenaMemory.DIRECT);
        int threads = 4;
        FrameSource[] sources = new FrameSource[threads];
        java.util.List<java.util.concurrent.Future<Long>> checked = new java.util.ArrayList<>();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            for (int t = 0; t < threads; t++) {
                int me = t;
                sources[t] = new FrameSource(40 * 4096, slot);
                checked.add(pool.submit(() -> {
                    FrameSource source = sources[me];
                    java.util.Random random = new java.util.Random(me);
                    int[] held = new int[64];
                    int count = 0;
                    long checks = 0;
                    for (int step = 0; step < 200_000; step++) {
                        if (count > 0 && (random.nextBoolean() || count == held.length)) {
                            int at = random.nextInt(count);
                            int frame = held[at];
                            int mark = source.arena(frame).getInt(source.offset(frame) + 8);
                            if (mark != me * 1_000_000 + frame) {
                                throw new AssertionError("frame " + frame + " of thread " + me + " holds " + mark);
                            }
                            checks++;
                            source.release(frame);
                            held[at] = held[--count];
                        } else {
                            int frame = source.allocate();
                            if (frame != FrameSource.NO_FRAME) {
                                source.arena(frame).putInt(source.offset(frame) + 8, me * 1_000_000 + frame);
                                held[count++] = frame;
                            }
                        }
                    }
                    return checks;
                }));
            }
            for (java.util.concurrent.Future<Long> f : checked) {
                assertThat(f.get(60, java.util.concurrent.TimeUnit.SECONDS)).isPositive();
            }
        } finally {
            pool.shutdownNow();
        }
        int held = 0;
        for (FrameSource source : sources) {
            source.checkInvariants();
            held += source.framesInUse();
        }
        assertThat(slot.framesTaken()).isEqualTo(held);
        slot.checkInvariants();
        for (FrameSource source : sources) {
            source.close();
        }
        assertThat(slot.framesTaken()).isZero();
        slot.close();
        assertThat(budget.reserved()).isZero();
    }
}

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
}

package io.zstate.pagestore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zstate.allocator.ArenaFrames;
import io.zstate.allocator.ArenaMemory;
import org.junit.jupiter.api.Test;

/** The slot's shared frames: made once, by the first pool, in its frame size. */
class SlotMemoryTest {

    @Test
    void theSlotsFramesAreMadeOnceAndABackendAskingAnotherFrameSizeIsToldWhichOption() {
        try (SlotMemory slot = new SlotMemory(8L << 20, 0.25)) {
            int[] made = {0};
            java.util.function.IntFunction<ArenaFrames> make = size -> {
                made[0]++;
                return ArenaFrames.shared(slot.pool().capacity(), size, 1 << 20, slot.pool(), ArenaMemory.DIRECT);
            };
            ArenaFrames first = slot.frames(4096, make);
            assertThat(slot.frames(4096, make)).isSameAs(first);
            assertThat(made[0]).isOne();
            assertThat(first.maxFrames()).isEqualTo((int) (slot.pool().capacity() / 4096));
            assertThatThrownBy(() -> slot.frames(8192, make))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("frames of 8192 bytes")
                    .hasMessageContaining("4096 bytes")
                    .hasMessageContaining("state.backend.zstate.frame-size");
            assertThat(slot.poolFramesTaken()).isZero();
        }
    }

    @Test
    void aReaperCpuLimitOutsideItsRangeIsRefusedBeforeAnythingIsMade() {
        assertThatThrownBy(() -> new SlotMemory(8L << 20, 0.25, 0.0)).hasMessageContaining("from 0.05 to 1");
    }
}

package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class SizeClassesTest {

    @Test
    void worksTheKernelsExamples() {
        SizeClasses classes = new SizeClasses(4096, 8);
        // the kernel's "3/8-page class": 1536 bytes, 3 frames hold 8 objects
        int c = classes.classOf(1536);
        assertThat(classes.slotSize(c)).isEqualTo(1536);
        assertThat(classes.framesPerSpan(c)).isEqualTo(3);
        assertThat(classes.objectsPerSpan(c)).isEqualTo(8);
        // 3008 to 3072 bytes all make 4 objects in 3 frames: merged into the 3072 class
        c = classes.classOf(3008);
        assertThat(classes.slotSize(c)).isEqualTo(3072);
        assertThat(classes.framesPerSpan(c)).isEqualTo(3);
        assertThat(classes.objectsPerSpan(c)).isEqualTo(4);
        // powers of two take one frame
        assertThat(classes.framesPerSpan(classes.classOf(2048))).isEqualTo(1);
        assertThat(classes.objectsPerSpan(classes.classOf(2048))).isEqualTo(2);
        // the smallest class is 32 bytes, the step is 16
        assertThat(classes.slotSize(classes.classOf(1))).isEqualTo(32);
        assertThat(classes.slotSize(classes.classOf(33))).isEqualTo(48);
    }

    @Test
    void sizesNearTheFrameCollapseIntoOneHugeClass() {
        SizeClasses classes = new SizeClasses(4096, 8);
        int huge = classes.classOf(4096);
        assertThat(classes.slotSize(huge)).isEqualTo(4096);
        assertThat(classes.objectsPerSpan(huge)).isEqualTo(1);
        assertThat(classes.framesPerSpan(huge)).isEqualTo(1);
        // with 8 frames a span, 3632 bytes still fits 9 objects in 8 frames: not huge
        assertThat(classes.objectsPerSpan(classes.classOf(3632))).isEqualTo(9);
        assertThat(classes.framesPerSpan(classes.classOf(3632))).isEqualTo(8);
        // 3648 wastes least as one object a frame, and so does every larger size
        assertThat(classes.classOf(3633)).isEqualTo(huge);
    }

    @Test
    void rejectsChainSizesOutsideFourToSixteen() {
        assertThatThrownBy(() -> new SizeClasses(4096, 3)).hasMessageContaining("use 4 to 16");
        assertThatThrownBy(() -> new SizeClasses(4096, 17)).hasMessageContaining("use 4 to 16");
    }

    @Property
    void everySizeGetsTheSmallestSlotThatHoldsIt(
            @ForAll @IntRange(min = 1, max = 65536) int size,
            @ForAll @IntRange(min = 0, max = 4) int frameShift,
            @ForAll @IntRange(min = 4, max = 16) int chain) {
        int frameSize = 4096 << frameShift;
        if (size > frameSize) {
            size = 1 + size % frameSize;
        }
        SizeClasses classes = new SizeClasses(frameSize, chain);
        int c = classes.classOf(size);
        assertThat(classes.slotSize(c)).isGreaterThanOrEqualTo(size);
        int rounded = Math.max(32, 32 + (size - 32 + (frameSize / 256) - 1) / (frameSize / 256) * (frameSize / 256));
        // the slot is the rounded size, or a larger one with the same geometry (merged)
        assertThat(classes.slotSize(c)).isGreaterThanOrEqualTo(Math.min(rounded, frameSize));
        if (c > 0) {
            assertThat(classes.slotSize(c - 1)).isLessThan(size);
        }
    }

    @Property
    void adjacentClassesNeverShareAGeometryAndSpansStayWithinTheChain(
            @ForAll @IntRange(min = 0, max = 4) int frameShift, @ForAll @IntRange(min = 4, max = 16) int chain) {
        int frameSize = 4096 << frameShift;
        SizeClasses classes = new SizeClasses(frameSize, chain);
        for (int c = 0; c < classes.classes(); c++) {
            assertThat(classes.framesPerSpan(c)).isBetween(1, chain);
            assertThat(classes.objectsPerSpan(c)).isPositive();
            assertThat(classes.slotSize(c) % 16).isZero();
            assertThat((long) classes.objectsPerSpan(c) * classes.slotSize(c))
                    .isLessThanOrEqualTo((long) classes.framesPerSpan(c) * frameSize);
            assertThat(classes.objectsPerSpan(c)).isLessThan(1 << 16);
            if (c > 0) {
                boolean same = classes.framesPerSpan(c) == classes.framesPerSpan(c - 1)
                        && classes.objectsPerSpan(c) == classes.objectsPerSpan(c - 1);
                assertThat(same).as("classes %d and %d have one geometry", c - 1, c).isFalse();
                assertThat(classes.slotSize(c)).isGreaterThan(classes.slotSize(c - 1));
            }
        }
    }
}

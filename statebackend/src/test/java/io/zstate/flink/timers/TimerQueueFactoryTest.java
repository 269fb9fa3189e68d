package io.zstate.flink.timers;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSet;
import org.apache.flink.streaming.api.operators.TimerHeapInternalTimer;
import org.apache.flink.streaming.api.operators.TimerSerializer;
import org.junit.jupiter.api.Test;

/** Which queue the factory makes, and the timers' hash it gives the timer heap. */
class TimerQueueFactoryTest {

    private static final KeyGroupRange RANGE = new KeyGroupRange(0, 127);

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void timersGetTheTimerHeapOtherElementsAndTheSwitchedOffOptionFlinksQueue() {
        TimerSerializer<Integer, VoidNamespace> timers =
                new TimerSerializer<>(IntSerializer.INSTANCE, VoidNamespaceSerializer.INSTANCE);
        assertThat(new TimerQueueFactory(RANGE, 128, 128, true).create("t", timers)).isInstanceOf(TimerHeap.class);
        HeapPriorityQueueSet<?> off = new TimerQueueFactory(RANGE, 128, 128, false).create("t", timers);
        assertThat(off).isNotInstanceOf(TimerHeap.class);
        HeapPriorityQueueSet<?> other = new TimerQueueFactory(RANGE, 128, 128, true)
                .create("t", (org.apache.flink.api.common.typeutils.TypeSerializer) LongSerializer.INSTANCE);
        assertThat(other).isNotInstanceOf(TimerHeap.class);
    }

    @Test
    void equalTimersHashAlikeAndNearbyTimersRarelyCollide() {
        assertThat(TimerQueueFactory.timerHash(new TimerHeapInternalTimer<>(1_700_000_000_123L, 4711L, "window")))
                .isEqualTo(TimerQueueFactory.timerHash(
                        new TimerHeapInternalTimer<>(1_700_000_000_123L, Long.valueOf(4711L), new String("window"))));
        // timers as the sessions job's: random keys of 500,000, random times within 135 s
        java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        Set<Integer> mixed = new HashSet<>();
        Set<Integer> javas = new HashSet<>();
        int timers = 200_000;
        for (int i = 0; i < timers; i++) {
            TimerHeapInternalTimer<Long, VoidNamespace> timer = new TimerHeapInternalTimer<>(
                    1_700_000_000_000L + random.nextLong(135_000), random.nextLong(500_000), VoidNamespace.INSTANCE);
            mixed.add(TimerQueueFactory.timerHash(timer));
            javas.add(timer.hashCode());
        }
        assertThat(timers - mixed.size()).as("collisions of the mixed hash (birthday bound: about 5)").isLessThan(50);
        assertThat(timers - javas.size()).as("collisions of the timers' own hashCode, for comparison")
                .isGreaterThan(1_000);
    }
}

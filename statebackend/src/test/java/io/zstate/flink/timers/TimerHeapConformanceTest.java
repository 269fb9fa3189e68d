package io.zstate.flink.timers;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.runtime.state.InternalPriorityQueue;
import org.apache.flink.runtime.state.InternalPriorityQueueTestBase;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;
import org.junit.jupiter.api.Test;

/**
 * The timer heap against Flink's own conformance tests for priority queues (order, removal,
 * bulk adds, iteration, set semantics), plus what Flink's snapshot wrapper relies on: a
 * {@code toArray} of every queued element, and every public method of the heap set it extends
 * overridden (the parent's own state stays empty and must never be reached).
 */
class TimerHeapConformanceTest extends InternalPriorityQueueTestBase {

    @Override
    protected InternalPriorityQueue<TestElement> newPriorityQueue(int initialCapacity) {
        return heap(initialCapacity);
    }

    @Override
    protected boolean testSetSemanticsAgainstDuplicateElements() {
        return true;
    }

    static TimerHeap<TestElement> heap(int initialCapacity) {
        return new TimerHeap<>(TestElement::getPriority, Object::hashCode, KEY_EXTRACTOR_FUNCTION, initialCapacity,
                KEY_GROUP_RANGE, KEY_GROUP_RANGE.getNumberOfKeyGroups());
    }

    @Test
    void everyPublicMethodOfTheHeapSetItExtendsIsOverridden() {
        List<String> missing = new ArrayList<>();
        for (Class<?> parent = TimerHeap.class.getSuperclass(); parent != Object.class; parent = parent.getSuperclass()) {
            for (Method method : parent.getDeclaredMethods()) {
                if (!Modifier.isPublic(method.getModifiers()) || method.isSynthetic() || method.isBridge()) {
                    continue;
                }
                try {
                    Method own = TimerHeap.class.getMethod(method.getName(), method.getParameterTypes());
                    if (own.getDeclaringClass() != TimerHeap.class) {
                        missing.add(parent.getSimpleName() + "." + method.getName());
                    }
                } catch (NoSuchMethodException e) {
                    missing.add(parent.getSimpleName() + "." + method.getName());
                }
            }
        }
        assertThat(missing).as("public methods of the parents that would reach their empty state").isEmpty();
    }

    @Test
    void toArrayHandsOutEveryQueuedElementAndTheSnapshotSizeArrayIsFilled() {
        TimerHeap<TestElement> heap = heap(4);
        for (int i = 0; i < 100; i++) {
            heap.add(new TestElement(i % 7, 1000 - i));
        }
        heap.poll();
        heap.remove(new TestElement(3, 1000 - 3));
        heap.checkInvariants();
        HeapPriorityQueueElement[] exact = heap.toArray(new HeapPriorityQueueElement[heap.size()]);
        assertThat(exact).hasSize(98).doesNotContainNull();
        TestElement[] grown = heap.toArray(new TestElement[0]);
        assertThat((Object[]) grown).containsExactlyInAnyOrder((Object[]) exact);
        assertThat(grown).doesNotContain(new TestElement(3, 997), new TestElement(99 % 7, 901));
        TestElement[] larger = heap.toArray(new TestElement[100]);
        assertThat(larger[98]).isNull();
    }

    @Test
    void aKeyGroupsSubsetHoldsExactlyItsElements() {
        TimerHeap<TestElement> heap = heap(4);
        for (int i = 0; i < 60; i++) {
            heap.add(new TestElement(i, i));
        }
        int total = 0;
        for (int keyGroup = KEY_GROUP_RANGE.getStartKeyGroup(); keyGroup <= KEY_GROUP_RANGE.getEndKeyGroup();
                keyGroup++) {
            for (TestElement element : heap.getSubsetForKeyGroup(keyGroup)) {
                assertThat(KEY_EXTRACTOR_FUNCTION.extractKeyFromElement(element)).isNotNull();
                assertThat(org.apache.flink.runtime.state.KeyGroupRangeAssignment.assignToKeyGroup(
                        element.getKey(), KEY_GROUP_RANGE.getNumberOfKeyGroups())).isEqualTo(keyGroup);
                total++;
            }
        }
        assertThat(total).isEqualTo(60);
    }

    /**
     * One timer at {@code Long.MAX_VALUE} (a global window's cleanup) among 20,000 near ones: the
     * buckets are sized by the timers' quantiles, not their range, so the near ones still wait in
     * buckets (sized by the range, every one of them shared the first bucket, and the heap held
     * them all), and everything polls in order.
     */
    @Test
    void aFarOutlierLeavesTheOtherTimersInBuckets() {
        TimerHeap<TestElement> heap = heap(4);
        heap.add(new TestElement(0, Long.MAX_VALUE));
        for (int i = 1; i <= 20_000; i++) {
            heap.add(new TestElement(i, 1_000_000 + i));
        }
        heap.checkInvariants();
        assertThat(heap.heapSize()).as("timers in the heap part").isLessThan(1_000);
        long last = Long.MIN_VALUE;
        int polled = 0;
        for (TestElement element; (element = heap.poll()) != null; ) {
            assertThat(element.getPriority()).isGreaterThanOrEqualTo(last);
            last = element.getPriority();
            if (++polled % 997 == 0) {
                heap.checkInvariants();
                assertThat(heap.heapSize()).as("timers in the heap part after %s polls", polled).isLessThan(1_000);
            }
        }
        assertThat(polled).isEqualTo(20_001);
        assertThat(last).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void clearEmptiesTheHeapAndTheSetAndMarksTheElementsOut() {
        TimerHeap<TestElement> heap = heap(4);
        List<TestElement> added = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            TestElement element = new TestElement(i, 40 - i);
            added.add(element);
            heap.add(element);
        }
        heap.clear();
        heap.checkInvariants();
        assertThat(heap.isEmpty()).isTrue();
        assertThat(heap.peek()).isNull();
        assertThat(added).allMatch(e -> e.getInternalIndex() == HeapPriorityQueueElement.NOT_CONTAINED);
        assertThat(heap.add(added.get(5))).as("an element cleared may be added again, as the new head").isTrue();
        assertThat(heap.size()).isEqualTo(1);
    }
}

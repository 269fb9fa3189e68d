package io.zstate.flink.timers;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.apache.flink.runtime.state.KeyExtractorFunction;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.Keyed;
import org.apache.flink.runtime.state.PriorityComparable;
import org.apache.flink.runtime.state.PriorityComparator;
import org.apache.flink.runtime.state.heap.AbstractHeapPriorityQueueElement;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSet;

/**
 * The timer heap against Flink's heap queue as the oracle, over random runs of adds, removals,
 * polls and priority changes, with few keys and priorities so that duplicates and ties are
 * common. Among elements of equal priority the two may pick a different head, so the runs compare
 * what the contract fixes: whether an add took (and became the head), whether a removal found its
 * element, the head's priority, the size, and the polled priorities; and each step checks the
 * heap's invariants. Runs of up to 300 operations reach the set's growth and the backward shifts
 * of its deletions; with few buckets and an early split they reach every move between the heap,
 * the buckets and the overflow, and priorities at the ends of {@code long} test the unsigned
 * bucket arithmetic.
 */
class TimerHeapPropertyTest {

    private static final int KEY_GROUPS = 128;
    private static final KeyGroupRange RANGE = new KeyGroupRange(0, KEY_GROUPS - 1);

    /** A timer in small: equal by key and priority, ordered by priority. */
    static final class TestElement extends AbstractHeapPriorityQueueElement
            implements Keyed<Long>, PriorityComparable<TestElement> {
        private final long key;
        private final long priority;

        TestElement(long key, long priority) {
            this.key = key;
            this.priority = priority;
        }

        @Override
        public Long getKey() {
            return key;
        }

        long getPriority() {
            return priority;
        }

        @Override
        public int comparePriorityTo(TestElement other) {
            return Long.compare(priority, other.priority);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof TestElement other && other.key == key && other.priority == priority;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(key) * 31 + Long.hashCode(priority);
        }

        @Override
        public String toString() {
            return key + "@" + priority;
        }
    }

    /** One step: 0 add, 1 remove, 2 poll, 3 add the same element again; key and priority small. */
    record Op(int kind, long key, long priority) {}

    @Provide
    Arbitrary<List<Op>> runs() {
        Arbitrary<Long> priorities = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(8, Arbitraries.longs().between(0, 30)),
                net.jqwik.api.Tuple.of(1, Arbitraries.longs().between(-1_000_000, 1_000_000)),
                net.jqwik.api.Tuple.of(1, Arbitraries.of(Long.MIN_VALUE, Long.MIN_VALUE + 1, Long.MAX_VALUE,
                        Long.MAX_VALUE - 1, 1L << 62, -(1L << 62))));
        Arbitrary<Op> op = net.jqwik.api.Combinators.combine(
                Arbitraries.integers().between(0, 9), Arbitraries.longs().between(0, 40), priorities)
                .as((kind, key, priority) -> new Op(kind < 5 ? 0 : kind < 7 ? 1 : kind < 9 ? 2 : 3, key, priority));
        return op.list().ofMinSize(1).ofMaxSize(300);
    }

    @Property(tries = 200)
    void behavesAsFlinksHeapQueueUpToTheOrderOfTies(@ForAll("runs") List<Op> run) {
        check(run, new TimerHeap<>(TestElement::getPriority, Object::hashCode, KeyExtractorFunction.forKeyedObjects(),
                1, RANGE, KEY_GROUPS));
    }

    /** Four buckets and a split at eight: splits, refills and rebuckets of the overflow in every run. */
    @Property(tries = 200)
    void withFewBucketsAndEarlySplits(@ForAll("runs") List<Op> run) {
        check(run, new TimerHeap<>(TestElement::getPriority, Object::hashCode, KeyExtractorFunction.forKeyedObjects(),
                1, RANGE, KEY_GROUPS,
                4, 8));
    }

    /** Two buckets, a split at two: the heap holds a bucket of a timer or two. */
    @Property(tries = 200)
    void withTheSmallestBucketsAndSplits(@ForAll("runs") List<Op> run) {
        check(run, new TimerHeap<>(TestElement::getPriority, Object::hashCode, KeyExtractorFunction.forKeyedObjects(),
                1, RANGE, KEY_GROUPS,
                2, 2));
    }

    private static void check(List<Op> run, TimerHeap<TestElement> heap) {
        HeapPriorityQueueSet<TestElement> oracle = new HeapPriorityQueueSet<>(
                PriorityComparator.forPriorityComparableObjects(), KeyExtractorFunction.forKeyedObjects(), 1,
                RANGE, KEY_GROUPS);
        TestElement last = null;
        for (Op op : run) {
            switch (op.kind()) {
                case 0 -> {
                    TestElement element = new TestElement(op.key(), op.priority());
                    assertThat(heap.add(element)).as("add %s", element)
                            .isEqualTo(oracle.add(new TestElement(op.key(), op.priority())));
                    last = element;
                }
                case 1 -> {
                    TestElement head = heap.peek();
                    int before = heap.size();
                    boolean wasHead = heap.remove(new TestElement(op.key(), op.priority()));
                    oracle.remove(new TestElement(op.key(), op.priority()));
                    assertThat(heap.size()).as("size after a removal").isEqualTo(oracle.size());
                    boolean removedHead = head != null && head.getKey() == op.key()
                            && head.getPriority() == op.priority();
                    assertThat(wasHead).as("a removal says whether it took the head")
                            .isEqualTo(removedHead && heap.size() < before);
                }
                case 2 -> {
                    TestElement polled = heap.poll();
                    TestElement expected = oracle.poll();
                    if (expected == null) {
                        assertThat(polled).isNull();
                    } else {
                        assertThat(polled.getPriority()).as("polled priority").isEqualTo(expected.getPriority());
                        if (polled.getKey() != expected.getKey()) { // a tie: put the oracle in the same state
                            oracle.add(expected);
                            oracle.remove(polled);
                        }
                    }
                }
                default -> {
                    if (last != null) {
                        assertThat(heap.add(last)).as("re-add %s", last)
                                .isEqualTo(oracle.add(new TestElement(last.getKey(), last.getPriority())));
                    }
                }
            }
            heap.checkInvariants();
            assertThat(heap.size()).as("size").isEqualTo(oracle.size());
            if (oracle.peek() != null) {
                assertThat(heap.peek().getPriority()).as("head priority").isEqualTo(oracle.peek().getPriority());
            }
        }
        while (!oracle.isEmpty()) {
            TestElement expected = oracle.poll();
            TestElement polled = heap.poll();
            assertThat(polled.getPriority()).isEqualTo(expected.getPriority());
            if (polled.getKey() != expected.getKey()) {
                oracle.add(expected);
                oracle.remove(polled);
            }
        }
        assertThat(heap.isEmpty()).isTrue();
        heap.checkInvariants();
    }
}

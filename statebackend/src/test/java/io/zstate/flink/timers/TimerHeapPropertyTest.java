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
 * heap's invariants. Two or three hundred operations a run reach the set's growth and the
 * backward shifts of its deletions.
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
        Arbitrary<Op> op = net.jqwik.api.Combinators.combine(
                Arbitraries.integers().between(0, 9), Arbitraries.longs().between(0, 40),
                Arbitraries.longs().between(0, 30))
                .as((kind, key, priority) -> new Op(kind < 5 ? 0 : kind < 7 ? 1 : kind < 9 ? 2 : 3, key, priority));
        return op.list().ofMinSize(1).ofMaxSize(300);
    }

    @Property(tries = 300)
    void behavesAsFlinksHeapQueueUpToTheOrderOfTies(@ForAll("runs") List<Op> run) {
        TimerHeap<TestElement> heap = new TimerHeap<>(TestElement::getPriority, KeyExtractorFunction.forKeyedObjects(),
                1, RANGE, KEY_GROUPS);
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

package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.flink.timers.TimerHeap;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.streaming.api.operators.TimerHeapInternalTimer;
import org.apache.flink.streaming.api.operators.TimerSerializer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The backend's timers: a TimerSerializer's queue is zstate's timer heap unless {@code
 * timer-heap} is off, and timers move between the two, and to and from Flink's HashMap backend,
 * through checkpoints and savepoints in Flink's format: every timer comes back, in timestamp
 * order, with duplicates kept once.
 */
class TimerQueuesTest {

    private static final int KEY_GROUPS = 32;
    private static final TimerSerializer<Integer, VoidNamespace> TIMERS =
            new TimerSerializer<>(IntSerializer.INSTANCE, VoidNamespaceSerializer.INSTANCE);

    @ParameterizedTest(name = "{0} -> {1} by {2}")
    @CsvSource({
        "heap, flink, checkpoint", "flink, heap, checkpoint", "heap, heap, checkpoint",
        "heap, hashmap, savepoint", "hashmap, heap, savepoint"
    })
    void timersMoveBetweenQueueKindsThroughSnapshots(String from, String to, String kind) throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            List<Long> expected = new ArrayList<>();
            CheckpointableKeyedStateBackend<Integer> first = KeyedBackends.create(backend(from), env, KEY_GROUPS, List.of());
            KeyedStateHandle snapshot;
            try {
                KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Integer, VoidNamespace>> queue =
                        first.create("timers", TIMERS);
                assertThat(queue instanceof TimerHeap).as("%s's queue is zstate's timer heap", from)
                        .isEqualTo(from.equals("heap"));
                for (int i = 0; i < 5_000; i++) {
                    long timestamp = (i * 7919L) % 3_000;
                    queue.add(new TimerHeapInternalTimer<>(timestamp, i % 1_000, VoidNamespace.INSTANCE));
                }
                for (int i = 0; i < 5_000; i++) { // the same timers again: kept once
                    queue.add(new TimerHeapInternalTimer<>((i * 7919L) % 3_000, i % 1_000, VoidNamespace.INSTANCE));
                }
                for (int i = 0; i < 200; i++) {
                    queue.poll();
                }
                for (TimerHeapInternalTimer<Integer, VoidNamespace> timer : toList(queue)) {
                    expected.add(timer.getTimestamp());
                }
                expected.sort(null);
                snapshot = KeyedBackends.snapshot(first, kind);
            } finally {
                KeyedBackends.dispose(first);
            }
            CheckpointableKeyedStateBackend<Integer> second =
                    KeyedBackends.create(backend(to), env, KEY_GROUPS, List.of(snapshot));
            try {
                KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Integer, VoidNamespace>> queue =
                        second.create("timers", TIMERS);
                assertThat(queue instanceof TimerHeap).isEqualTo(to.equals("heap"));
                java.util.Set<Long> distinct = new java.util.HashSet<>();
                for (int i = 0; i < 5_000; i++) {
                    distinct.add((i % 1_000) * 10_000L + (i * 7919L) % 3_000);
                }
                assertThat(expected).as("distinct timers, less the 200 polled").hasSize(distinct.size() - 200);
                List<Long> polled = new ArrayList<>();
                for (TimerHeapInternalTimer<Integer, VoidNamespace> timer; (timer = queue.poll()) != null; ) {
                    polled.add(timer.getTimestamp());
                }
                assertThat(polled).isEqualTo(expected);
            } finally {
                KeyedBackends.dispose(second);
            }
        }
    }

    private static List<TimerHeapInternalTimer<Integer, VoidNamespace>> toList(
            KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Integer, VoidNamespace>> queue) throws Exception {
        List<TimerHeapInternalTimer<Integer, VoidNamespace>> all = new ArrayList<>();
        try (var iterator = queue.iterator()) {
            iterator.forEachRemaining(all::add);
        }
        return all;
    }

    private static org.apache.flink.runtime.state.StateBackend backend(String kind) {
        if (kind.equals("hashmap")) {
            return new HashMapStateBackend();
        }
        Configuration config = new Configuration();
        config.set(ZStateOptions.TIMER_HEAP, kind.equals("heap"));
        return new ZStateBackend().configure(config, TimerQueuesTest.class.getClassLoader());
    }
}

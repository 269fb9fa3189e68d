package io.zstate.benchmarks;

import io.zstate.flink.timers.TimerQueueFactory;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.TimerHeapInternalTimer;
import org.apache.flink.streaming.api.operators.TimerSerializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A timer service's queue under the sessions example job's load: {@code timers} event-time
 * timers of distinct keys wait, the earliest fires (poll) and its key registers the next one a
 * gap later, so the queue keeps its size; and, as a window operator does when a session merges,
 * a waiting timer is deleted and registered again later. zstate's {@code TimerHeap} against
 * Flink's heap queue (what the HashMap backend, and zstate with {@code timer-heap: false}, use),
 * both made by zstate's factory for a TimerSerializer as a backend makes them (128 key-groups).
 *
 * <p>Run: {@code mvn -q -DskipTests -Pjmh verify -pl benchmarks -Djmh.args="TimerQueueBenchmark"}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgs = {"-Xms4g", "-Xmx4g"})
public class TimerQueueBenchmark {

    private static final long GAP = 75_000;
    private static final int KEY_GROUPS = 128;

    @Param({"zstate", "flink"})
    public String queue;

    @Param({"100000", "1000000"})
    public int timers;

    private KeyGroupedInternalPriorityQueue<TimerHeapInternalTimer<Integer, VoidNamespace>> timerQueue;
    private TimerHeapInternalTimer<Integer, VoidNamespace>[] byKey;
    private long jitter = 0x9E3779B97F4A7C15L;

    @Setup(Level.Trial)
    @SuppressWarnings("unchecked")
    public void setUp() {
        TimerQueueFactory factory = new TimerQueueFactory(
                new KeyGroupRange(0, KEY_GROUPS - 1), KEY_GROUPS, 128, queue.equals("zstate"));
        timerQueue = factory.create("timers",
                new TimerSerializer<>(IntSerializer.INSTANCE, VoidNamespaceSerializer.INSTANCE));
        boolean isTimerHeap = timerQueue instanceof io.zstate.flink.timers.TimerHeap;
        if (isTimerHeap != queue.equals("zstate")) {
            throw new IllegalStateException("the factory made a " + timerQueue.getClass().getSimpleName() + " for " + queue);
        }
        SplittableRandom random = new SplittableRandom(42);
        byKey = new TimerHeapInternalTimer[timers];
        for (int key = 0; key < timers; key++) {
            byKey[key] = new TimerHeapInternalTimer<>(random.nextLong(2 * GAP), key, VoidNamespace.INSTANCE);
            timerQueue.add(byKey[key]);
        }
    }

    /** The earliest timer fires and its key registers its next timer a gap (and some jitter) later. */
    @Benchmark
    public long fireAndRegister() {
        TimerHeapInternalTimer<Integer, VoidNamespace> fired = timerQueue.poll();
        int key = fired.getKey();
        byKey[key] = new TimerHeapInternalTimer<>(fired.getTimestamp() + GAP + nextJitter(GAP), key, VoidNamespace.INSTANCE);
        timerQueue.add(byKey[key]);
        return fired.getTimestamp();
    }

    /** A waiting timer of some key is deleted and registered again later (a session that grew). */
    @Benchmark
    public boolean deleteAndRegister() {
        int key = (int) nextJitter(timers);
        TimerHeapInternalTimer<Integer, VoidNamespace> old = byKey[key];
        timerQueue.remove(old);
        byKey[key] = new TimerHeapInternalTimer<>(old.getTimestamp() + nextJitter(GAP), key, VoidNamespace.INSTANCE);
        return timerQueue.add(byKey[key]);
    }

    private long nextJitter(long bound) {
        jitter = jitter * 6364136223846793005L + 1442695040888963407L;
        return (jitter >>> 33) % bound;
    }
}

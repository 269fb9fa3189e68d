package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.Collector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Savepoint interchange with real jobs on a MiniCluster: a job keeps value, list and map state on
 * one backend and stops with a canonical savepoint; the next job restores it on zstate, checks it
 * (probes), changes it and stops with a savepoint; the last job restores that on the third
 * backend and checks it. Both directions: RocksDB -> zstate -> HashMap, HashMap -> zstate ->
 * RocksDB. Backends are chosen only through {@code state.backend.type}.
 */
class SavepointInterchangeJobTest {

    private static final int KEYS = 50;
    private static final int EVENTS = 5_000;
    private static final long NOOP = -1;

    @TempDir
    static Path savepoints;

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = TestClusters.oneTaskManagerTwoSlots();

    /** Real events processed by the current job. */
    static final AtomicLong PROCESSED = new AtomicLong();

    /** Probe answers of the current job: key -> {count, list size, list sum, map sum}. */
    static final Map<Long, long[]> PROBES = new ConcurrentHashMap<>();

    @Test
    void rocksDbToZstateToHashMap() throws Exception {
        interchange("rocksdb", "hashmap");
    }

    @Test
    void hashMapToZstateToRocksDb() throws Exception {
        interchange("hashmap", "rocksdb");
    }

    private void interchange(String first, String last) throws Exception {
        String zstate = ZStateBackendFactory.class.getName();
        String savepoint = run(first, null, false, 0, true);
        savepoint = run(zstate, savepoint, true, EVENTS, true);
        assertProbes(1); // zstate restored exactly what the first backend wrote
        run(last, savepoint, true, -1, false);
        assertProbes(2); // the last backend restored exactly what zstate wrote
    }

    /**
     * Runs the job: it answers a probe per key first (when {@code probe}), then processes
     * {@code EVENTS} events starting at id {@code firstEvent} (none if negative); then stops it
     * with a canonical savepoint, whose path is returned (or cancels it).
     */
    private String run(String backend, String restoreFrom, boolean probe, long firstEvent, boolean savepoint)
            throws Exception {
        Configuration config = new Configuration();
        config.set(StateBackendOptions.STATE_BACKEND, backend);
        if (restoreFrom != null) {
            config.set(StateRecoveryOptions.SAVEPOINT_PATH, restoreFrom);
            config.set(StateRecoveryOptions.SAVEPOINT_IGNORE_UNCLAIMED_STATE, true);
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(config);
        env.setParallelism(2);
        PROCESSED.set(0);
        PROBES.clear();
        int probes = probe ? KEYS : 0;
        long events = firstEvent < 0 ? 0 : EVENTS;
        GeneratorFunction<Long, Long> generator = index -> index < probes
                ? -(2 + index)
                : index < probes + events ? firstEvent + (index - probes) : NOOP;
        DataGeneratorSource<Long> source = new DataGeneratorSource<>(
                generator, Long.MAX_VALUE, RateLimiterStrategy.perSecond(10_000), Types.LONG);
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "events")
                .uid("events-from-" + firstEvent + "-" + probe) // a new source each run
                .setParallelism(1) // probes reach every key before its events
                .keyBy(SavepointInterchangeJobTest::keyOf)
                .process(new StatefulFunction())
                .uid("stateful")
                .sinkTo(new DiscardingSink<>());
        JobClient job = env.executeAsync("interchange on " + backend);
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (PROCESSED.get() < events || PROBES.size() < probes) {
            if (System.nanoTime() > deadline) {
                job.cancel().get();
                throw new AssertionError("job on " + backend + " processed " + PROCESSED.get() + " events and "
                        + PROBES.size() + " probes in two minutes");
            }
            Thread.sleep(20);
        }
        if (!savepoint) {
            job.cancel().get();
            return null;
        }
        return job.stopWithSavepoint(false, savepoints.toUri().toString(), SavepointFormatType.CANONICAL).get();
    }

    static long keyOf(long event) {
        if (event == NOOP) {
            return 0;
        }
        return event < 0 ? -(event + 2) : event % KEYS;
    }

    /** After {@code rounds} rounds of events every key holds exactly this. */
    private static void assertProbes(int rounds) {
        assertThat(PROBES).hasSize(KEYS);
        long perKey = (long) EVENTS / KEYS;
        for (long key = 0; key < KEYS; key++) {
            long[] answer = PROBES.get(key);
            long expectedSum = 0;
            for (long id = key; id < (long) rounds * EVENTS; id += KEYS) {
                expectedSum += id;
            }
            assertThat(answer).as("state of key %d after %d rounds", key, rounds)
                    .containsExactly(rounds * perKey, rounds * perKey, expectedSum, rounds * perKey);
        }
    }

    /** Keeps a count (value), the event ids (list) and counts by id modulo 3 (map). */
    static final class StatefulFunction extends KeyedProcessFunction<Long, Long, Long> {
        private transient ValueState<Long> count;
        private transient ListState<Long> ids;
        private transient MapState<Integer, Long> byRemainder;

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            ids = getRuntimeContext().getListState(new ListStateDescriptor<>("ids", Types.LONG));
            byRemainder = getRuntimeContext().getMapState(
                    new MapStateDescriptor<>("by-remainder", Types.INT, Types.LONG));
        }

        @Override
        public void processElement(Long event, Context ctx, Collector<Long> out) throws Exception {
            if (event == NOOP) {
                return;
            }
            if (event < 0) {
                long size = 0;
                long sum = 0;
                Iterable<Long> list = ids.get();
                if (list != null) {
                    for (long id : list) {
                        size++;
                        sum += id;
                    }
                }
                long mapSum = 0;
                for (long v : byRemainder.values()) {
                    mapSum += v;
                }
                Long c = count.value();
                PROBES.put(ctx.getCurrentKey(), new long[] {c == null ? 0 : c, size, sum, mapSum});
                return;
            }
            Long c = count.value();
            count.update(c == null ? 1 : c + 1);
            ids.add(event);
            int remainder = (int) (event % 3);
            Long r = byRemainder.get(remainder);
            byRemainder.put(remainder, r == null ? 1 : r + 1);
            PROCESSED.incrementAndGet();
            out.collect(event);
        }
    }
}

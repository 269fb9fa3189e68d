package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rescaling a job through zstate's incremental checkpoints: a keyed counter runs at parallelism
 * 2 until some delta checkpoints completed and is cancelled (its checkpoints retained), restarts
 * from the latest at parallelism 3, is cancelled again the same way, and finishes at parallelism
 * 2 from that one; every key must count every event exactly once. Consolidation is put off, so
 * each restore reads a base and deltas.
 */
class IncrementalRescaleJobTest {

    private static final int EVENTS = 60_000;
    private static final int KEYS = 600;

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = new MiniClusterExtension(
            new MiniClusterResourceConfiguration.Builder()
                    .setNumberTaskManagers(1)
                    .setNumberSlotsPerTaskManager(3)
                    .setConfiguration(managedMemory())
                    .build());

    /** Checkpoints completed in the running job (its subtasks count each). */
    static final AtomicLong COMPLETED = new AtomicLong();

    @TempDir
    Path dir;

    private static Configuration managedMemory() {
        Configuration config = new Configuration();
        config.set(TaskManagerOptions.MANAGED_MEMORY_SIZE, MemorySize.parse("96mb"));
        return config;
    }

    @Test
    void aJobRescalesFromTwoToThreeAndBackThroughIncrementalCheckpoints() throws Exception {
        Path checkpoints = dir.resolve("checkpoints");
        Path first = runUntilCheckpointsThenCancel(2, null, checkpoints.resolve("p2"));
        // two retained checkpoints of bases only would keep at most 2 x 2 shared files; deltas on a base keep more
        assertThat(TestClusters.sharedFiles(checkpoints.resolve("p2"))).as("shared files: a base and deltas per subtask")
                .isGreaterThan(4);
        Path second = runUntilCheckpointsThenCancel(3, first, checkpoints.resolve("p3"));
        Map<Long, Long> counts = new HashMap<>();
        StreamExecutionEnvironment last = environment(2, second, checkpoints.resolve("last"));
        try (CloseableIterator<Tuple2<Long, Long>> results = job(last).executeAndCollect()) {
            results.forEachRemaining(r -> counts.merge(r.f0, r.f1, Math::max));
        }
        assertThat(counts).hasSize(KEYS);
        assertThat(counts.values()).as("every key counted every event exactly once").containsOnly((long) EVENTS / KEYS);
    }

    /** Runs the job until its subtasks saw 8 checkpoints complete, cancels it; its latest checkpoint. */
    private Path runUntilCheckpointsThenCancel(int parallelism, Path restoreFrom, Path checkpoints) throws Exception {
        COMPLETED.set(0);
        StreamExecutionEnvironment env = environment(parallelism, restoreFrom, checkpoints);
        job(env).sinkTo(new org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink<>());
        JobClient client = env.executeAsync("incremental rescale, parallelism " + parallelism);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (COMPLETED.get() < 8L * parallelism) {
            assertThat(System.nanoTime()).as("8 checkpoints within 60 s").isLessThan(deadline);
            Thread.sleep(50);
        }
        client.cancel().get(60, TimeUnit.SECONDS);
        try (Stream<Path> all = Files.walk(checkpoints)) {
            return all.filter(p -> p.getFileName().toString().startsWith("chk-")
                            && Files.exists(p.resolve("_metadata")))
                    .max(Comparator.comparingLong(p -> Long.parseLong(p.getFileName().toString().substring(4))))
                    .orElseThrow(() -> new AssertionError("no retained checkpoint under " + checkpoints));
        }
    }

    private static org.apache.flink.streaming.api.datastream.DataStream<Tuple2<Long, Long>> job(
            StreamExecutionEnvironment env) {
        DataGeneratorSource<Long> source = new DataGeneratorSource<>((GeneratorFunction<Long, Long>) index -> index,
                EVENTS, RateLimiterStrategy.perSecond(4_000), Types.LONG);
        return env.fromSource(source, WatermarkStrategy.noWatermarks(), "events").uid("events")
                .keyBy(event -> event % KEYS)
                .process(new Count()).uid("count");
    }

    private static StreamExecutionEnvironment environment(int parallelism, Path restoreFrom, Path checkpoints) {
        Configuration config = new Configuration();
        config.set(StateBackendOptions.STATE_BACKEND, ZStateBackendFactory.class.getName());
        config.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        config.set(ZStateOptions.CONSOLIDATE_RATIO, 100.0); // deltas on one base: restores replay them
        config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(150));
        config.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpoints.toUri().toString());
        config.set(CheckpointingOptions.MAX_RETAINED_CHECKPOINTS, 2);
        config.set(CheckpointingOptions.FS_SMALL_FILE_THRESHOLD, MemorySize.ZERO);
        config.setString("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION");
        if (restoreFrom != null) {
            config.set(StateRecoveryOptions.SAVEPOINT_PATH, restoreFrom.toUri().toString());
            // the last run collects its results instead of discarding them: a sink of another id
            config.set(StateRecoveryOptions.SAVEPOINT_IGNORE_UNCLAIMED_STATE, true);
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(config);
        env.setParallelism(parallelism);
        return env;
    }

    /** Counts events per key; notes completed checkpoints. */
    static final class Count extends KeyedProcessFunction<Long, Long, Tuple2<Long, Long>> implements CheckpointListener {
        private transient ValueState<Long> count;

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
        }

        @Override
        public void processElement(Long event, Context ctx, Collector<Tuple2<Long, Long>> out) throws Exception {
            Long current = count.value();
            long next = current == null ? 1 : current + 1;
            count.update(next);
            out.collect(Tuple2.of(ctx.getCurrentKey(), next));
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            COMPLETED.incrementAndGet();
        }
    }
}

package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.pagestore.Faults;
import io.zstate.pagestore.PageStoreFailedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.apache.flink.api.common.functions.OpenContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end on a Flink MiniCluster, zstate selected only through {@code state.backend.type}: a
 * keyed job with exactly-once checkpoints (full, zstate's incremental, Flink's changelog) fails on
 * purpose after a checkpoint (in the function, or in the page store), restarts from it, and must
 * end with exactly the expected counts; afterwards no spill file remains.
 */
class ZStateMiniClusterTest {

    private static final int EVENTS = 60_000;
    private static final int KEYS = 500;

    @TempDir
    static Path spillDirectory;

    @RegisterExtension
    static final MiniClusterExtension CLUSTER = TestClusters.oneTaskManagerTwoSlots();

    /** Failures injected so far, across restarts (the MiniCluster shares this JVM). */
    static final AtomicInteger FAILURES = new AtomicInteger();

    /** States opened through Flink's changelog backend (which wraps zstate's). */
    static final AtomicInteger CHANGELOG_STATES = new AtomicInteger();

    /** Subtasks that started from restored state. */
    static final AtomicInteger RESTORED = new AtomicInteger();

    /** Whether the counting function fails on purpose (else the page store is made to fail). */
    static volatile boolean userFailure;

    /** Page-store failures injected, and those that reached the function as PageStoreFailedException. */
    static final AtomicInteger STORE_FAILURES = new AtomicInteger();
    static final AtomicInteger STORE_FAILURES_SEEN = new AtomicInteger();

    /** Events processed and checkpoints completed so far, across restarts. */
    static final AtomicLong PROCESSED = new AtomicLong();
    static volatile boolean anyCheckpointCompleted;

    @Test
    void aJobThatFailsAndRestartsFromItsCheckpointCountsExactlyOnce() throws Exception {
        userFailure = true;
        runAndCheck(new Configuration());
        assertThat(FAILURES.get()).as("the job failed once on purpose").isEqualTo(1);
    }

    /**
     * The same failure and restore under Flink's log-based incremental checkpoints
     * ({@code state.changelog.enabled}): the changelog backend wraps zstate, logs every state
     * change to its file-system log and materializes zstate's own snapshots periodically; the job
     * restores from materialized zstate state plus the log and still counts exactly once.
     */
    @Test
    void underFlinksChangelogCheckpointsAJobRestoresExactlyOnce() throws Exception {
        userFailure = true;
        Configuration config = new Configuration();
        config.setString("state.changelog.enabled", "true");
        config.setString("state.changelog.storage", "filesystem");
        config.setString("state.changelog.dstl.dfs.base-path", spillDirectory.resolve("dstl").toUri().toString());
        config.setString("state.changelog.periodic-materialize.interval", "300ms");
        runAndCheck(config);
        assertThat(FAILURES.get()).as("the job failed once on purpose").isEqualTo(1);
        assertThat(CHANGELOG_STATES.get()).as("states served by Flink's changelog backend").isPositive();
    }

    /**
     * The same failure and restore with zstate's own incremental checkpoints
     * ({@code execution.checkpointing.incremental}) to a file-system checkpoint directory that
     * keeps one checkpoint: the job restores from a base and its deltas and counts exactly once,
     * and the JobManager deletes the shared files no retained checkpoint needs (counted at each
     * completed checkpoint from the 20th on; without that deletion they would grow by two
     * subtasks' files per checkpoint).
     */
    @Test
    void withIncrementalCheckpointsAJobRestoresExactlyOnceAndKeepsOnlyTheFilesItNeeds() throws Exception {
        userFailure = true;
        Path checkpoints = spillDirectory.getParent().resolve("zstate-incremental-" + System.nanoTime());
        Configuration config = new Configuration();
        config.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        config.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpoints.toUri().toString());
        config.set(CheckpointingOptions.MAX_RETAINED_CHECKPOINTS, 1);
        config.set(CheckpointingOptions.FS_SMALL_FILE_THRESHOLD, MemorySize.ZERO); // files, not inlined bytes
        checkpointRoot = checkpoints;
        MOST_SHARED_FILES.set(0);
        LATE_CHECKPOINTS.set(0);
        try {
            runAndCheck(config);
        } finally {
            checkpointRoot = null;
            org.apache.flink.util.FileUtils.deleteDirectory(checkpoints.toFile());
        }
        assertThat(FAILURES.get()).as("the job failed once on purpose").isEqualTo(1);
        assertThat(LATE_CHECKPOINTS.get()).as("checkpoints completed from the 20th on").isPositive();
        assertThat(MOST_SHARED_FILES.get()).as("shared files at a completed checkpoint (20th on)")
                .isPositive().isLessThanOrEqualTo(16);
    }

    /** Where the incremental test's checkpoints go (null: another test), and what was seen there. */
    static volatile Path checkpointRoot;
    static final AtomicInteger MOST_SHARED_FILES = new AtomicInteger();
    static final AtomicInteger LATE_CHECKPOINTS = new AtomicInteger();


    /**
     * The page store fails under the job (a RocksDB write of the spill store, injected once after
     * a checkpoint): the failure reaches the task as PageStoreFailedException, the task fails and
     * restores from its checkpoint, and the job still counts exactly once.
     */
    @Test
    void aFailedPageStoreFailsTheTaskWhichRestoresFromItsCheckpoint() throws Exception {
        userFailure = false;
        Configuration config = new Configuration();
        config.set(ZStateOptions.POOL_SIZE, MemorySize.parse("64kb")); // spill writes all the time
        ZStateBackend.faultsForTests = seam -> seam == Faults.Seam.SPILL_WRITE && anyCheckpointCompleted
                && PROCESSED.get() > EVENTS / 2 && STORE_FAILURES.compareAndSet(0, 1);
        try {
            runAndCheck(config);
        } finally {
            ZStateBackend.faultsForTests = Faults.NONE;
        }
        assertThat(STORE_FAILURES.get()).as("page-store failures injected").isEqualTo(1);
        assertThat(STORE_FAILURES_SEEN.get()).as("state accesses that saw the failed store").isPositive();
        assertThat(FAILURES.get()).as("no failure of the function's own").isZero();
    }

    private void runAndCheck(Configuration config) throws Exception {
        config.set(StateBackendOptions.STATE_BACKEND, ZStateBackendFactory.class.getName());
        config.set(ZStateOptions.SPILL_DIRECTORY, spillDirectory.toString());
        config.set(ZStateOptions.PAGE_CACHE_SIZE, MemorySize.parse("16kb")); // force the pool and swap-ins
        config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(100));
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(50));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(config);
        env.setParallelism(2);
        FAILURES.set(0);
        RESTORED.set(0);
        CHANGELOG_STATES.set(0);
        STORE_FAILURES.set(0);
        STORE_FAILURES_SEEN.set(0);
        PROCESSED.set(0);
        anyCheckpointCompleted = false;

        DataGeneratorSource<Long> source = new DataGeneratorSource<>(
                (GeneratorFunction<Long, Long>) index -> index, EVENTS, RateLimiterStrategy.perSecond(10_000), Types.LONG);
        Map<Long, Long> last = new HashMap<>();
        try (CloseableIterator<Tuple2<Long, Long>> results = env
                .fromSource(source, WatermarkStrategy.noWatermarks(), "events")
                .keyBy(event -> event % KEYS)
                .process(new CountingFunction())
                .executeAndCollect()) {
            while (results.hasNext()) {
                Tuple2<Long, Long> result = results.next();
                last.merge(result.f0, result.f1, Math::max);
            }
        }
        assertThat(RESTORED.get()).as("subtasks restored from the checkpoint").isPositive();
        assertThat(last).hasSize(KEYS);
        for (Map.Entry<Long, Long> e : last.entrySet()) {
            assertThat(e.getValue()).as("events counted for key %d", e.getKey()).isEqualTo(EVENTS / KEYS);
        }
        try (Stream<Path> left = Files.walk(spillDirectory)) {
            List<Path> files = left.filter(Files::isRegularFile).toList();
            assertThat(files).as("spill files left after the job").isEmpty();
        }
    }

    /**
     * Counts events per key in ValueState and per parity in MapState (both must agree), emits
     * the count; fails once, on the first subtask, after a checkpoint completed and half the
     * events went by.
     */
    static final class CountingFunction extends KeyedProcessFunction<Long, Long, Tuple2<Long, Long>>
            implements CheckpointListener, CheckpointedFunction {

        private transient ValueState<Long> count;
        private transient MapState<Boolean, Long> byParity;
        private transient boolean checkpointed;

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            byParity = getRuntimeContext().getMapState(
                    new MapStateDescriptor<>("by-parity", Types.BOOLEAN, Types.LONG));
            if (count.getClass().getName().startsWith("org.apache.flink.state.changelog.")) {
                CHANGELOG_STATES.incrementAndGet();
            }
        }

        @Override
        public void processElement(Long event, Context ctx, Collector<Tuple2<Long, Long>> out) throws Exception {
            try {
                count(event, ctx, out);
            } catch (PageStoreFailedException e) {
                STORE_FAILURES_SEEN.incrementAndGet();
                throw e;
            }
            PROCESSED.incrementAndGet();
        }

        private void count(Long event, Context ctx, Collector<Tuple2<Long, Long>> out) throws Exception {
            Long current = count.value();
            long next = current == null ? 1 : current + 1;
            count.update(next);
            boolean even = event % 2 == 0;
            Long parity = byParity.get(even);
            byParity.put(even, parity == null ? 1 : parity + 1);
            long total = 0;
            for (Long v : byParity.values()) {
                total += v;
            }
            if (total != next) {
                throw new IllegalStateException("map state and value state disagree: " + total + " vs " + next);
            }
            if (userFailure && checkpointed && event > EVENTS / 2 && FAILURES.compareAndSet(0, 1)) {
                throw new RuntimeException("failure injected on purpose after a checkpoint");
            }
            out.collect(Tuple2.of(ctx.getCurrentKey(), next));
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            checkpointed = true;
            anyCheckpointCompleted = true;
            Path root = checkpointRoot;
            if (root != null && checkpointId >= 20) {
                LATE_CHECKPOINTS.incrementAndGet();
                MOST_SHARED_FILES.accumulateAndGet((int) TestClusters.sharedFiles(root), Math::max);
            }
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) {}

        @Override
        public void initializeState(FunctionInitializationContext context) {
            if (context.isRestored()) {
                RESTORED.incrementAndGet();
            }
        }
    }
}

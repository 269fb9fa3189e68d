package io.zstate.jobs;

import io.zstate.flink.ZStateBackendFactory;
import io.zstate.flink.ZStateLocalStats;
import io.zstate.pagestore.PageStoreStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs an example job on an embedded Flink MiniCluster with the chosen state backend, shows
 * progress, checks the job's result and prints a summary (throughput and, for zstate, the tier
 * counters of the page store).
 */
@Command(name = "zstate-run", mixinStandardHelpOptions = true,
        description = "Runs an example job on an embedded MiniCluster and prints what it did.")
public final class ZStateRunner implements Callable<Integer> {

    @Option(names = "--job", defaultValue = "counter", description = "Job to run: ${COMPLETION-CANDIDATES}.")
    Job job;

    @Option(names = "--backend", defaultValue = "zstate",
            description = "State backend: zstate, rocksdb or hashmap (default ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--keys", defaultValue = "500000", description = "Distinct keys (default ${DEFAULT-VALUE}).")
    long keys;

    @Option(names = "--events", defaultValue = "3000000", description = "Events (default ${DEFAULT-VALUE}).")
    long events;

    @Option(names = "--parallelism", defaultValue = "2", description = "Parallelism (default ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--managed-memory", defaultValue = "256mb",
            description = "Managed memory of the TaskManager (default ${DEFAULT-VALUE}).")
    String managedMemory;

    @Option(names = "--checkpoint-interval", defaultValue = "2s",
            description = "Checkpoint interval, or 0 for none (default ${DEFAULT-VALUE}).")
    String checkpointInterval;

    @Option(names = "--rate", defaultValue = "0",
            description = "Source rate in events/s over all subtasks, 0 for as fast as it goes (default ${DEFAULT-VALUE}).")
    double rate;

    /** The example jobs, by the name {@code --job} takes. */
    enum Job {
        counter(new EventCounterJob()),
        windows(new WindowedAggregationJob()),
        sessions(new SessionAnalysisJob());

        final ExampleJob<?> job;

        Job(ExampleJob<?> job) {
            this.job = job;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new ZStateRunner()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        String backendType = switch (backend.toLowerCase(Locale.ROOT)) {
            case "zstate" -> ZStateBackendFactory.class.getName();
            case "rocksdb", "hashmap" -> backend.toLowerCase(Locale.ROOT);
            default -> throw new CommandLine.ParameterException(new CommandLine(this),
                    "--backend '" + backend + "' is not known: use zstate, rocksdb or hashmap");
        };
        if (keys < 1 || events < keys || parallelism < 1 || rate < 0) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "need --keys >= 1, --events >= --keys, --parallelism >= 1 and --rate >= 0");
        }
        JobSize size = new JobSize(keys, events, rate);
        Configuration config = new Configuration();
        config.set(StateBackendOptions.STATE_BACKEND, backendType);
        config.set(TaskManagerOptions.MANAGED_MEMORY_SIZE, MemorySize.parse(managedMemory));
        config.set(TaskManagerOptions.NUM_TASK_SLOTS, parallelism);
        // a failing run should stop and say why, not restart forever
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        Duration interval = org.apache.flink.util.TimeUtils.parseDuration(checkpointInterval);
        java.nio.file.Path checkpoints = java.nio.file.Files.createTempDirectory("zstate-run-checkpoints");
        if (!interval.isZero()) {
            config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, interval);
            // on files: the JobManager's in-memory storage refuses snapshots over 5 MB
            config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpoints.toUri().toString());
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(parallelism, config);

        System.out.printf("zstate runner: job %s (%s) on %s, parallelism %d, managed memory %s%n",
                job, job.job.describe(size), backend, parallelism, managedMemory);
        ZStateLocalStats.enable();
        Progress.PROCESSED.reset();
        long start = System.nanoTime();
        Thread progress = new Thread(() -> reportProgress(start), "progress");
        progress.setDaemon(true);
        progress.start();
        ExampleJob.Verdict verdict = runAndCheck(job.job, env, size);
        progress.interrupt();
        double seconds = (System.nanoTime() - start) / 1e9;
        deleteTree(checkpoints);

        boolean correct = verdict.correct();
        System.out.printf("%n== summary ==%n");
        System.out.printf("backend           %s%n", backend);
        System.out.printf("events            %,d in %.1f s: %,.0f records/s%n", events, seconds, events / seconds);
        System.out.printf("result            %s: %s%n", verdict.summary(), correct ? "correct" : "WRONG");
        PageStoreStats stats = ZStateLocalStats.total();
        if (stats != null) {
            System.out.printf("zstate pages      %,d hot, %,d in the pool, %,d spilled, %,d same-filled%n",
                    stats.hotPages(), stats.poolPages(), stats.spilledPages(), stats.sameFilledPages());
            System.out.printf("zstate memory     pool %s of frames for %s compressed; page cache %s%n",
                    MemorySize.ofMebiBytes(stats.poolBytesHeld() >> 20), MemorySize.ofMebiBytes(stats.poolPayloadBytes() >> 20),
                    MemorySize.ofMebiBytes(stats.hotBytes() >> 20));
            System.out.printf("zstate tiers      page-cache hit rate %.3f, pool hit rate %.3f, compression %.2fx%n",
                    stats.cacheHitRate(), stats.poolHitRate(), stats.compressionRatio());
            System.out.printf("zstate paths      %,d swap-ins, %,d writebacks, %,d bounced, %,d clean drops%n",
                    stats.swapIns(), stats.writebacks(), stats.bounced(), stats.cleanDrops());
        }
        return correct ? 0 : 1;
    }

    private static <R> ExampleJob.Verdict runAndCheck(ExampleJob<R> job, StreamExecutionEnvironment env, JobSize size)
            throws Exception {
        List<R> output = new ArrayList<>();
        try (CloseableIterator<R> results = job.build(env, size).executeAndCollect()) {
            results.forEachRemaining(output::add);
        }
        return job.check(output, size);
    }

    private static void deleteTree(java.nio.file.Path dir) throws java.io.IOException {
        try (java.util.stream.Stream<java.nio.file.Path> paths = java.nio.file.Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static void reportProgress(long start) {
        try {
            while (true) {
                Thread.sleep(2000);
                double seconds = (System.nanoTime() - start) / 1e9;
                long done = Progress.PROCESSED.sum();
                System.out.printf("  %5.1f s: %,d events processed (%,.0f/s)%n", seconds, done, done / seconds);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.zstate.jobs;

import io.zstate.flink.ZStateBackendFactory;
import io.zstate.flink.metrics.ZStateLocalStats;
import io.zstate.pagestore.PageStoreStats;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.checkpoint.CheckpointStatsCounts;
import org.apache.flink.runtime.checkpoint.CheckpointStatsSnapshot;
import org.apache.flink.runtime.checkpoint.CompletedCheckpointStats;
import org.apache.flink.runtime.checkpoint.CompletedCheckpointStatsSummarySnapshot;
import org.apache.flink.runtime.checkpoint.FailedCheckpointStats;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.runtime.util.stats.StatsSummarySnapshot;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.FileUtils;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Runs an example job on an embedded Flink MiniCluster with the chosen state backend, shows
 * progress, checks the job's result and prints a summary: throughput, checkpoint durations and
 * sizes, memory peaks (heap, direct, process RSS) and, for zstate, the tier counters of the page
 * store. {@code --json} also writes the figures for {@link ZStateCompare}.
 */
@Command(name = "zstate-run", mixinStandardHelpOptions = true,
        description = "Runs an example job on an embedded MiniCluster and prints what it did.")
public final class ZStateRunner extends JobRunOptions implements Callable<Integer> {

    @Option(names = "--backend", defaultValue = "zstate",
            description = "State backend: zstate, rocksdb, rocksdb-tuned (partitioned index and filter blocks, for"
                    + " state larger than memory), forst (Flink 2.x's ForSt) or hashmap (default ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--json", paramLabel = "<file>",
            description = "Also write the run's results to this file as JSON (the compare command reads it).")
    Path json;

    /** The example jobs, by the name {@code --job} takes, with their default key counts. */
    enum Job {
        counter(new EventCounterJob(), 500_000, 3_000_000),
        // 3M events over 500k sensors make 2M one-reading-or-so windows; 100k keep it a window job
        windows(new WindowedAggregationJob(), 100_000, 3_000_000),
        sessions(new SessionAnalysisJob(), 500_000, 3_000_000),
        // the join keeps every order whole (1.1 KiB): 100k orders are 110 MiB of rows, in every backend
        sql(new WideRowSqlJob(), 20_000, 100_000);

        final ExampleJob<?> job;
        final long defaultKeys;
        final long defaultEvents;

        Job(ExampleJob<?> job, long defaultKeys, long defaultEvents) {
            this.job = job;
            this.defaultKeys = defaultKeys;
            this.defaultEvents = defaultEvents;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new ZStateRunner()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        String backendType = switch (backend.toLowerCase(Locale.ROOT)) {
            case "zstate" -> ZStateBackendFactory.class.getName();
            case "rocksdb", "hashmap", "forst" -> backend.toLowerCase(Locale.ROOT);
            case "rocksdb-tuned" -> "rocksdb";
            default -> throw new CommandLine.ParameterException(new CommandLine(this),
                    "--backend '" + backend + "' is not known: use zstate, rocksdb, rocksdb-tuned, forst or hashmap");
        };
        resolveKeys();
        if (keys < 1 || events < keys || parallelism < 1 || rate < 0) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "need --keys >= 1, --events >= --keys, --parallelism >= 1 and --rate >= 0");
        }
        JobSize size = new JobSize(keys, events, rate);
        Path file = configFile();
        Configuration config = file != null ? FlinkConfigFiles.load(file) : new Configuration();
        config.set(StateBackendOptions.STATE_BACKEND, backendType);
        if (backend.equalsIgnoreCase("rocksdb-tuned")) {
            // RocksDB as a user tunes it for state larger than memory
            config.setString("state.backend.rocksdb.memory.partitioned-index-filters", "true");
        }
        config.set(TaskManagerOptions.MANAGED_MEMORY_SIZE, MemorySize.parse(managedMemory));
        config.set(TaskManagerOptions.NUM_TASK_SLOTS, parallelism);
        // a failing run should stop and say why, not restart forever
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        Duration interval = org.apache.flink.util.TimeUtils.parseDuration(checkpointInterval);
        Path checkpoints = Files.createTempDirectory("zstate-run-checkpoints");
        if (!interval.isZero()) {
            config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, interval);
            if (incremental) {
                config.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
            }
            // on files: the JobManager's in-memory storage refuses snapshots over 5 MB
            config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpoints.toUri().toString());
            // every checkpoint in the history, so the summary can tell declines from failures
            config.set(org.apache.flink.configuration.WebOptions.CHECKPOINTS_HISTORY_SIZE, 100_000);
        } else {
            // off means off, whatever the configuration file says
            config.removeConfig(CheckpointingOptions.CHECKPOINTING_INTERVAL);
        }

        System.out.printf("zstate runner: job %s (%s) on %s, parallelism %d, managed memory %s%n",
                job, job.job.describe(size), backend, parallelism, managedMemory);
        System.out.printf("configuration: %s%n", file != null
                ? file.toAbsolutePath().normalize() + " (the options above win over it)"
                : "Flink's defaults (no --config, and conf/flink-conf-embedded.yaml not found)");
        ZStateLocalStats.enable();
        Progress.PROCESSED.reset();
        MemoryPeaks memory = new MemoryPeaks();
        memory.sample();
        Outcome outcome;
        // The runner owns the MiniCluster (a local environment's would be gone with the job) so
        // that the job's checkpoint statistics can be read after it finished.
        try (MiniCluster cluster = startCluster(config)) {
            URI rest = cluster.getRestAddress().get();
            StreamExecutionEnvironment env =
                    StreamExecutionEnvironment.createRemoteEnvironment(rest.getHost(), rest.getPort(), config);
            env.setParallelism(parallelism);
            outcome = runAndCheck(job.job, env, size, cluster, memory);
        } finally {
            FileUtils.deleteDirectoryQuietly(checkpoints.toFile());
        }
        memory.sample();
        double seconds = outcome.seconds();
        ExampleJob.Verdict verdict = outcome.verdict();
        RunResult.Checkpoints checkpointFacts = checkpointFacts(interval, outcome.checkpoints());
        RunResult.Memory peaks = memory.peaks();
        PageStoreStats stats = ZStateLocalStats.total();

        boolean correct = verdict.correct();
        System.out.printf("%n== summary ==%n");
        System.out.printf("backend           %s%n", backend);
        System.out.printf("events            %,d in %.1f s: %,.0f records/s%n", events, seconds, events / seconds);
        System.out.printf("result            %s: %s%n", verdict.summary(), correct ? "correct" : "WRONG");
        printCheckpoints(checkpointFacts);
        System.out.printf("memory            peak heap %s (of -Xmx %s), peak direct %s, peak RSS %s%n",
                Units.bytes(peaks.peakHeapBytes()), Units.bytes(Runtime.getRuntime().maxMemory()),
                Units.bytes(peaks.peakDirectBytes()),
                peaks.peakRssBytes() < 0 ? "n/a" : Units.bytes(peaks.peakRssBytes()) + " (whole process)");
        if (stats != null) {
            System.out.printf("zstate pages      %,d hot, %,d in the pool (%,d of them raw), %,d spilled, %,d same-filled%n",
                    stats.hotPages(), stats.poolPages(), stats.rawPoolPages(), stats.spilledPages(),
                    stats.sameFilledPages());
            System.out.printf("zstate memory     pool %s of frames for %s compressed; page cache %s%n",
                    MemorySize.ofMebiBytes(stats.poolBytesHeld() >> 20), MemorySize.ofMebiBytes(stats.poolPayloadBytes() >> 20),
                    MemorySize.ofMebiBytes(stats.hotBytes() >> 20));
            System.out.printf("zstate tiers      page-cache hit rate %.3f, pool hit rate %.3f, compression %.2fx%n",
                    stats.cacheHitRate(), stats.poolHitRate(), stats.compressionRatio());
            System.out.printf("zstate paths      %,d swap-ins, %,d writebacks (%,d more by the reaper, the task"
                            + " waiting %,d times for %.1f ms), %,d bounced, %,d clean drops%n",
                    stats.swapIns(), stats.writebacks(), stats.backgroundWritebacks(), stats.writebackWaits(),
                    stats.writebackWaitNanos() / 1e6, stats.bounced(), stats.cleanDrops());
            System.out.printf("zstate entries    %,d cached; %,d hits, %,d read misses, %,d admitted, %,d written into pages;"
                    + " slept %,d times, woke %,d%n",
                    stats.cachedEntries(), stats.entryHits(), stats.entryMisses(), stats.entryAdmissions(),
                    stats.entryWriteBacks(), stats.entrySleeps(), stats.entryWakes());
            System.out.printf("zstate writes     %,d waited in the write buffer, %.2f per applied bucket, %,d waiting;"
                    + " %,d sent to RocksDB in %,d merges; %,d to warm pages in RocksDB faulted them in%n",
                    stats.bufferedWrites(), stats.writesPerApplication(), stats.waitingWrites(), stats.writesToRocksDb(),
                    stats.writeMergesToRocksDb(), stats.warmPageWrites());
            System.out.printf("zstate slots      %,d times a pool was short of its slot's frames, %,d frames moved"
                    + " between a slot's pools%n", stats.slotShortfalls(), stats.framesReclaimedForSlot());
        }
        if (json != null) {
            new RunResult(job.name(), backend.toLowerCase(Locale.ROOT), keys, events, parallelism,
                    MemorySize.parse(managedMemory).getBytes(), Runtime.getRuntime().maxMemory(), seconds,
                    events / seconds, correct, verdict.summary(), checkpointFacts, peaks, stats)
                    .write(json);
            System.out.printf("results           %s%n", json);
        }
        return correct ? 0 : 1;
    }

    /** What {@link #runAndCheck} found: the verdict, the wall time and the checkpoint statistics. */
    private record Outcome(ExampleJob.Verdict verdict, double seconds, CheckpointStatsSnapshot checkpoints) {}

    private static MiniCluster startCluster(Configuration config) throws Exception {
        Configuration clusterConfig = new Configuration(config);
        clusterConfig.set(RestOptions.ADDRESS, "localhost");
        clusterConfig.set(RestOptions.BIND_ADDRESS, "localhost");
        clusterConfig.set(RestOptions.BIND_PORT, "0");
        MiniCluster cluster = new MiniCluster(new MiniClusterConfiguration.Builder()
                .withRandomPorts()
                .setConfiguration(clusterConfig)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(config.get(TaskManagerOptions.NUM_TASK_SLOTS))
                .build());
        try {
            cluster.start();
        } catch (Exception e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    private static <R> Outcome runAndCheck(ExampleJob<R> job, StreamExecutionEnvironment env, JobSize size,
            MiniCluster cluster, MemoryPeaks memory) throws Exception {
        List<R> output = new ArrayList<>();
        CloseableIterator<R> results = job.build(env, size).collectAsync();
        long start = System.nanoTime();
        JobClient client = env.executeAsync("zstate runner: " + job.getClass().getSimpleName());
        JobID jobId = client.getJobID();
        Thread progress = new Thread(() -> reportProgress(start, memory, cluster, jobId), "progress");
        progress.setDaemon(true);
        progress.start();
        try (results) {
            results.forEachRemaining(output::add);
        } finally {
            progress.interrupt();
            progress.join();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        // the job has finished once the collect iterator is drained; its archived graph keeps the statistics
        client.getJobExecutionResult().get();
        CheckpointStatsSnapshot checkpoints = cluster.getArchivedExecutionGraph(jobId).get().getCheckpointStatsSnapshot();
        return new Outcome(job.check(output, size), seconds, checkpoints);
    }

    static RunResult.Checkpoints checkpointFacts(Duration interval, CheckpointStatsSnapshot snapshot) {
        CheckpointStatsCounts counts = snapshot == null ? null : snapshot.getCounts();
        // real failures are those in the history (the runner keeps it whole) that are not start
        // or end declines; the rest of Flink's failed count are declines, recorded or not (a
        // checkpoint that failed before it was under way, "not all required tasks are currently
        // running", leaves no history entry)
        long failed = realFailures(snapshot);
        long declined = counts == null ? 0 : Math.max(0, counts.getNumberOfFailedCheckpoints() - failed);
        if (counts == null || counts.getNumberOfCompletedCheckpoints() == 0) {
            return new RunResult.Checkpoints(interval.toMillis(), 0, failed, declined, -1, -1, -1, -1, -1, -1, -1,
                    lastFailure(snapshot), List.of());
        }
        List<RunResult.Completed> history = new ArrayList<>();
        for (org.apache.flink.runtime.checkpoint.AbstractCheckpointStats stats : snapshot.getHistory().getCheckpoints()) {
            if (stats instanceof CompletedCheckpointStats done) {
                history.add(new RunResult.Completed(done.getCheckpointId(), done.getEndToEndDuration(),
                        done.getStateSize(), done.getCheckpointedSize()));
            }
        }
        java.util.Collections.reverse(history); // the history lists the newest first
        CompletedCheckpointStatsSummarySnapshot summary = snapshot.getSummaryStats();
        StatsSummarySnapshot duration = summary.getEndToEndDurationStats();
        CompletedCheckpointStats last = snapshot.getHistory().getLatestCompletedCheckpoint();
        return new RunResult.Checkpoints(interval.toMillis(), counts.getNumberOfCompletedCheckpoints(), failed,
                declined, duration.getMinimum(), duration.getAverage(), duration.getMaximum(),
                last == null ? -1 : last.getStateSize(), last == null ? -1 : last.getCheckpointedSize(),
                summary.getStateSizeStats().getMaximum(), summary.getCheckpointedSize().getMaximum(),
                lastFailure(snapshot), history);
    }

    /**
     * Whether a failed checkpoint was only declined by tasks that were starting or finishing
     * (Flink's reasons for a bounded job's first and last checkpoints), not a failure. The
     * runner's jobs do not restart, so a job that fails ends the run and says so itself.
     */
    static boolean isStartOrEndDecline(String failureMessage) {
        return failureMessage != null && (failureMessage.contains("tasks not ready")
                || failureMessage.contains("task is closing") || failureMessage.contains("Coordinator is suspending")
                || failureMessage.contains("tasks finished") || failureMessage.contains("task has finished")
                || failureMessage.contains("Not all required tasks are currently running")
                || failureMessage.contains("checkpoint request for unknown task")); // the task just finished
    }

    /** Failed checkpoints in the history that are not start-or-end declines. */
    private static long realFailures(CheckpointStatsSnapshot snapshot) {
        if (snapshot == null) {
            return 0;
        }
        long failed = 0;
        for (org.apache.flink.runtime.checkpoint.AbstractCheckpointStats stats : snapshot.getHistory().getCheckpoints()) {
            if (stats instanceof FailedCheckpointStats f && !isStartOrEndDecline(f.getFailureMessage())) {
                failed++;
            }
        }
        return failed;
    }

    /** Why the latest real failure happened (declines at start or end are not failures). */
    private static String lastFailure(CheckpointStatsSnapshot snapshot) {
        if (snapshot == null) {
            return null;
        }
        FailedCheckpointStats latest = snapshot.getHistory().getLatestFailedCheckpoint();
        if (latest != null && !isStartOrEndDecline(latest.getFailureMessage())) {
            return latest.getFailureMessage();
        }
        for (org.apache.flink.runtime.checkpoint.AbstractCheckpointStats stats : snapshot.getHistory().getCheckpoints()) {
            // the history lists the newest first
            if (stats instanceof FailedCheckpointStats f && !isStartOrEndDecline(f.getFailureMessage())) {
                return f.getFailureMessage();
            }
        }
        return null;
    }

    private static void printCheckpoints(RunResult.Checkpoints c) {
        if (c.intervalMillis() == 0) {
            System.out.printf("checkpoints       off (--checkpoint-interval 0)%n");
            System.out.printf("state size        n/a (no checkpoint)%n");
            return;
        }
        if (c.completed() == 0) {
            System.out.printf("checkpoints       none completed (every %s), %,d failed, %,d declined as tasks started"
                    + " or finished%n", Units.millis(c.intervalMillis()), c.failed(), c.declined());
            printLastFailure(c);
            System.out.printf("state size        n/a (no checkpoint completed)%n");
            return;
        }
        System.out.printf("checkpoints       %,d completed, %,d failed%s (every %s); end-to-end min %s, avg %s,"
                        + " max %s%n", c.completed(), c.failed(), c.declined() == 0 ? ""
                        : String.format(Locale.ROOT, ", %,d declined as tasks started or finished (not failures)",
                                c.declined()), Units.millis(c.intervalMillis()), Units.millis(c.minMillis()),
                Units.millis(c.avgMillis()), Units.millis(c.maxMillis()));
        printLastFailure(c);
        System.out.printf("state size        %s (last completed checkpoint)%n", Units.bytes(c.lastStateBytes()));
        System.out.printf("checkpoint size   last %s checkpointed of %s state; max %s checkpointed of %s state%n",
                Units.bytes(c.lastCheckpointedBytes()), Units.bytes(c.lastStateBytes()),
                Units.bytes(c.maxCheckpointedBytes()), Units.bytes(c.maxStateBytes()));
        List<RunResult.Completed> history = c.history();
        if (!history.isEmpty()) {
            int from = Math.max(0, history.size() - PER_CHECKPOINT_LINES);
            System.out.printf("per checkpoint    written of state, end to end%s%n",
                    from == 0 ? "" : String.format(Locale.ROOT, " (the last %d of %,d)", PER_CHECKPOINT_LINES,
                            history.size()));
            for (RunResult.Completed done : history.subList(from, history.size())) {
                System.out.printf("  #%-14d %s of %s, %s%n", done.id(), Units.bytes(done.checkpointedBytes()),
                        Units.bytes(done.stateBytes()), Units.millis(done.durationMillis()));
            }
        }
    }

    /** Completed checkpoints listed one per line in the summary (the latest ones). */
    static final int PER_CHECKPOINT_LINES = 12;

    private static void printLastFailure(RunResult.Checkpoints c) {
        if (c.failed() > 0) {
            System.out.printf("last failure      %s%n", c.lastFailure() != null ? c.lastFailure()
                    : "no reason recorded (Flink keeps none for a checkpoint that failed before it was under way)");
        }
    }

    /** Samples memory four times a second and prints a progress line every two seconds. */
    private static void reportProgress(long start, MemoryPeaks memory, MiniCluster cluster, JobID jobId) {
        try {
            for (int tick = 1; ; tick++) {
                Thread.sleep(250);
                memory.sample();
                if (tick % 8 != 0) {
                    continue;
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                long done = Progress.PROCESSED.sum();
                System.out.printf("  %5.1f s: %,d events processed (%,.0f/s)%s%n",
                        seconds, done, done / seconds, completedCheckpoints(cluster, jobId));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String completedCheckpoints(MiniCluster cluster, JobID jobId) {
        try {
            CheckpointStatsSnapshot snapshot =
                    cluster.getExecutionGraph(jobId).get(1, TimeUnit.SECONDS).getCheckpointStatsSnapshot();
            long completed = snapshot == null ? 0 : snapshot.getCounts().getNumberOfCompletedCheckpoints();
            return completed == 0 ? "" : String.format(", %,d checkpoint%s", completed, completed == 1 ? "" : "s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        } catch (Exception e) {
            return "";
        }
    }
}

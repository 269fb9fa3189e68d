package io.zstate.jobs.cluster;

import io.zstate.jobs.EventCounterJob;
import io.zstate.jobs.FlinkConfigFiles;
import io.zstate.jobs.ExampleJob;
import io.zstate.jobs.JobSize;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.FileUtils;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The cluster demo: starts a Flink standalone session cluster on this machine (a JobManager and
 * two TaskManagers, each its own JVM), submits the event-counter job, which takes zstate from the
 * cluster's {@code config.yaml}, waits for a completed checkpoint, kills a TaskManager that runs
 * the job with SIGKILL, follows the job's restart from the checkpoint on the surviving
 * TaskManager, and judges the result: every key counted exactly once.
 *
 * <p>Exit code 0 only if the job was restored from a checkpoint after the kill, finished, and its
 * result is correct.
 */
@Command(name = "zstate-cluster-demo", mixinStandardHelpOptions = true,
        description = "Runs the event-counter job with zstate on a local multi-process Flink standalone cluster,"
                + " kills a TaskManager after a checkpoint and shows the job recover.")
public final class ClusterDemo implements Callable<Integer> {

    @Option(names = "--keys", defaultValue = "20000", description = "Distinct keys (default ${DEFAULT-VALUE}).")
    long keys;

    @Option(names = "--events", defaultValue = "600000", description = "Events (default ${DEFAULT-VALUE}).")
    long events;

    @Option(names = "--rate", defaultValue = "20000",
            description = "Source rate in events/s over all subtasks; with --events it sets how long the job runs"
                    + " (default ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--parallelism", defaultValue = "2", description = "Job parallelism (default ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--slots", defaultValue = "2",
            description = "Slots per TaskManager; the survivor alone must have --parallelism of them (default ${DEFAULT-VALUE}).")
    int slots;

    @Option(names = "--taskmanager-memory", defaultValue = "1536m",
            description = "taskmanager.memory.process.size of each TaskManager (default ${DEFAULT-VALUE}).")
    String taskManagerMemory;

    @Option(names = "--jobmanager-memory", defaultValue = "1g",
            description = "jobmanager.memory.process.size (default ${DEFAULT-VALUE}).")
    String jobManagerMemory;

    @Option(names = "--checkpoint-interval", defaultValue = "2s",
            description = "Checkpoint interval (default ${DEFAULT-VALUE}).")
    String checkpointInterval;

    @Option(names = "--incremental", description = "Incremental checkpoints (execution.checkpointing.incremental:"
            + " zstate writes a base, then deltas of what changed).")
    boolean incremental;

    @Option(names = "-D", paramLabel = "key=value",
            description = "A Flink configuration key for the cluster, over the demo's own settings (as flink run -D).")
    java.util.Map<String, String> properties = new java.util.LinkedHashMap<>();

    @Option(names = "--kill-after-checkpoints", defaultValue = "1",
            description = "Completed checkpoints to wait for before the kill; 0 runs without a kill (default ${DEFAULT-VALUE}).")
    int killAfterCheckpoints;

    @Option(names = "--config",
            description = "Flink configuration to start from (default: conf/flink-conf-cluster.yaml of the repository).")
    Path baseConfig;

    @Option(names = "--run-dir",
            description = "Directory for the cluster's conf/, log/, checkpoints/ and tmp/ (default: a new temporary one).")
    Path runDirOption;

    @Option(names = "--keep", description = "Keep the run directory (logs, configuration, checkpoints) afterwards.")
    boolean keep;

    @Option(names = "--timeout", defaultValue = "300s", description = "Give up after this long (default ${DEFAULT-VALUE}).")
    String timeout;

    @Option(names = "--log4j-lib",
            description = "Directory of the log4j jars Flink ships in lib/, for the processes' log files"
                    + " (default: the system property zstate.cluster.log4j-lib, set by the build).")
    Path log4jLib;

    /** What the demo saw; the integration test reads it. */
    public record Outcome(boolean killed, String killedTaskManager, Long restoredCheckpoint, List<String> states,
            String finalState, ExampleJob.Verdict verdict) {

        public boolean recoveredCorrectly() {
            return killed && restoredCheckpoint != null && "FINISHED".equals(finalState)
                    && verdict != null && verdict.correct();
        }
    }

    private volatile Outcome outcome;
    private long startNanos;

    /** Sees what the demo sees of the job (the soak samples through it); null: nobody. */
    interface Observer {
        /** One look of the demo's loop (about every 200 ms): the job's details and checkpoints, either may be null. */
        void look(LocalCluster cluster, JobID job, JsonNode details, JsonNode checkpoints) throws Exception;

        /** The job finished and its result was judged; the cluster is still up. */
        void finished(LocalCluster cluster, JobID job) throws Exception;
    }

    Observer observer;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ClusterDemo()).execute(args));
    }

    /** What the last {@link #call()} saw, or null if it did not get as far as running the job. */
    public Outcome outcome() {
        return outcome;
    }

    @Override
    public Integer call() throws Exception {
        if (keys < 1 || events < keys || rate < 0 || parallelism < 1 || slots < parallelism || killAfterCheckpoints < 0) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "need --keys >= 1, --events >= --keys, --rate >= 0, --parallelism >= 1, --slots >= --parallelism"
                            + " (the surviving TaskManager runs the whole job) and --kill-after-checkpoints >= 0");
        }
        JobSize size = new JobSize(keys, events, rate);
        Duration deadline = org.apache.flink.util.TimeUtils.parseDuration(timeout);
        Path runDir = runDirOption != null ? Files.createDirectories(runDirOption) : Files.createTempDirectory("zstate-cluster");
        Path base = baseConfig != null ? baseConfig : findRepositoryConfig();
        Path lib = log4jLib != null ? log4jLib
                : System.getProperty("zstate.cluster.log4j-lib") != null ? Path.of(System.getProperty("zstate.cluster.log4j-lib")) : null;
        Configuration config = demoConfiguration(FlinkConfigFiles.load(base));

        startNanos = System.nanoTime();
        ExampleJob<Long> job = new EventCounterJob();
        say("zstate cluster demo: %s, %,.0f events/s", job.describe(size), rate);
        say("configuration: %s, adapted for this machine -> %s", base, runDir.resolve("conf/config.yaml"));
        say("checkpoints: %s, every %s", incremental ? "incremental (execution.checkpointing.incremental)" : "full",
                checkpointInterval);
        boolean ok = false;
        LocalCluster cluster = new LocalCluster(runDir, config, lib);
        try {
            say("starting a JobManager and two TaskManagers (%d slots each, %s each) as separate JVMs; logs in %s%s",
                    slots, taskManagerMemory, cluster.logDir(), cluster.logging() ? "" : " (stdout/stderr only: no log4j jars)");
            cluster.startJobManager();
            cluster.awaitRest(Duration.ofSeconds(90));
            say("JobManager up: REST API and web UI at http://localhost:%d (pid %d)",
                    cluster.restPort(), cluster.process("jobmanager").pid());
            cluster.startTaskManager("tm-1");
            cluster.startTaskManager("tm-2");
            cluster.awaitTaskManagers(2, Duration.ofSeconds(90));
            say("TaskManagers registered: %s (pids %d, %d)", cluster.registeredTaskManagers(),
                    cluster.process("tm-1").pid(), cluster.process("tm-2").pid());
            outcome = run(cluster, job, size, deadline);
            ok = outcome.recoveredCorrectly() || (killAfterCheckpoints == 0 && outcome.verdict() != null
                    && outcome.verdict().correct());
            return ok ? 0 : 1;
        } catch (Exception | Error e) {
            say("FAILED: %s", e);
            throw e;
        } finally {
            if (!ok) {
                System.out.println(cluster.tails(30));
            }
            say("stopping the cluster");
            cluster.close();
            if (keep || !ok) {
                say("run directory kept: %s", runDir);
            } else {
                FileUtils.deleteDirectoryQuietly(runDir.toFile());
            }
        }
    }

    private Outcome run(LocalCluster cluster, ExampleJob<Long> job, JobSize size, Duration deadline) throws Exception {
        // the client reads the same config.yaml as the cluster, as `flink run` does: checkpointing,
        // the restart strategy and the state backend (zstate) come from there
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.createRemoteEnvironment("localhost", cluster.restPort(), cluster.configuration());
        CloseableIterator<Long> results = job.build(env, size).collectAsync();
        JobClient client = env.executeAsync("zstate cluster demo: event counter");
        JobID jobId = client.getJobID();
        say("job %s submitted (no jar: the job's classes are on the TaskManagers' classpath)", jobId);

        List<Long> output = Collections.synchronizedList(new ArrayList<>());
        AtomicReference<Throwable> collectError = new AtomicReference<>();
        Thread collector = new Thread(() -> {
            try (results) {
                results.forEachRemaining(output::add);
            } catch (Throwable t) {
                collectError.set(t);
            }
        }, "collect");
        collector.setDaemon(true);
        collector.start();

        long limit = System.nanoTime() + deadline.toNanos();
        List<String> states = new ArrayList<>();
        String state = null;
        String victim = null;
        long killedAfter = 0;
        Long restored = null;
        long lastProgress = 0;
        long restarts = 0;
        String backendShown = null;
        while (collector.isAlive() && System.nanoTime() < limit) {
            JsonNode details = cluster.get("/jobs/" + jobId);
            JsonNode checkpoints = cluster.get("/jobs/" + jobId + "/checkpoints");
            if (details != null) {
                String now = details.path("state").asText();
                if (!now.equals(state)) {
                    state = now;
                    states.add(now);
                    say("job %s", now);
                }
            }
            if (backendShown == null && "RUNNING".equals(state)) {
                JsonNode checkpointConfig = cluster.get("/jobs/" + jobId + "/checkpoints/config");
                if (checkpointConfig != null && checkpointConfig.has("state_backend")) {
                    backendShown = checkpointConfig.path("state_backend").asText();
                    say("state backend of the job (from config.yaml): %s", backendShown);
                }
            }
            long completed = checkpoints == null ? 0 : checkpoints.path("counts").path("completed").asLong();
            if (victim == null && killAfterCheckpoints > 0 && completed >= killAfterCheckpoints && "RUNNING".equals(state)) {
                JsonNode latest = checkpoints.path("latest").path("completed");
                victim = taskManagerOf(cluster, details);
                if (victim != null) {
                    killedAfter = latest.path("id").asLong();
                    say("checkpoint %d completed (%s, of which it wrote %s); killing %s (pid %d) with SIGKILL",
                            latest.path("id").asLong(), bytes(latest.path("state_size").asLong()),
                            bytes(latest.path("checkpointed_size").asLong()), victim, cluster.process(victim).pid());
                    cluster.kill(victim);
                    say("%s killed; the JobManager still lists TaskManagers %s", victim, cluster.registeredTaskManagers());
                }
            }
            if (victim != null && restored == null && checkpoints != null) {
                JsonNode restore = checkpoints.path("latest").path("restored");
                if (restore.isObject()) {
                    restored = restore.path("id").asLong();
                    say("restored from checkpoint %d; TaskManagers now %s", restored, cluster.registeredTaskManagers());
                }
            }
            if (System.nanoTime() - lastProgress > TimeUnit.SECONDS.toNanos(3) && "RUNNING".equals(state)) {
                lastProgress = System.nanoTime();
                say("  progress: %,d records into count-events (REST metric, ~2 s behind), %d checkpoints completed",
                        recordsIn(details, "count-events"), completed);
            }
            if (victim != null && restarts == 0) {
                restarts = restarts(cluster, jobId);
                if (restarts > 0) {
                    say("the JobManager restarted the job: %s", rootCause(cluster, jobId));
                }
            }
            if (observer != null) {
                observer.look(cluster, jobId, details, checkpoints);
            }
            cluster.checkAlive();
            Thread.sleep(200);
        }
        if (collector.isAlive()) {
            client.cancel();
            throw new IllegalStateException("the job did not finish within " + deadline.toSeconds() + " s");
        }
        if (collectError.get() != null) {
            throw new IllegalStateException("collecting the job's results failed", collectError.get());
        }
        // the results end when the collect sink finished; the job itself finishes a moment later
        client.getJobExecutionResult().get(60, TimeUnit.SECONDS);
        String finalState = state;
        JsonNode details = null;
        for (int i = 0; i < 50 && !"FINISHED".equals(finalState); i++) {
            details = cluster.get("/jobs/" + jobId);
            finalState = details == null ? finalState : details.path("state").asText();
            Thread.sleep(200);
        }
        if (!finalState.equals(state)) {
            states.add(finalState);
            say("job %s", finalState);
        }
        JsonNode checkpoints = cluster.get("/jobs/" + jobId + "/checkpoints");
        if (restored == null && checkpoints != null && checkpoints.path("latest").path("restored").isObject()) {
            restored = checkpoints.path("latest").path("restored").path("id").asLong();
        }
        if (details != null && details.path("timestamps").path("RESTARTING").asLong() > 0 && !states.contains("RESTARTING")) {
            // the REST API caches job details for web.refresh-interval: a short RESTARTING can fall between two looks
            states.add(states.indexOf("RUNNING") + 1, "RESTARTING (from the job's timestamps)");
        }
        ExampleJob.Verdict verdict = job.check(output, size);
        restarts = Math.max(restarts, restarts(cluster, jobId));
        if (observer != null) {
            observer.finished(cluster, jobId);
        }

        System.out.printf("%n== summary ==%n");
        System.out.printf("cluster           1 JobManager + 2 TaskManagers, separate JVMs, REST port %d%n", cluster.restPort());
        System.out.printf("state backend     %s%n", backendShown == null ? "(not seen)" : backendShown);
        System.out.printf("failure           %s%n", victim == null ? "none injected" : victim + " killed with SIGKILL once checkpoint " + killedAfter + " had completed");
        System.out.printf("job states        %s%n", String.join(" -> ", states));
        System.out.printf("recovery          %s%n", restored == null ? "no restore" : "restored from checkpoint " + restored
                + ", the latest completed one (" + restarts + " restart" + (restarts == 1 ? "" : "s") + ")");
        System.out.printf("checkpoints       %d completed%n",
                checkpoints == null ? -1 : checkpoints.path("counts").path("completed").asLong());
        System.out.printf("result            %s: %s%n", verdict.summary(), verdict.correct() ? "correct" : "WRONG");
        System.out.printf("time              %.1f s%n", seconds());
        return new Outcome(victim != null, victim, restored, List.copyOf(states), finalState, verdict);
    }

    /** A TaskManager running a subtask of the job's keyed operator, else any of the job's TaskManagers. */
    private static String taskManagerOf(LocalCluster cluster, JsonNode details) {
        if (details == null) {
            return null;
        }
        String any = null;
        for (JsonNode vertex : details.path("vertices")) {
            JsonNode tms = cluster.get("/jobs/" + details.path("jid").asText() + "/vertices/" + vertex.path("id").asText()
                    + "/taskmanagers");
            if (tms == null) {
                continue;
            }
            for (JsonNode tm : tms.path("taskmanagers")) {
                String id = tm.path("taskmanager-id").asText();
                if (cluster.process(id) == null || !"RUNNING".equals(tm.path("status").asText())) {
                    continue;
                }
                if (vertex.path("name").asText().contains("count-events")) {
                    return id;
                }
                any = any == null ? id : any;
            }
        }
        return any;
    }

    /** The job's numRestarts metric, or 0 while it is not known. */
    private static long restarts(LocalCluster cluster, JobID jobId) {
        JsonNode metrics = cluster.get("/jobs/" + jobId + "/metrics?get=numRestarts");
        return metrics != null && metrics.size() > 0 ? metrics.get(0).path("value").asLong() : 0;
    }

    /** The first line of the newest failure in the job's exception history, with the TaskManager it names. */
    private static String rootCause(LocalCluster cluster, JobID jobId) {
        JsonNode exceptions = cluster.get("/jobs/" + jobId + "/exceptions");
        JsonNode entries = exceptions == null ? null : exceptions.path("exceptionHistory").path("entries");
        if (entries == null || entries.size() == 0) {
            return "(no exception recorded yet)";
        }
        JsonNode newest = entries.get(0);
        String firstLine = newest.path("stacktrace").asText().lines().findFirst().orElse(newest.path("exceptionName").asText());
        String where = newest.path("taskManagerId").isTextual() ? " [on " + newest.path("taskManagerId").asText() + "]" : "";
        return firstLine + where;
    }

    /** Records the job's vertex named like {@code vertexName} has read (REST metric), 0 while not known. */
    static long recordsIn(JsonNode details, String vertexName) {
        if (details == null) {
            return 0;
        }
        for (JsonNode vertex : details.path("vertices")) {
            if (vertex.path("name").asText().contains(vertexName)) {
                return vertex.path("metrics").path("read-records").asLong();
            }
        }
        return 0;
    }

    /** The demo's settings over the base configuration: sizes for one small machine, quick failure detection. */
    private Configuration demoConfiguration(Configuration base) {
        Configuration config = new Configuration(base);
        config.setString("taskmanager.numberOfTaskSlots", Integer.toString(slots));
        config.setString("taskmanager.memory.process.size", taskManagerMemory);
        config.setString("jobmanager.memory.process.size", jobManagerMemory);
        config.setString("parallelism.default", Integer.toString(parallelism));
        // spread the job's slots over both TaskManagers, so killing one hits the job
        config.setString("taskmanager.load-balance.mode", "SLOTS");
        config.setString("execution.checkpointing.interval", checkpointInterval);
        if (incremental) {
            config.setString("execution.checkpointing.incremental", "true");
        }
        config.setString("restart-strategy.type", "fixed-delay");
        config.setString("restart-strategy.fixed-delay.attempts", "10");
        config.setString("restart-strategy.fixed-delay.delay", "2s");
        // a lost TaskManager is noticed after two failed heartbeat RPCs (1 s apart), or 10 s of silence
        config.setString("heartbeat.interval", "1s");
        config.setString("heartbeat.timeout", "10s");
        // fresher job details and metrics in the REST API (defaults: 3 s and 10 s)
        config.setString("web.refresh-interval", "500ms");
        config.setString("metrics.fetcher.update-interval", "2s");
        properties.forEach(config::setString);
        return config;
    }

    private static Path findRepositoryConfig() {
        Path found = FlinkConfigFiles.findInRepository("flink-conf-cluster.yaml");
        if (found == null) {
            throw new IllegalStateException("conf/flink-conf-cluster.yaml not found above "
                    + Path.of("").toAbsolutePath() + "; pass --config");
        }
        return found;
    }

    private double seconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    private void say(String format, Object... args) {
        System.out.printf("[%5.1f s] %s%n", seconds(), String.format(format, args));
    }

    private static String bytes(long bytes) {
        return bytes < 10 * 1024 ? bytes + " B" : bytes < 10L << 20 ? (bytes >> 10) + " KiB" : (bytes >> 20) + " MiB";
    }
}

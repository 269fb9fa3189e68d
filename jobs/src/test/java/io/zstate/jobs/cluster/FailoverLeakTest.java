package io.zstate.jobs.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.jobs.EventCounterJob;
import io.zstate.jobs.FlinkConfigFiles;
import io.zstate.jobs.JobSize;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ten failovers on a multi-process cluster, and the surviving TaskManager's native memory: a
 * JobManager and two one-slot TaskManagers run the event counter on zstate (parallelism 2, one
 * subtask each, incremental checkpoints); ten times the other TaskManager is killed with SIGKILL
 * and a new one started, so the job fails over and the survivor's subtask disposes its backend
 * and restores a new one. The survivor's JVM native memory (native memory tracking, committed)
 * and RSS after the tenth restore must be back at their level after the first: what a restore
 * takes, dispose returns.
 */
class FailoverLeakTest {

    private static final int FAILOVERS = 10;

    @Test
    void theSurvivorsNativeMemoryReturnsToItsLevelAfterTenFailovers(@TempDir Path tmp) throws Exception {
        Configuration config = FlinkConfigFiles.load(FlinkConfigFiles.findInRepository("flink-conf-cluster.yaml"));
        config.setString("taskmanager.numberOfTaskSlots", "1");
        config.setString("taskmanager.memory.process.size", "1g");
        config.setString("jobmanager.memory.process.size", "768m");
        config.setString("parallelism.default", "2");
        config.setString("execution.checkpointing.interval", "500ms");
        config.setString("execution.checkpointing.incremental", "true");
        config.setString("restart-strategy.type", "fixed-delay");
        config.setString("restart-strategy.fixed-delay.attempts", "1000");
        config.setString("restart-strategy.fixed-delay.delay", "500ms");
        config.setString("heartbeat.interval", "1s");
        config.setString("heartbeat.timeout", "6s");
        config.setString("env.java.opts.taskmanager", "-XX:NativeMemoryTracking=summary");
        config.setString("state.backend.zstate.page-cache-size", "4mb"); // within a 1g TaskManager's task heap
        Path lib = System.getProperty("zstate.cluster.log4j-lib") != null
                ? Path.of(System.getProperty("zstate.cluster.log4j-lib")) : null;
        LocalCluster cluster = new LocalCluster(tmp.resolve("run"), config, lib);
        boolean ok = false;
        try {
            cluster.startJobManager();
            cluster.awaitRest(Duration.ofSeconds(90));
            cluster.startTaskManager("survivor");
            cluster.startTaskManager("tm-0");
            cluster.awaitTaskManagers(2, Duration.ofSeconds(90));

            // 200,000 keys at 20,000 events/s: the state is whole after 10 s; the job outlives the test
            StreamExecutionEnvironment env = StreamExecutionEnvironment.createRemoteEnvironment(
                    "localhost", cluster.restPort(), cluster.configuration());
            new EventCounterJob().build(env, new JobSize(200_000, 1_000_000_000L, 20_000)).sinkTo(
                    new org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink<>());
            JobClient client = env.executeAsync("zstate failover leak test");
            JobID job = client.getJobID();
            awaitCheckpoints(cluster, job, 12); // the state whole, the JIT warm

            long survivor = cluster.process("survivor").pid();
            List<String> lines = new ArrayList<>();
            Memory first = null;
            for (int i = 1; i <= FAILOVERS; i++) {
                long restoredBefore = restores(cluster, job);
                cluster.kill("tm-" + (i - 1));
                cluster.startTaskManager("tm-" + i);
                awaitRestore(cluster, job, restoredBefore);
                awaitCheckpoints(cluster, job, completed(cluster, job) + 6); // settled after the restore
                Memory now = Memory.of(survivor);
                lines.add(String.format("failover %2d: %s", i, now));
                if (i == 1) {
                    first = now;
                }
            }
            Memory last = Memory.of(survivor);
            String report = String.join("\n", lines);
            System.out.println(report);
            assertThat(last.committed()).as("the survivor's committed native memory after %d failovers, against"
                    + " after the first (NMT, the heap excluded)\n%s", FAILOVERS, report)
                    .isLessThanOrEqualTo(first.committed() + (48L << 20));
            assertThat(last.other()).as("NMT 'Other' (Unsafe allocations: zstate's pool arenas)\n%s", report)
                    .isLessThanOrEqualTo(first.other() + (8L << 20));
            assertThat(last.rss()).as("the survivor's RSS\n%s", report)
                    .isLessThanOrEqualTo(first.rss() + (96L << 20));
            client.cancel().get(60, TimeUnit.SECONDS);
            ok = true;
        } finally {
            if (!ok) {
                System.out.println(cluster.tails(40));
            }
            cluster.close();
        }
    }

    /** A process's memory: NMT committed outside the heap, NMT "Other", and RSS (bytes). */
    record Memory(long committed, long other, long rss) {

        static Memory of(long pid) throws Exception {
            Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    Long.toString(pid), "VM.native_memory", "summary").redirectErrorStream(true).start();
            String out = new String(jcmd.getInputStream().readAllBytes());
            jcmd.waitFor(30, TimeUnit.SECONDS);
            long total = kib(out, "Total: reserved=\\d+KB, committed=(\\d+)KB");
            long heap = kib(out, "Java Heap \\(reserved=\\d+KB, committed=(\\d+)KB\\)");
            long other = kib(out, "Other \\(reserved=\\d+KB, committed=(\\d+)KB\\)");
            return new Memory(total - heap, other, LocalCluster.residentBytes(pid));
        }

        private static long kib(String out, String pattern) {
            Matcher m = Pattern.compile(pattern).matcher(out);
            if (!m.find()) {
                throw new IllegalStateException("jcmd VM.native_memory printed no '" + pattern + "':\n" + out);
            }
            return Long.parseLong(m.group(1)) << 10;
        }

        @Override
        public String toString() {
            return String.format("native (NMT, heap excluded) %d MiB, of it Other %d MiB; RSS %d MiB",
                    committed >> 20, other >> 20, rss >> 20);
        }
    }

    private static long completed(LocalCluster cluster, JobID job) {
        JsonNode checkpoints = cluster.get("/jobs/" + job + "/checkpoints");
        return checkpoints == null ? 0 : checkpoints.path("counts").path("completed").asLong();
    }

    private static long restores(LocalCluster cluster, JobID job) {
        JsonNode checkpoints = cluster.get("/jobs/" + job + "/checkpoints");
        return checkpoints == null ? 0 : checkpoints.path("counts").path("restored").asLong();
    }

    private static void awaitCheckpoints(LocalCluster cluster, JobID job, long count) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (completed(cluster, job) < count) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("fewer than " + count + " checkpoints completed in 120 s");
            }
            cluster.checkAlive();
            Thread.sleep(200);
        }
    }

    private static void awaitRestore(LocalCluster cluster, JobID job, long before) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (restores(cluster, job) <= before) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the job did not restore within 120 s");
            }
            Thread.sleep(200);
        }
    }
}

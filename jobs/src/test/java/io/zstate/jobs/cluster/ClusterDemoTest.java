package io.zstate.jobs.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The cluster demo end to end: a JobManager and two TaskManagers as separate JVMs, the event
 * counter with zstate, a TaskManager killed with SIGKILL after a completed checkpoint; the job
 * must restart from that checkpoint on the survivor, finish, and count every key exactly once.
 */
class ClusterDemoTest {

    @Test
    void theJobRecoversFromACheckpointAfterATaskManagerIsKilled(@TempDir Path tmp) throws Exception {
        run(tmp, 2000, "--kill-after-checkpoints", "1");
    }

    /**
     * The same with incremental checkpoints, killed after three; consolidation is put off (a
     * ratio of 100), so every checkpoint after the first is a delta and the restore reads a base
     * and deltas (the checkpoint restored from wrote less than the state it refers to).
     */
    @Test
    void theJobRecoversFromAnIncrementalCheckpointAfterATaskManagerIsKilled(@TempDir Path tmp) throws Exception {
        String out = run(tmp, 20000, "--incremental", "--kill-after-checkpoints", "3",
                "-Dstate.backend.zstate.incremental.consolidate-ratio=100");
        assertThat(out).contains("checkpoints: incremental");
        java.util.regex.Matcher kill = java.util.regex.Pattern
                .compile("checkpoint \\d+ completed \\(([0-9.,]+ [KMG]?i?B), of which it wrote ([0-9.,]+ [KMG]?i?B)\\)")
                .matcher(out);
        assertThat(kill.find()).as(out).isTrue();
        assertThat(kill.group(2)).as("what the restored checkpoint wrote, against the state it refers to")
                .isNotEqualTo(kill.group(1));
    }

    private static String run(Path tmp, int keys, String... extra) throws Exception {
        Path runDir = tmp.resolve("run");
        ClusterDemo demo = new ClusterDemo();
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int exit;
        List<ProcessHandle> leftover;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            List<String> args = new java.util.ArrayList<>(List.of(
                    "--keys", Integer.toString(keys), "--events", "60000", "--rate", "5000", "--checkpoint-interval", "1s",
                    "--run-dir", runDir.toString(), "--keep", "--timeout", "120s"));
            args.addAll(List.of(extra));
            exit = new CommandLine(demo).execute(args.toArray(String[]::new));
            leftover = clusterProcesses(runDir);
        } finally {
            System.setOut(original);
            killLeftovers(runDir);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        System.out.println(out);

        assertThat(exit).as(out).isZero();
        ClusterDemo.Outcome outcome = demo.outcome();
        assertThat(outcome).as(out).isNotNull();
        assertThat(outcome.killed()).as("a TaskManager was killed").isTrue();
        assertThat(outcome.killedTaskManager()).isIn("tm-1", "tm-2");
        assertThat(outcome.restoredCheckpoint()).as("restored from a checkpoint after the kill").isNotNull().isPositive();
        assertThat(outcome.states()).as("job states").contains("RUNNING").last().isEqualTo("FINISHED");
        assertThat(outcome.finalState()).isEqualTo("FINISHED");
        assertThat(outcome.verdict().correct()).as(outcome.verdict().summary()).isTrue();
        assertThat(out).contains("state backend     zstate")
                .contains("restored from checkpoint " + outcome.restoredCheckpoint())
                .contains(String.format(java.util.Locale.ROOT, "%,d of %,d keys counted exactly: correct", keys, keys));
        assertThat(leftover).as("cluster processes alive after the demo").isEmpty();
        return out;
    }

    /** Processes started for this run directory (their command line names its conf/). */
    private static List<ProcessHandle> clusterProcesses(Path runDir) {
        String conf = runDir.resolve("conf").toString();
        return ProcessHandle.current().descendants()
                .filter(p -> p.info().commandLine().map(c -> c.contains(conf)).orElse(false))
                .filter(ProcessHandle::isAlive)
                .toList();
    }

    private static void killLeftovers(Path runDir) {
        for (ProcessHandle process : clusterProcesses(runDir)) {
            process.destroyForcibly();
        }
    }
}

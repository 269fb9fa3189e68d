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
        Path runDir = tmp.resolve("run");
        ClusterDemo demo = new ClusterDemo();
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int exit;
        List<ProcessHandle> leftover;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            exit = new CommandLine(demo).execute(
                    "--keys", "2000", "--events", "60000", "--rate", "5000", "--checkpoint-interval", "1s",
                    "--run-dir", runDir.toString(), "--keep", "--timeout", "120s");
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
                .contains("2,000 of 2,000 keys counted exactly: correct");
        assertThat(leftover).as("cluster processes alive after the demo").isEmpty();
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

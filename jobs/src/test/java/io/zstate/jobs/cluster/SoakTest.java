package io.zstate.jobs.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The soak command end to end at a toy size (the real one runs behind {@code -Psoak}): one
 * backend on the standalone cluster, a TaskManager killed after a checkpoint, the result
 * judged; its report holds the table and the four charts, and its CSV files hold samples of
 * records and TaskManager memory (RSS, heap, direct, managed) over time and the checkpoint
 * history.
 */
class SoakTest {

    @Test
    void samplesAndChartsARunWithATaskManagerKilled(@TempDir Path out) throws Exception {
        int exit = new CommandLine(new Soak()).execute("--backends", "zstate", "--keys", "20000", "--events", "60000",
                "--rate", "5000", "--checkpoint-interval", "1s", "--kill-after-checkpoints", "2", "--min-ratio", "0",
                "--timeout", "120s", "--out", out.toString());
        assertThat(exit).isZero();
        String html = Files.readString(out.resolve("soak.html"));
        assertThat(html).contains("correct").contains("Records per second").contains("resident memory")
                .contains("Checkpoint sizes");
        assertThat(html.split("<svg", -1)).hasSize(5);
        List<String> samples = Files.readAllLines(out.resolve("soak-zstate.csv"));
        assertThat(samples.size()).as("samples, one a second, over a run of about 12 s").isGreaterThan(5);
        List<long[]> rows = samples.stream().skip(1)
                .map(line -> java.util.Arrays.stream(line.split(",")).skip(1).mapToLong(Long::parseLong).toArray())
                .toList();
        // the metric starts again at 0 after the restart and lags 2 s: some samples, not all, see records
        assertThat(rows).as("a sample that saw records").anyMatch(r -> r[0] > 0);
        assertThat(rows).as("a sample with the killed TaskManager's RSS at 0, the other's above")
                .anyMatch(r -> (r[1] == 0) != (r[5] == 0));
        assertThat(rows).as("a sample with a TaskManager's heap and managed memory in use reported")
                .anyMatch(r -> r[2] > 0 && r[4] > 0 || r[6] > 0 && r[8] > 0);
        List<String> checkpoints = Files.readAllLines(out.resolve("soak-checkpoints-zstate.csv"));
        assertThat(checkpoints.stream().filter(line -> line.contains(",COMPLETED,")).count())
                .as("completed checkpoints in the history").isGreaterThanOrEqualTo(2);
    }
}

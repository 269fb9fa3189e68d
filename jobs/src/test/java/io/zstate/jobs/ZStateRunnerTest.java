package io.zstate.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The runner runs the counter job on each backend and the job checks its own result. */
class ZStateRunnerTest {

    @Test
    void countsEveryEventExactlyOnceOnEachBackend() {
        for (String backend : new String[] {"zstate", "rocksdb", "rocksdb-tuned", "forst", "hashmap"}) {
            PrintStream original = System.out;
            ByteArrayOutputStream captured = new ByteArrayOutputStream();
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            int exit;
            try {
                exit = new CommandLine(new ZStateRunner()).execute(
                        "--backend", backend, "--keys", "2000", "--events", "20000", "--managed-memory", "64mb");
            } finally {
                System.setOut(original);
            }
            String out = captured.toString(StandardCharsets.UTF_8);
            assertThat(exit).as(out).isZero();
            assertThat(out).contains("2,000 of 2,000 keys counted exactly: correct");
            if (backend.equals("zstate")) {
                assertThat(out).contains("zstate tiers");
            }
        }
    }

    @Test
    void summaryHasCheckpointAndMemoryLinesAndJsonHasTheSameFigures(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("run.json");
        // rate-limited to about 3 s so that checkpoints every 300 ms complete
        String out = run("--backend", "zstate", "--keys", "2000", "--events", "15000", "--rate", "5000",
                "--checkpoint-interval", "300ms", "--managed-memory", "64mb", "--json", json.toString());
        assertThat(out)
                .containsPattern("checkpoints +[0-9,]+ completed, [0-9,]+ failed"
                        + "(, [0-9,]+ declined as tasks started or finished \\(not failures\\))? \\(every 300 ms\\); "
                        + "end-to-end min [0-9.]+ m?s, avg [0-9.]+ m?s, max [0-9.]+ m?s")
                .containsPattern("state size +[0-9.]+ [KM]iB \\(last completed checkpoint\\)")
                .containsPattern("checkpoint size +last [0-9.]+ [KM]iB checkpointed of [0-9.]+ [KM]iB state")
                .containsPattern("memory +peak heap [0-9.]+ [KMG]iB \\(of -Xmx [0-9.]+ [KMG]iB\\), "
                        + "peak direct [0-9.]+ [KMG]?i?B, peak RSS ")
                .contains("zstate tiers");

        RunResult result = RunResult.read(json);
        assertThat(result.backend()).isEqualTo("zstate");
        assertThat(result.job()).isEqualTo("counter");
        assertThat(result.correct()).isTrue();
        assertThat(result.events()).isEqualTo(15000);
        assertThat(result.recordsPerSecond()).isPositive();
        assertThat(result.checkpoints().intervalMillis()).isEqualTo(300);
        assertThat(result.checkpoints().completed()).isPositive();
        assertThat(result.checkpoints().lastStateBytes()).isPositive();
        assertThat(result.checkpoints().maxMillis()).isGreaterThanOrEqualTo(result.checkpoints().avgMillis());
        assertThat(result.memory().peakHeapBytes()).isPositive();
        assertThat(result.zstate()).isNotNull();
        assertThat(result.zstate().cacheHits()).isPositive();
        if (System.getProperty("os.name").startsWith("Linux")) {
            assertThat(result.memory().peakRssBytes()).isGreaterThan(result.memory().peakHeapBytes() / 2);
        }
        assertThat(out).contains(String.format("%,d completed", result.checkpoints().completed()));
        assertThat(result.checkpoints().history()).as("every completed checkpoint")
                .hasSize((int) result.checkpoints().completed());
        assertThat(out).contains("per checkpoint    written of state, end to end")
                .containsPattern("  #[0-9]+ +[0-9.]+ [KM]?i?B of [0-9.]+ [KM]?i?B, [0-9.]+ m?s");

        // and back: what was read writes the same record again
        Path again = dir.resolve("again.json");
        result.write(again);
        assertThat(RunResult.read(again)).isEqualTo(result);
    }

    /**
     * With --incremental, zstate writes deltas: some checkpoint wrote less than the state it
     * refers to (2,000 keys, 600 events between checkpoints: a delta holds at most those keys).
     */
    @Test
    void withIncrementalCheckpointsSomeCheckpointWritesLessThanItsState(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("run.json");
        String out = run("--backend", "zstate", "--keys", "2000", "--events", "20000", "--rate", "2000",
                "--checkpoint-interval", "300ms", "--managed-memory", "64mb", "--incremental",
                "--json", json.toString());
        RunResult result = RunResult.read(json);
        assertThat(result.correct()).as(out).isTrue();
        assertThat(result.checkpoints().history()).as(out)
                .anyMatch(c -> c.checkpointedBytes() > 0 && c.checkpointedBytes() < c.stateBytes() / 2);
    }

    @Test
    void withoutCheckpointsTheSummarySaysSoAndOtherBackendsHaveNoZStateFigures(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("run.json");
        String out = run("--backend", "hashmap", "--keys", "1000", "--events", "5000", "--checkpoint-interval", "0",
                "--managed-memory", "64mb", "--json", json.toString());
        assertThat(out).contains("checkpoints       off").contains("state size        n/a");
        RunResult result = RunResult.read(json);
        assertThat(result.checkpoints().completed()).isZero();
        assertThat(result.checkpoints().lastStateBytes()).isEqualTo(-1);
        assertThat(result.zstate()).isNull();
    }

    private static String run(String... args) {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = new CommandLine(new ZStateRunner()).execute(args);
        } finally {
            System.setOut(original);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertThat(exit).as(out).isZero();
        return out;
    }

    @Test
    void anUnknownBackendIsRefusedNamingTheChoices() {
        CommandLine cli = new CommandLine(new ZStateRunner());
        cli.setErr(new java.io.PrintWriter(new java.io.StringWriter()));
        assertThat(cli.execute("--backend", "memory")).isNotZero();
    }

    /** The runner starts from a Flink YAML file: an invalid zstate option in it fails the run, by name. */
    @Test
    void theConfigurationFileReachesTheStateBackend(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = dir.resolve("zstate.yaml");
        java.nio.file.Files.writeString(file, "state.backend.zstate.page-size: 3kb\n");
        PrintStream originalErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        RunnerHarness.Run run;
        try {
            run = RunnerHarness.run("--config", file.toString(), "--keys", "100", "--events", "1000",
                    "--checkpoint-interval", "0");
        } finally {
            System.setErr(originalErr);
        }
        assertThat(run.out()).contains("configuration: " + file.toAbsolutePath().normalize());
        assertThat(run.exit()).isNotZero();
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("state.backend.zstate.page-size");
    }

    @Test
    void theRepositorysEmbeddedConfigurationIsTheDefault() {
        RunnerHarness.Run run = RunnerHarness.run("--keys", "100", "--events", "1000", "--checkpoint-interval", "0",
                "--backend", "hashmap");
        assertThat(run.exit()).as(run.out()).isZero();
        assertThat(run.out()).contains("conf/flink-conf-embedded.yaml (the options above win over it)");
    }
}

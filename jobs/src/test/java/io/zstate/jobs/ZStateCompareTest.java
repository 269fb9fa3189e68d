package io.zstate.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The compare command forks a runner JVM per backend and reports them side by side. */
class ZStateCompareTest {

    private record Outcome(int exit, String out) {}

    private static Outcome compare(String... args) {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = new CommandLine(new ZStateCompare()).execute(args);
        } finally {
            System.setOut(original);
        }
        return new Outcome(exit, captured.toString(StandardCharsets.UTF_8));
    }

    @Test
    void runsEachBackendInItsOwnJvmAndWritesTableAndCharts(@TempDir Path dir) throws Exception {
        Path html = dir.resolve("compare.html");
        // rate-limited to about 1.5 s a run so that checkpoints every 200 ms complete
        // a preset fills only the options not given: here every one is given
        Outcome run = compare("--preset", "larger-than-memory", "--keys", "1000", "--events", "6000", "--rate", "4000",
                "--checkpoint-interval", "200ms", "--managed-memory", "64mb", "--heap", "384m", "--direct-memory", "256m",
                "--out", html.toString());
        String out = run.out();
        assertThat(run.exit()).as(out).isZero();

        // the children's lines, prefixed by backend
        assertThat(out).contains("[zstate ] == summary ==", "[rocksdb] == summary ==", "[hashmap] == summary ==");
        // the table: a column per backend, the same JVM settings for all
        assertThat(out).contains("each backend in a JVM of its own, all with -Xmx384m -XX:MaxDirectMemorySize=256m")
                .containsPattern("\\n +zstate +rocksdb +hashmap\\n")
                .containsPattern("\\nresult +correct +correct +correct\\n")
                .containsPattern("\\nvs zstate +1\\.00x +[0-9.]+x +[0-9.]+x\\n");
        assertThat(out).contains("== compare: preset larger-than-memory: job counter, 6,000 events over 1,000 keys")
                .containsPattern("zstate's swap device \\(RocksDB\\) was (not )?used");
        for (String row : List.of("records/s", "wall time", "checkpoints", "checkpoint avg", "checkpoint max",
                "state size (last cp)", "written per checkpoint", "peak RSS", "peak heap", "peak RSS per key",
                "peak direct", "zstate compression")) {
            assertThat(out).containsPattern("\\n" + Pattern.quote(row) + " {2,}");
        }
        List<String> recordsPerSecond = cells(out, "records/s");
        List<String> stateSizes = cells(out, "state size (last cp)");
        assertThat(recordsPerSecond).hasSize(3).allMatch(cell -> cell.matches("[0-9,]+"));
        assertThat(stateSizes).hasSize(3).allMatch(cell -> cell.matches("[0-9.]+ [KM]iB"));

        // the page: a chart per figure, with every backend's numbers
        assertThat(out).contains("chart: " + html.toAbsolutePath());
        String page = Files.readString(html);
        assertThat(Pattern.compile("<svg ").matcher(page).results().count()).isEqualTo(5);
        assertThat(page).contains("Throughput", "Checkpoint duration", "Checkpoint size", "Peak memory",
                        "Memory per state entry")
                .contains(recordsPerSecond)
                .contains(stateSizes)
                .contains(">zstate<", ">rocksdb<", ">hashmap<")
                .doesNotContain("<script", "http://", "https://");
    }

    @Test
    void aFailingRunMakesCompareFail(@TempDir Path dir) throws Exception {
        Path html = dir.resolve("compare.html");
        // the runner, not compare, parses the memory size: its JVM fails at once
        Outcome run = compare("--backends", "hashmap", "--keys", "100", "--events", "100",
                "--managed-memory", "lots", "--heap", "256m", "--out", html.toString());
        assertThat(run.exit()).as(run.out()).isNotZero();
        assertThat(run.out()).containsPattern("\\nresult +FAILED \\(exit [1-9][0-9]*\\)\\n")
                .contains("not every run succeeded: hashmap FAILED");
        assertThat(Files.readString(html)).contains("failed");
    }

    @Test
    void anUnknownBackendIsRefusedBeforeAnythingRuns() {
        CommandLine cli = new CommandLine(new ZStateCompare());
        cli.setErr(new java.io.PrintWriter(new java.io.StringWriter()));
        assertThat(cli.execute("--backends", "zstate,memory")).isNotZero();
    }

    /** The cells of the table row {@code label}, one per backend. */
    private static List<String> cells(String out, String label) {
        Matcher row = Pattern.compile("\\n" + Pattern.quote(label) + " {2,}(.*)\\n").matcher(out);
        assertThat(row.find()).as(out).isTrue();
        return Arrays.asList(row.group(1).trim().split(" {2,}"));
    }

    @Test
    void aRunPastTheTimeoutIsStoppedAndReportedWithHowFarItGot(@TempDir Path dir) throws Exception {
        Path html = dir.resolve("compare.html");
        // 100,000 events at 500 a second would take minutes
        long started = System.nanoTime();
        Outcome run = compare("--backends", "hashmap", "--keys", "1000", "--events", "100000", "--rate", "500",
                "--timeout", "12s", "--heap", "256m", "--out", html.toString());
        assertThat(System.nanoTime() - started).as("stopped, not run to the end").isLessThan(60_000_000_000L);
        assertThat(run.exit()).as(run.out()).isNotZero();
        assertThat(run.out()).containsPattern(
                "\\nresult +stopped at 12 s: [0-9,]+ events in [0-9]+ s, [0-9,]+ records/s\\n");
        assertThat(CompareReport.stoppedAt(java.time.Duration.ofMinutes(20), "  42.0 s: 84,000 events processed (2,000/s)"))
                .isEqualTo("stopped at 20 min: 84,000 events in 42 s, 2,000 records/s");
        assertThat(CompareReport.stoppedAt(java.time.Duration.ofMinutes(20), null))
                .isEqualTo("stopped at 20 min, before its first progress line");
    }

    @Test
    void anUnknownPresetNamesTheKnownOnesAndAnOutOfMemoryRunIsAResult() {
        Outcome run = compare("--preset", "huge");
        assertThat(run.exit()).isEqualTo(2);
        CompareReport.Run oom = new CompareReport.Run("hashmap", 1, null,
                "out of memory (Java heap space, -Xmx2g)");
        assertThat(oom.outcome()).isEqualTo("FAILED: out of memory (Java heap space, -Xmx2g)");
        assertThat(oom.succeeded()).isFalse();
    }
}

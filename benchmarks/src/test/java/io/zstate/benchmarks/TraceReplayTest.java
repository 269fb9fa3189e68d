package io.zstate.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The shipped SQL-join trace replays on every allocator and the report has a row for each. */
class TraceReplayTest {

    @TempDir
    Path dir;

    @Test
    void theShippedTraceReplaysOnEveryAllocator() throws Exception {
        Path report = dir.resolve("replay.md");
        int exit = new CommandLine(new TraceReplay()).execute(
                "--report", report.toString(), "src/main/traces/sql-join-30k-orders.trace.gz");
        assertThat(exit).isZero();
        List<String> lines = Files.readAllLines(report);
        for (String allocator : List.of("zbud", "z3fold", "zlog", "xcfmalloc", "zsmalloc")) {
            assertThat(lines).anyMatch(l -> l.startsWith("| " + allocator + " |"));
        }
        assertThat(lines).anyMatch(l -> l.contains("119,920 events") && l.contains("68,301 checkpoint copies"));
    }
}

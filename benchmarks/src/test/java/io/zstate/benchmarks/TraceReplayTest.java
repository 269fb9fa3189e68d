package io.zstate.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The replay simulator: the shipped SQL-join trace replays on every allocator; the grid of chain
 * and frame sizes gives a row and a time series for each pool; the kernel distribution is the one
 * cited; bad grid values are refused with a message.
 */
class TraceReplayTest {

    @TempDir
    Path dir;

    @Test
    void theShippedTraceReplaysOnEveryAllocator() throws Exception {
        Path report = dir.resolve("replay.md");
        int exit = new CommandLine(new TraceReplay()).execute(
                "--report", report.toString(), "--series", dir.resolve("series.csv").toString(),
                "src/main/traces/sql-join-30k-orders.trace.gz");
        assertThat(exit).isZero();
        List<String> lines = Files.readAllLines(report);
        for (String allocator : List.of("zbud", "z3fold", "zlog", "xcfmalloc", "zsmalloc/8")) {
            assertThat(lines).anyMatch(l -> l.startsWith("| " + allocator + " | 4,096 |"));
        }
        assertThat(lines).anyMatch(l -> l.contains("119,920 events") && l.contains("68,301 checkpoint copies"));
    }

    @Test
    void theGridReplaysEveryChainAtEveryFrameSizeAndWritesTheSeries() throws Exception {
        Path report = dir.resolve("grid.md");
        Path series = dir.resolve("grid.csv");
        int exit = new CommandLine(new TraceReplay()).execute("--report", report.toString(), "--series",
                series.toString(), "--allocators", "zlog,zsmalloc", "--chains", "4,16", "--frame-sizes", "4096,16384",
                "--sample-every", "1000", "--budget-fraction", "4", "--synthetic", "magenheimer2013",
                "--synthetic-objects", "2000");
        assertThat(exit).isZero();
        List<String> lines = Files.readAllLines(report);
        for (String frame : List.of("4,096", "16,384")) {
            for (String pool : List.of("zlog", "zsmalloc/4", "zsmalloc/16")) {
                assertThat(lines).filteredOn(l -> l.startsWith("| " + pool + " | " + frame + " |")).hasSize(2);
            }
        }
        assertThat(lines).noneMatch(l -> l.startsWith("| zsmalloc/8 "));
        assertThat(lines).anyMatch(l -> l.startsWith("Utilization over the trace"));
        // 2,000 + 1,000 stores, 2,000 + 1,500 + 750 reads... 11,000 events: a sample every 1,000
        List<String> csv = Files.readAllLines(series);
        assertThat(csv.get(0)).isEqualTo("trace,frame_size,allocator,events,utilization,frames_held,swap_ins,evicted");
        assertThat(csv).filteredOn(l -> l.contains(",16384,zsmalloc/4,")).hasSize(11);
        assertThat(csv).filteredOn(l -> l.contains(",4096,zlog,")).hasSize(11);
        // budget of four times the peak: nothing evicted, and zsmalloc's compaction moves objects
        String row = lines.stream().filter(l -> l.startsWith("| zsmalloc/16 | 4,096 |")).findFirst().orElseThrow();
        String[] cells = row.split("\\|");
        assertThat(cells[6].trim()).isEqualTo("0"); // evicted
        assertThat(Long.parseLong(cells[18].trim().replace(",", ""))).isPositive(); // objects moved
        assertThat(Double.parseDouble(cells[17].trim().replace("%", "")))
                .isGreaterThan(Double.parseDouble(cells[16].trim().replace("%", ""))); // after compact > at end
    }

    @Test
    void aCutTraceHoldsTheFirstEventsAndReplays() throws Exception {
        Path cut = dir.resolve("cut.trace.gz");
        assertThat(new CommandLine(new TraceReplay()).execute("--cut", "5000", "--cut-output", cut.toString(),
                "src/main/traces/sql-join-30k-orders.trace.gz")).isZero();
        Path report = dir.resolve("cut.md");
        assertThat(new CommandLine(new TraceReplay()).execute("--report", report.toString(), "--series",
                dir.resolve("cut.csv").toString(), "--allocators", "zsmalloc", cut.toString())).isZero();
        assertThat(Files.readAllLines(report)).anyMatch(l -> l.startsWith("5,000 events"));
    }

    @Test
    void badChainsAndFrameSizesAreRefusedWithTheAllowedValues() {
        Map<List<String>, String> cases = new java.util.LinkedHashMap<>();
        cases.put(List.of("--chains", "3"), "use 4 to 16");
        cases.put(List.of("--frame-sizes", "8000"), "powers of two");
        cases.put(List.of("--frame-sizes", "131072"), "powers of two");
        cases.put(List.of("--allocators", "slab"), "use some of");
        cases.put(List.of("--cut", "0", "--cut-output", dir.resolve("cut.gz").toString()), "go together");
        cases.put(List.of("--cut", "-5"), "go together");
        cases.forEach((args, message) -> {
            StringWriter err = new StringWriter();
            CommandLine cl = new CommandLine(new TraceReplay());
            cl.setErr(new PrintWriter(err));
            List<String> all = new java.util.ArrayList<>(args);
            all.addAll(List.of("--report", dir.resolve("bad.md").toString(), "--synthetic", "magenheimer2013",
                    "--synthetic-objects", "10"));
            assertThat(cl.execute(all.toArray(String[]::new))).as("%s", args).isNotZero();
            assertThat(err.toString()).as("%s", args).contains(message);
        });
    }

    @Test
    void theKernelDistributionHasTheCitedMoments() {
        SplittableRandom random = new SplittableRandom(1);
        int n = 400_000;
        double sum = 0;
        double squares = 0;
        int zero = 0;
        for (int i = 0; i < n; i++) {
            int s = KernelSizeTrace.Distribution.magenheimer2013.draw(random);
            sum += s;
            squares += (double) s * s;
            zero += s == 28 ? 1 : 0;
        }
        double mean = sum / n;
        double sd = Math.sqrt(squares / n - mean * mean);
        assertThat(mean).isBetween(684.0, 704.0); // published 694
        assertThat(sd).isBetween(464.0, 484.0); // published 474
        assertThat((double) zero / n).isBetween(0.105, 0.115); // published 11%
    }
}

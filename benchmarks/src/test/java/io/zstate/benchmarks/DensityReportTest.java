package io.zstate.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The density report on a small store: every lever gets its row, LZ4 a page (today) is the
 * baseline, the pages hold every entry loaded (the report refuses otherwise), and the
 * dictionaries are trained on pages left out of the measurement.
 */
class DensityReportTest {

    @Test
    void everyLeverIsMeasuredAgainstLz4APage() throws Exception {
        PrintStream out = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            exit = new CommandLine(new DensityReport()).execute("--keys", "20000", "--dictionary-bytes", "4096");
        } finally {
            System.setOut(out);
        }
        assertThat(exit).isZero();
        List<String> lines = Arrays.asList(captured.toString(StandardCharsets.UTF_8).split("\n"));
        assertThat(lines).anyMatch(l -> l.startsWith("# 20,000 ValueState<Long> entries"));
        // the report checks that the pages hold every entry loaded; the dictionaries' pages are left out
        assertThat(lines).anyMatch(l -> l.startsWith("# dictionaries trained on") && l.contains("(every 10th)"));
        assertThat(lines).anyMatch(l -> l.startsWith("| LZ4 a page (today) |") && l.contains("| 1.00x |"));
        assertThat(lines.stream().filter(l -> l.startsWith("| LZ4") || l.startsWith("| zstd"))).hasSize(11);
        double lz4 = bytesPerEntry(lines, "| LZ4 a page (today) |");
        double leanest = bytesPerEntry(lines, "| zstd-3 a page, dictionary, slots without hashes |");
        assertThat(lz4).isBetween(10.0, 40.0); // raw, an entry takes 24 bytes and its slot 8
        assertThat(leanest).isLessThan(lz4);
    }

    private static double bytesPerEntry(List<String> lines, String row) {
        String line = lines.stream().filter(l -> l.startsWith(row)).findFirst().orElseThrow();
        return Double.parseDouble(line.substring(row.length()).split("\\|")[0].trim());
    }
}

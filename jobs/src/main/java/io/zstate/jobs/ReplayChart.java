package io.zstate.jobs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The allocator replay's utilization over time as an SVG chart ({@link LineChart}): reads the
 * series CSV that {@code TraceReplay --series} writes (trace, frame size, pool, events so far,
 * utilization, frames held, swap-ins, evicted) and draws one line per pool for one trace and frame
 * size. For {@code docs/allocator.md}:
 *
 * <pre>
 *   mvn -q -DskipTests -Ptrace-replay verify -Dreplay.args="--chains 4,8,16"
 *   java -cp jobs/target/classes io.zstate.jobs.ReplayChart benchmarks/target/trace-replay-series.csv \
 *       counter-100k-keys.trace.gz 4096 docs/allocator-counter-100k-keys-utilization.svg
 * </pre>
 */
public final class ReplayChart {

    private ReplayChart() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            System.err.println("usage: ReplayChart <series.csv> <trace file name> <frame size> <out.svg>");
            System.exit(2);
        }
        String svg = svg(Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8), args[1], Integer.parseInt(args[2]));
        Files.writeString(Path.of(args[3]), svg, StandardCharsets.UTF_8);
        System.out.println("chart written to " + args[3]);
    }

    /**
     * The chart of one trace at one frame size from the CSV's lines.
     *
     * @throws IllegalArgumentException if no line is of that trace and frame size
     */
    static String svg(List<String> csv, String trace, int frameSize) {
        Map<String, List<double[]>> byPool = new LinkedHashMap<>();
        for (String line : csv) {
            String[] f = line.split(",");
            if (f.length < 5 || !f[0].equals(trace) || !f[1].equals(Integer.toString(frameSize))) {
                continue;
            }
            byPool.computeIfAbsent(f[2], pool -> new ArrayList<>())
                    .add(new double[] {Double.parseDouble(f[3]), 100 * Double.parseDouble(f[4])});
        }
        if (byPool.isEmpty()) {
            throw new IllegalArgumentException("no samples of trace " + trace + " at frame size " + frameSize
                    + " in the series: run the replay with that trace and frame size");
        }
        List<LineChart.Series> series = new ArrayList<>();
        byPool.forEach((pool, points) -> series.add(new LineChart.Series(pool, pool, false, points)));
        return LineChart.svg("Pool utilization over the trace: " + trace + ", " + frameSize + "-byte frames",
                "events replayed", series, x -> String.format(Locale.ROOT, "%,.0f events", x),
                y -> String.format(Locale.ROOT, "%.0f%%", y));
    }
}

package io.zstate.jobs;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * The compare command's output: a text table with the backends side by side, and a
 * self-contained HTML page (inline SVG bar charts and the same table; no scripts, nothing
 * fetched).
 */
final class CompareReport {

    private CompareReport() {}

    /** What every run of one comparison shared. */
    record Settings(String job, long keys, long events, int parallelism, String managedMemory,
            String checkpointInterval, double rate, String heap, String directMemory, String preset) {

        String describe() {
            return String.format(Locale.ROOT, "%sjob %s, %,d events over %,d keys, parallelism %d, managed memory %s, "
                            + "checkpoints every %s%s", preset == null ? "" : "preset " + preset + ": ", job, events,
                    keys, parallelism, managedMemory, checkpointInterval,
                    rate > 0 ? String.format(Locale.ROOT, ", source rate %,.0f/s", rate) : "");
        }

        String jvm() {
            return "-Xmx" + heap + " -XX:MaxDirectMemorySize=" + directMemory;
        }
    }

    /**
     * One backend's run.
     *
     * @param backend the backend
     * @param exitCode the runner JVM's exit code
     * @param result what the runner wrote, null if it wrote nothing (it failed)
     * @param failure why it failed, as far as its output says (out of memory), or null
     */
    record Run(String backend, int exitCode, RunResult result, String failure) {

        Run(String backend, int exitCode, RunResult result) {
            this(backend, exitCode, result, null);
        }

        boolean succeeded() {
            return exitCode == 0 && result != null && result.correct();
        }

        String outcome() {
            if (result == null) {
                if (failure != null && failure.startsWith(STOPPED)) {
                    return failure; // not a failure of the backend: the run's time limit
                }
                return failure != null ? "FAILED: " + failure : "FAILED (exit " + exitCode + ")";
            }
            return result.correct() ? (exitCode == 0 ? "correct" : "exit " + exitCode) : "WRONG";
        }
    }

    static final String STOPPED = "stopped at ";

    /**
     * The outcome of a run stopped at its time limit: how far its last progress line (the
     * runner's "T s: N events processed (R/s)") says it got.
     */
    static String stoppedAt(java.time.Duration limit, String lastProgress) {
        String when = STOPPED + org.apache.flink.util.TimeUtils.formatWithHighestUnit(limit);
        if (lastProgress == null) {
            return when + ", before its first progress line";
        }
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("([0-9.]+) s: ([0-9,]+) events processed").matcher(lastProgress);
        if (!m.find()) {
            return when;
        }
        double seconds = Double.parseDouble(m.group(1));
        long events = Long.parseLong(m.group(2).replace(",", ""));
        return String.format(Locale.ROOT, "%s: %,d events in %.0f s, %s records/s", when, events, seconds,
                Units.count(seconds > 0 ? events / seconds : 0));
    }

    /** A line of the table: its label and how a run's cell reads. */
    private record Row(String label, Function<Run, String> cell) {}

    private static List<Row> rows(List<Run> runs) {
        RunResult zstate = runs.stream()
                .filter(run -> run.backend().equals("zstate") && run.result() != null)
                .map(Run::result)
                .findFirst()
                .orElse(null);
        List<Row> rows = new ArrayList<>();
        rows.add(new Row("records/s", result(r -> Units.count(r.recordsPerSecond()))));
        rows.add(new Row("vs zstate", result(r -> zstate == null || zstate.recordsPerSecond() <= 0 ? "-"
                : String.format(Locale.ROOT, "%.2fx", r.recordsPerSecond() / zstate.recordsPerSecond()))));
        rows.add(new Row("wall time", result(r -> String.format(Locale.ROOT, "%.1f s", r.seconds()))));
        rows.add(new Row("result", Run::outcome));
        rows.add(new Row("checkpoints", result(r -> {
            RunResult.Checkpoints c = r.checkpoints();
            if (c.intervalMillis() == 0) {
                return "off";
            }
            return c.failed() == 0 ? String.format(Locale.ROOT, "%,d", c.completed())
                    : String.format(Locale.ROOT, "%,d (+%,d failed)", c.completed(), c.failed()); // declines left out
        })));
        rows.add(new Row("checkpoint avg", result(r -> Units.millis(r.checkpoints().avgMillis()))));
        rows.add(new Row("checkpoint max", result(r -> Units.millis(r.checkpoints().maxMillis()))));
        rows.add(new Row("state size (last cp)", result(r -> Units.bytes(r.checkpoints().lastStateBytes()))));
        rows.add(new Row("largest checkpoint", result(r -> Units.bytes(r.checkpoints().maxCheckpointedBytes()))));
        rows.add(new Row("written per checkpoint", result(r -> r.checkpoints().history().isEmpty() ? "-"
                : "avg " + Units.bytes(r.checkpoints().avgCheckpointedBytes()) + ", last "
                        + Units.bytes(r.checkpoints().lastCheckpointedBytes()))));
        rows.add(new Row("peak RSS", result(r -> Units.bytes(r.memory().peakRssBytes()))));
        rows.add(new Row("peak heap", result(r -> Units.bytes(r.memory().peakHeapBytes()))));
        rows.add(new Row("peak RSS per key", result(r -> r.memory().peakRssBytes() < 0 || r.keys() <= 0 ? "-"
                : String.format(Locale.ROOT, "%.0f B", r.memory().peakRssBytes() / (double) r.keys()))));
        rows.add(new Row("peak direct", result(r -> Units.bytes(r.memory().peakDirectBytes()))));
        rows.add(new Row("zstate cache hits", zstateCell(s -> String.format(Locale.ROOT, "%.3f", s.cacheHitRate()))));
        rows.add(new Row("zstate pool hits", zstateCell(s -> String.format(Locale.ROOT, "%.3f", s.poolHitRate()))));
        rows.add(new Row("zstate compression", zstateCell(s -> String.format(Locale.ROOT, "%.2fx", s.compressionRatio()))));
        rows.add(new Row("zstate pool held", zstateCell(s -> Units.bytes(s.poolBytesHeld()))));
        rows.add(new Row("zstate pages", zstateCell(s -> String.format(Locale.ROOT, "%,d pool/%,d spilled",
                s.poolPages(), s.spilledPages()))));
        return rows;
    }

    private static Function<Run, String> result(Function<RunResult, String> cell) {
        return run -> run.result() == null ? "-" : cell.apply(run.result());
    }

    private static Function<Run, String> zstateCell(Function<io.zstate.pagestore.PageStoreStats, String> cell) {
        return run -> run.result() == null || run.result().zstate() == null ? "-" : cell.apply(run.result().zstate());
    }

    /** The runs side by side as text, a column per backend. */
    /** Whether zstate used its swap device (RocksDB) in the run, in one line; empty without a zstate run. */
    static String swapDevice(List<Run> runs) {
        for (Run run : runs) {
            if (run.result() == null || run.result().zstate() == null) {
                continue;
            }
            io.zstate.pagestore.PageStoreStats s = run.result().zstate();
            return s.writebacks() > 0 || s.spilledPages() > 0
                    ? String.format(Locale.ROOT, "zstate's swap device (RocksDB) was used: %,d pages written back, %,d"
                            + " swapped in, %,d spilled at the end; the pool held %s%n", s.writebacks(), s.swapIns(),
                            s.spilledPages(), Units.bytes(s.poolBytesHeld()))
                    : String.format(Locale.ROOT, "zstate's swap device (RocksDB) was not used: the state fit the pool"
                            + " (%s held)%n", Units.bytes(s.poolBytesHeld()));
        }
        return "";
    }

    static String table(Settings settings, List<Run> runs) {
        List<Row> rows = rows(runs);
        int labelWidth = rows.stream().mapToInt(row -> row.label().length()).max().orElse(0) + 2;
        int[] widths = new int[runs.size()];
        for (int i = 0; i < runs.size(); i++) {
            widths[i] = runs.get(i).backend().length();
            for (Row row : rows) {
                widths[i] = Math.max(widths[i], row.cell().apply(runs.get(i)).length());
            }
            widths[i] += 2;
        }
        StringBuilder text = new StringBuilder();
        text.append("== compare: ").append(settings.describe()).append(" ==\n");
        text.append("== each backend in a JVM of its own, all with ").append(settings.jvm()).append(" ==\n");
        text.append(pad("", labelWidth));
        for (int i = 0; i < runs.size(); i++) {
            text.append(padLeft(runs.get(i).backend(), widths[i]));
        }
        text.append('\n');
        for (Row row : rows) {
            text.append(pad(row.label(), labelWidth));
            for (int i = 0; i < runs.size(); i++) {
                text.append(padLeft(row.cell().apply(runs.get(i)), widths[i]));
            }
            text.append('\n');
        }
        return text.toString();
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(Math.max(0, width - s.length()));
    }

    private static String padLeft(String s, int width) {
        return " ".repeat(Math.max(0, width - s.length())) + s;
    }

    // ---------------------------------------------------------------- HTML

    private static final String STYLE = """
            body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1400px;
                   padding: 0 1em; color: #222; }
            h1 { font-size: 1.4em; margin-bottom: .2em; }
            p.settings { color: #555; margin-top: 0; }
            .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 1.5em; }
            figure { margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: .8em; background: #fff; }
            figcaption { color: #666; font-size: .85em; margin-top: .3em; }
            table { border-collapse: collapse; margin-top: 1em; }
            th, td { padding: .25em .9em; border-bottom: 1px solid #eee; }
            td { text-align: right; font-variant-numeric: tabular-nums; }
            th { text-align: left; font-weight: 600; }
            thead th { text-align: right; border-bottom: 2px solid #999; }
            td.bad { color: #b00020; font-weight: 600; }
            p.note { color: #777; font-size: .85em; }
            """;

    /** Backend colours, the same in every chart. */
    /** The colour of a backend in every chart (compare page, soak). */
    public static String colour(String backend) {
        return switch (backend) {
            case "zstate" -> "#2a9d8f";
            case "rocksdb" -> "#e76f51";
            case "hashmap" -> "#457b9d";
            // the allocators of the replay's charts (ReplayChart)
            case "zsmalloc/8" -> "#2a9d8f";
            case "zsmalloc/4" -> "#8ab17d";
            case "zsmalloc/16" -> "#264653";
            case "xcfmalloc" -> "#e9c46a";
            case "zlog" -> "#e76f51";
            case "z3fold" -> "#9b5de5";
            case "zbud" -> "#457b9d";
            default -> "#888888";
        };
    }

    /** One bar series of a chart: its name and how a run's value reads (negative: not known). */
    private record Series(String name, ToLongFunction<RunResult> value) {}

    /** The page: charts first, then every figure in a table. */
    static String html(Settings settings, List<Run> runs) {
        StringBuilder html = new StringBuilder();
        html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<title>zstate compare: ").append(escape(settings.job())).append("</title>\n")
                .append("<style>\n").append(STYLE).append("</style>\n</head>\n<body>\n")
                .append("<h1>State backends side by side on the ").append(escape(settings.job())).append(" job</h1>\n")
                .append("<p class=\"settings\">").append(escape(settings.describe()))
                .append(". Each backend ran in a JVM of its own with <code>").append(escape(settings.jvm()))
                .append("</code>.</p>\n<div class=\"charts\">\n");
        html.append(figure(chart("Throughput (records/s, higher is better)", runs,
                        List.of(new Series("records/s", r -> Math.round(r.recordsPerSecond()))), Units::count),
                "Events of the job divided by its wall time, submission to the last result."));
        html.append(figure(chart("Checkpoint duration (end to end, lower is better)", runs,
                        List.of(new Series("avg", r -> r.checkpoints().avgMillis()),
                                new Series("max", r -> r.checkpoints().maxMillis())),
                        Units::millis),
                "From trigger to the last acknowledgement, over the completed checkpoints of the run."));
        html.append(figure(chart("Checkpoint size", runs,
                        List.of(new Series("last", r -> r.checkpoints().lastStateBytes()),
                                new Series("largest", r -> r.checkpoints().maxStateBytes())),
                        Units::bytes),
                "Full state size of the last completed checkpoint, and the largest of the run."));
        html.append(figure(chart("Peak memory (lower is better)", runs,
                        List.of(new Series("RSS", r -> r.memory().peakRssBytes()),
                                new Series("heap", r -> r.memory().peakHeapBytes()),
                                new Series("direct", r -> r.memory().peakDirectBytes())),
                        Units::bytes),
                "RSS: the JVM process's peak resident set (VmHWM), native memory such as RocksDB's included. "
                        + "Heap and direct: peaks sampled four times a second. Managed memory (zstate's pool, "
                        + "RocksDB's caches) is neither heap nor direct: it shows in RSS."));
        html.append(figure(chart("Memory per state entry (peak RSS / keys, lower is better)", runs,
                        List.of(new Series("RSS per key", r -> r.memory().peakRssBytes() < 0 || r.keys() <= 0 ? -1
                                : r.memory().peakRssBytes() / r.keys())),
                        bytes -> bytes + " B"),
                "The whole process's peak resident set divided by the job's keys: an upper bound on the memory "
                        + "each entry costs (the JVM, Flink and the job's other memory are in it too)."));
        html.append("</div>\n<h2>All figures</h2>\n").append(htmlTable(runs));
        html.append("<p class=\"note\">One run per backend, not a benchmark. Written by ZStateCompare on ")
                .append(escape(ZonedDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm z"))))
                .append(", Java ").append(escape(System.getProperty("java.version"))).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" processors.</p>\n</body>\n</html>\n");
        return html.toString();
    }

    private static String figure(String svg, String caption) {
        return "<figure>\n" + svg + "<figcaption>" + escape(caption) + "</figcaption>\n</figure>\n";
    }

    private static String htmlTable(List<Run> runs) {
        StringBuilder table = new StringBuilder("<table>\n<thead><tr><th></th>");
        for (Run run : runs) {
            table.append("<th style=\"color:").append(colour(run.backend())).append("\">")
                    .append(escape(run.backend())).append("</th>");
        }
        table.append("</tr></thead>\n<tbody>\n");
        for (Row row : rows(runs)) {
            table.append("<tr><th>").append(escape(row.label())).append("</th>");
            for (Run run : runs) {
                boolean bad = row.label().equals("result") && !run.succeeded();
                table.append(bad ? "<td class=\"bad\">" : "<td>").append(escape(row.cell().apply(run))).append("</td>");
            }
            table.append("</tr>\n");
        }
        return table.append("</tbody>\n</table>\n").toString();
    }

    private static final int WIDTH = 640;
    private static final int BACKEND_LABEL = 70;
    private static final int BAR = 18;
    private static final int BAR_GAP = 3;
    private static final int GROUP_GAP = 14;
    private static final int VALUE_LABEL = 90;

    /**
     * A horizontal bar chart: a group of bars per run (one per series), in the run's colour,
     * lighter for later series, each labelled with its value.
     */
    private static String chart(String title, List<Run> runs, List<Series> series, Function<Long, String> format) {
        int seriesLabel = series.size() > 1 ? 50 : 0;
        int plotLeft = BACKEND_LABEL + seriesLabel;
        int plotWidth = WIDTH - plotLeft - VALUE_LABEL;
        int top = 34;
        int groupHeight = series.size() * BAR + (series.size() - 1) * BAR_GAP;
        int height = top + runs.size() * groupHeight + (runs.size() - 1) * GROUP_GAP + 12;
        long max = 1;
        for (Run run : runs) {
            for (Series s : series) {
                if (run.result() != null) {
                    max = Math.max(max, s.value().applyAsLong(run.result()));
                }
            }
        }
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT,
                "<svg viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" "
                        + "font-family=\"system-ui, sans-serif\" font-size=\"12\">%n", WIDTH, height));
        svg.append("<title>").append(escape(title)).append("</title>\n");
        svg.append("<text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"600\">").append(escape(title)).append("</text>\n");
        svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#bbb\"/>%n",
                plotLeft, top - 4, plotLeft, height - 8));
        int y = top;
        for (Run run : runs) {
            svg.append(String.format(Locale.ROOT,
                    "<text x=\"0\" y=\"%d\" font-weight=\"600\" fill=\"%s\">%s</text>%n",
                    y + groupHeight / 2 + 4, colour(run.backend()), escape(run.backend())));
            for (int i = 0; i < series.size(); i++) {
                Series s = series.get(i);
                int barY = y + i * (BAR + BAR_GAP);
                if (seriesLabel > 0) {
                    svg.append(String.format(Locale.ROOT,
                            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#555\">%s</text>%n",
                            plotLeft - 6, barY + BAR - 5, escape(s.name())));
                }
                long value = run.result() == null ? -1 : s.value().applyAsLong(run.result());
                if (value < 0) {
                    svg.append(String.format(Locale.ROOT,
                            "<text x=\"%d\" y=\"%d\" fill=\"#999\">%s</text>%n",
                            plotLeft + 6, barY + BAR - 5, run.result() == null ? "failed" : "n/a"));
                    continue;
                }
                double width = Math.max(1, (double) value / max * plotWidth);
                double opacity = 1.0 - 0.3 * i;
                svg.append(String.format(Locale.ROOT,
                        "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" fill-opacity=\"%.2f\">"
                                + "<title>%s %s: %s</title></rect>%n",
                        plotLeft, barY, width, BAR, colour(run.backend()), opacity,
                        escape(run.backend()), escape(s.name()), escape(format.apply(value))));
                svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">%s</text>%n",
                        plotLeft + width + 5, barY + BAR - 5, escape(format.apply(value))));
            }
            y += groupHeight + GROUP_GAP;
        }
        return svg.append("</svg>\n").toString();
    }

    public static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}

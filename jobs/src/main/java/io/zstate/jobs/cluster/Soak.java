package io.zstate.jobs.cluster;

import io.zstate.jobs.LineChart;
import io.zstate.jobs.Units;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The soak at ten times memory: for each backend, the cluster demo (a standalone cluster: a
 * JobManager and two TaskManagers as processes) runs the event counter with incremental
 * checkpoints and a TaskManager managed memory a tenth (or less) of the job's state, kills a
 * TaskManager mid-run, and judges the result (every key counted exactly once). Every second it
 * samples the records the keyed operator has read, each TaskManager's resident memory (from
 * {@code /proc}) and its heap, direct and managed memory in use (Flink's metrics), and keeps the
 * JobManager's checkpoint history. Writes
 * {@code soak-<backend>.csv}, {@code soak-checkpoints-<backend>.csv} and {@code soak.html} (a
 * table and charts over time) into {@code --out}.
 *
 * <p>"State" is the full size the last completed checkpoint refers to (Flink's checkpointed
 * state size). The soak passes (exit code 0) if zstate's run is correct, restored after the kill,
 * and its state is at least {@code --min-ratio} times the TaskManagers' managed memory; the other
 * backends are measured beside it and reported, a run that does not finish within {@code
 * --timeout} with what it did until then.
 */
@Command(name = "zstate-soak", mixinStandardHelpOptions = true,
        description = "Runs the event counter on a local standalone cluster with state ten times the TaskManagers'"
                + " managed memory, incremental checkpoints and a TaskManager killed mid-run, once per backend,"
                + " and charts throughput, memory and checkpoints over time.")
public final class Soak implements Callable<Integer> {

    @Option(names = "--backends", split = ",", defaultValue = "zstate,rocksdb",
            description = "Backends, one run each: zstate, rocksdb, hashmap (default ${DEFAULT-VALUE}).")
    List<String> backends;

    @Option(names = "--keys", defaultValue = "5000000", description = "Distinct keys (default ${DEFAULT-VALUE}).")
    long keys;

    @Option(names = "--events", defaultValue = "10000000", description = "Events (default ${DEFAULT-VALUE}).")
    long events;

    @Option(names = "--rate", defaultValue = "0",
            description = "Source rate, events/s over all subtasks; 0: as fast as the job goes (default ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--managed-memory", defaultValue = "4m",
            description = "Managed memory of each TaskManager, taskmanager.memory.managed.size (default ${DEFAULT-VALUE}).")
    String managedMemory;

    @Option(names = "--taskmanager-memory", defaultValue = "1g",
            description = "Process memory of each TaskManager (default ${DEFAULT-VALUE}).")
    String taskManagerMemory;

    @Option(names = "--checkpoint-interval", defaultValue = "10s",
            description = "Checkpoint interval (default ${DEFAULT-VALUE}).")
    String checkpointInterval;

    @Option(names = "--kill-after-checkpoints", defaultValue = "3",
            description = "Kill a TaskManager once this many checkpoints completed (default ${DEFAULT-VALUE}).")
    int killAfterCheckpoints;

    @Option(names = "--min-ratio", defaultValue = "10",
            description = "State / managed memory the run must reach (default ${DEFAULT-VALUE}).")
    double minRatio;

    @Option(names = "--timeout", defaultValue = "12m",
            description = "Per backend; a run still going then is cancelled and reported as it was (default ${DEFAULT-VALUE}).")
    String timeout;

    @Option(names = "--out", defaultValue = "target/soak", description = "Output directory (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "-D", paramLabel = "key=value", description = "More Flink configuration for the cluster.")
    Map<String, String> properties = new LinkedHashMap<>();

    /**
     * One TaskManager's memory at a sample (0 where down or not yet reported): resident set (from
     * {@code /proc}), and from Flink's metrics (refreshed every 2 s) heap used, direct buffers
     * used, and managed memory used (zstate's pool and spill memtables, RocksDB's memory).
     */
    record Memory(long rss, long heap, long direct, long managed) {
        static final Memory DOWN = new Memory(0, 0, 0, 0);
    }

    /** One sample: seconds since the job started, records read, tm-1's and tm-2's memory. */
    record Sample(double seconds, long records, Memory tm1, Memory tm2) {
        long rss1() {
            return tm1.rss();
        }

        long rss2() {
            return tm2.rss();
        }
    }

    /** One checkpoint from the JobManager's history. */
    record Checkpoint(long id, String status, long stateSize, long checkpointedSize, long durationMs) {}

    /** What one backend's run gave. */
    record Run(String backend, boolean passed, String verdict, boolean restored, double seconds, List<Sample> samples,
            List<Checkpoint> checkpoints, long managedTotal) {

        long lastStateSize() {
            for (int i = checkpoints.size() - 1; i >= 0; i--) {
                if (checkpoints.get(i).status().equals("COMPLETED")) {
                    return checkpoints.get(i).stateSize();
                }
            }
            return 0;
        }

        double ratio() {
            return (double) lastStateSize() / managedTotal;
        }

        long peakRss() {
            return peak(Memory::rss);
        }

        /** The highest of a memory figure over both TaskManagers and the run. */
        long peak(java.util.function.ToLongFunction<Memory> figure) {
            long peak = 0;
            for (Sample s : samples) {
                peak = Math.max(peak, Math.max(figure.applyAsLong(s.tm1()), figure.applyAsLong(s.tm2())));
            }
            return peak;
        }

        /**
         * Records the keyed operator read per second over the run, replays after the restore
         * included (the metric starts again at 0 when the job restarts).
         */
        double recordsPerSecond() {
            long total = 0;
            long previous = 0;
            for (Sample s : samples) {
                total += s.records() >= previous ? s.records() - previous : s.records();
                previous = s.records();
            }
            return samples.isEmpty() ? 0 : total / samples.get(samples.size() - 1).seconds();
        }

        long completed() {
            return checkpoints.stream().filter(c -> c.status().equals("COMPLETED")).count();
        }

        long maxWritten() {
            long max = 0;
            for (Checkpoint c : checkpoints) {
                max = Math.max(max, c.checkpointedSize());
            }
            return max;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Soak()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        long managedTotal = 2 * MemorySize.parse(managedMemory).getBytes();
        List<Run> runs = new ArrayList<>();
        for (String backend : backends) {
            runs.add(runOne(backend, managedTotal));
            writeReport(runs);
        }
        System.out.printf("%n== soak ==%n");
        boolean zstatePassed = true;
        for (Run run : runs) {
            boolean big = run.ratio() >= minRatio;
            if (run.backend().equals("zstate")) {
                zstatePassed = run.passed() && run.restored() && big;
            }
            System.out.printf(Locale.ROOT, "%-8s %s; %s; last checkpoint %s = %.1fx the TaskManagers' managed memory (%s)%s;"
                            + " %,.0f records/s; peak TaskManager RSS %s%n", run.backend(), run.verdict(),
                    run.restored() ? "restored after the kill" : "NOT restored", Units.bytes(run.lastStateSize()),
                    run.ratio(), Units.bytes(run.managedTotal()), big ? "" : " (BELOW " + minRatio + "x)",
                    run.recordsPerSecond(), Units.bytes(run.peakRss()));
        }
        System.out.printf("report: %s%n", out.resolve("soak.html").toAbsolutePath());
        return zstatePassed ? 0 : 1;
    }

    private Run runOne(String backend, long managedTotal) throws Exception {
        List<String> args = new ArrayList<>(List.of("--keys", Long.toString(keys), "--events", Long.toString(events),
                "--rate", Double.toString(rate), "--incremental", "--taskmanager-memory", taskManagerMemory,
                "--checkpoint-interval", checkpointInterval, "--kill-after-checkpoints",
                Integer.toString(killAfterCheckpoints), "--timeout", timeout,
                "-D", "taskmanager.memory.managed.size=" + managedMemory,
                "-D", "web.checkpoints.history=10000"));
        switch (backend) {
            case "zstate" -> { } // the cluster configuration's backend
            case "rocksdb", "hashmap" -> args.addAll(List.of("-D", "state.backend.type=" + backend));
            default -> throw new CommandLine.ParameterException(new CommandLine(this),
                    "backend '" + backend + "' is not known: use zstate, rocksdb or hashmap");
        }
        properties.forEach((k, v) -> args.addAll(List.of("-D", k + "=" + v)));
        ClusterDemo demo = new ClusterDemo();
        new CommandLine(demo).parseArgs(args.toArray(String[]::new));
        Sampler sampler = new Sampler();
        demo.observer = sampler;
        System.out.printf("%n== soak: %s ==%n", backend);
        int code;
        try {
            code = demo.call();
        } catch (Exception e) {
            System.out.printf("the %s run failed: %s%n", backend, e);
            code = 1;
        }
        ClusterDemo.Outcome outcome = demo.outcome();
        Run run = new Run(backend, code == 0, outcome == null || outcome.verdict() == null
                ? "no result (did not finish within " + timeout + ")"
                : outcome.verdict().summary() + (outcome.verdict().correct() ? ": correct" : ": WRONG"),
                sampler.restored || outcome != null && outcome.restoredCheckpoint() != null,
                sampler.samples.isEmpty() ? 0 : sampler.samples.get(sampler.samples.size() - 1).seconds(),
                List.copyOf(sampler.samples), sampler.checkpoints(), managedTotal);
        writeCsv(run);
        return run;
    }

    /** Samples the job once a second through the demo's looks. */
    private static final class Sampler implements ClusterDemo.Observer {
        final List<Sample> samples = new ArrayList<>();
        private JsonNode latestHistory;
        /** Whether the job was restored from a checkpoint (seen even in a run that times out). */
        boolean restored;
        private long start;
        private long last;

        @Override
        public void look(LocalCluster cluster, JobID job, JsonNode details, JsonNode checkpointsNode) {
            if (checkpointsNode != null) {
                latestHistory = checkpointsNode; // kept, in case the run times out before it finishes
                restored |= checkpointsNode.path("latest").path("restored").isObject();
            }
            long now = System.nanoTime();
            if (details == null || !"RUNNING".equals(details.path("state").asText()) && start == 0) {
                return;
            }
            if (start == 0) {
                start = now;
            }
            if (now - last < 1_000_000_000L) {
                return;
            }
            last = now;
            samples.add(new Sample((now - start) / 1e9, ClusterDemo.recordsIn(details, "count-events"), memory(cluster, "tm-1"),
                    memory(cluster, "tm-2")));
        }

        @Override
        public void finished(LocalCluster cluster, JobID job) {
            JsonNode history = cluster.get("/jobs/" + job + "/checkpoints");
            if (history != null) {
                latestHistory = history;
            }
        }

        /** The checkpoint history the JobManager showed last, oldest first. */
        List<Checkpoint> checkpoints() {
            List<Checkpoint> found = new ArrayList<>();
            if (latestHistory == null) {
                return found;
            }
            JsonNode history = latestHistory;
            for (JsonNode c : history.path("history")) {
                found.add(new Checkpoint(c.path("id").asLong(), c.path("status").asText(), c.path("state_size").asLong(),
                        c.path("checkpointed_size").asLong(), c.path("end_to_end_duration").asLong()));
            }
            found.sort(java.util.Comparator.comparingLong(Checkpoint::id));
            return found;
        }

        private static final String MEMORY_METRICS = "Status.JVM.Memory.Heap.Used,Status.JVM.Memory.Direct.MemoryUsed,"
                + "Status.Flink.Memory.Managed.Used";

        /** A TaskManager's memory now, or {@link Memory#DOWN}. */
        private static Memory memory(LocalCluster cluster, String name) {
            long rss = rss(cluster, name);
            if (rss == 0) {
                return Memory.DOWN;
            }
            JsonNode metrics = cluster.get("/taskmanagers/" + name + "/metrics?get=" + MEMORY_METRICS);
            long heap = 0;
            long direct = 0;
            long managed = 0;
            if (metrics != null) {
                for (JsonNode metric : metrics) {
                    long value = metric.path("value").asLong();
                    switch (metric.path("id").asText()) {
                        case "Status.JVM.Memory.Heap.Used" -> heap = value;
                        case "Status.JVM.Memory.Direct.MemoryUsed" -> direct = value;
                        case "Status.Flink.Memory.Managed.Used" -> managed = value;
                        default -> { }
                    }
                }
            }
            return new Memory(rss, heap, direct, managed);
        }

        /** A TaskManager's resident memory (VmRSS), or 0 if it is not running. */
        private static long rss(LocalCluster cluster, String name) {
            Process process = cluster.process(name);
            if (process == null || !process.isAlive()) {
                return 0;
            }
            try {
                return Math.max(0, LocalCluster.residentBytes(process.pid()));
            } catch (IOException | NumberFormatException e) {
                return 0; // it just exited
            }
        }
    }

    private void writeCsv(Run run) throws IOException {
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(out.resolve("soak-" + run.backend() + ".csv")))) {
            w.println("seconds,records,tm1_rss,tm1_heap_used,tm1_direct_used,tm1_managed_used,"
                    + "tm2_rss,tm2_heap_used,tm2_direct_used,tm2_managed_used");
            for (Sample s : run.samples()) {
                w.printf(Locale.ROOT, "%.1f,%d,%d,%d,%d,%d,%d,%d,%d,%d%n", s.seconds(), s.records(), s.tm1().rss(),
                        s.tm1().heap(), s.tm1().direct(), s.tm1().managed(), s.tm2().rss(), s.tm2().heap(),
                        s.tm2().direct(), s.tm2().managed());
            }
        }
        try (PrintWriter w = new PrintWriter(
                Files.newBufferedWriter(out.resolve("soak-checkpoints-" + run.backend() + ".csv")))) {
            w.println("id,status,state_size_bytes,checkpointed_size_bytes,duration_ms");
            for (Checkpoint c : run.checkpoints()) {
                w.printf(Locale.ROOT, "%d,%s,%d,%d,%d%n", c.id(), c.status(), c.stateSize(), c.checkpointedSize(),
                        c.durationMs());
            }
        }
    }

    private void writeReport(List<Run> runs) throws IOException {
        StringBuilder html = new StringBuilder("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>zstate soak"
                + "</title><style>body{font-family:system-ui,sans-serif;max-width:760px;margin:2em auto}"
                + "td,th{padding:2px 10px;text-align:right}.bad{color:#c00}</style></head><body>\n");
        html.append("<h1>zstate soak: state at ten times memory</h1>\n");
        html.append(String.format(Locale.ROOT, "<p>Event counter, %,d keys, %,d events, %s;"
                        + " standalone cluster, two TaskManagers of %s with %s managed memory each; incremental"
                        + " checkpoints every %s; a TaskManager killed once %d checkpoints completed.</p>\n",
                keys, events, rate == 0 ? "as fast as the job goes" : String.format(Locale.ROOT, "%,.0f events/s", rate),
                taskManagerMemory, managedMemory, checkpointInterval, killAfterCheckpoints));
        html.append("<table><tr><th></th><th>result</th><th>restored</th><th>records/s</th><th>peak TM RSS</th>"
                + "<th>peak heap used</th><th>peak direct</th><th>peak managed used</th>"
                + "<th>last checkpoint</th><th>x managed</th><th>largest written</th><th>checkpoints completed</th></tr>\n");
        for (Run r : runs) {
            html.append(String.format(Locale.ROOT, "<tr><th>%s</th><td%s>%s</td><td>%s</td><td>%,.0f</td><td>%s</td>"
                            + "<td>%s</td><td>%s</td><td>%s</td>"
                            + "<td>%s</td><td%s>%.1f</td><td>%s</td><td>%d</td></tr>%n", r.backend(),
                    r.passed() ? "" : " class=\"bad\"", escape(r.verdict()), r.restored() ? "yes" : "no",
                    r.recordsPerSecond(), Units.bytes(r.peakRss()), Units.bytes(r.peak(Memory::heap)),
                    Units.bytes(r.peak(Memory::direct)), Units.bytes(r.peak(Memory::managed)),
                    Units.bytes(r.lastStateSize()),
                    r.ratio() >= minRatio ? "" : " class=\"bad\"", r.ratio(), Units.bytes(r.maxWritten()),
                    r.completed()));
        }
        html.append("</table>\n");
        List<LineChart.Series> records = new ArrayList<>();
        List<LineChart.Series> rss = new ArrayList<>();
        List<LineChart.Series> heap = new ArrayList<>();
        List<LineChart.Series> sizes = new ArrayList<>();
        for (Run r : runs) {
            List<double[]> rate = new ArrayList<>();
            List<double[]> tm1 = new ArrayList<>();
            List<double[]> tm2 = new ArrayList<>();
            Sample previous = null;
            for (Sample s : r.samples()) {
                if (previous != null && s.seconds() > previous.seconds()) {
                    rate.add(new double[] {s.seconds(), Math.max(0, s.records() - previous.records())
                            / (s.seconds() - previous.seconds())});
                }
                tm1.add(new double[] {s.seconds(), s.rss1()});
                tm2.add(new double[] {s.seconds(), s.rss2()});
                previous = s;
            }
            boolean firstSurvived = !r.samples().isEmpty() && r.samples().get(r.samples().size() - 1).rss1() > 0;
            List<double[]> survivor = new ArrayList<>();
            for (Sample s : r.samples()) {
                survivor.add(new double[] {s.seconds(), (firstSurvived ? s.tm1() : s.tm2()).heap()});
            }
            heap.add(new LineChart.Series(r.backend() + (firstSurvived ? " tm-1" : " tm-2") + " heap used", r.backend(),
                    false, survivor));
            records.add(new LineChart.Series(r.backend() + " (REST metric, updated every 2 s)", r.backend(), false, rate));
            rss.add(new LineChart.Series(r.backend() + " tm-1", r.backend(), false, tm1));
            rss.add(new LineChart.Series(r.backend() + " tm-2", r.backend(), true, tm2));
            List<double[]> full = new ArrayList<>();
            List<double[]> written = new ArrayList<>();
            for (Checkpoint c : r.checkpoints()) {
                if (c.status().equals("COMPLETED")) {
                    full.add(new double[] {c.id(), c.stateSize()});
                    written.add(new double[] {c.id(), c.checkpointedSize()});
                }
            }
            sizes.add(new LineChart.Series(r.backend() + " state referred to", r.backend(), false, full));
            sizes.add(new LineChart.Series(r.backend() + " written by the checkpoint", r.backend(), true, written));
        }
        html.append(LineChart.svg("Records per second into the keyed operator", "seconds since the job started",
                records, x -> String.format(Locale.ROOT, "%.0f s", x), y -> String.format(Locale.ROOT, "%,.0f/s", y)));
        html.append(LineChart.svg("TaskManager resident memory (the killed one drops to 0)", "seconds since the job"
                + " started", rss, x -> String.format(Locale.ROOT, "%.0f s", x), y -> Units.bytes((long) y)));
        html.append(LineChart.svg("Heap used on the TaskManager that survived the kill", "seconds since the job started",
                heap, x -> String.format(Locale.ROOT, "%.0f s", x), y -> Units.bytes((long) y)));
        html.append(LineChart.svg("Checkpoint sizes", "checkpoint id", sizes,
                x -> String.format(Locale.ROOT, "%.0f", x), y -> Units.bytes((long) y)));
        html.append("<p>Data: soak-&lt;backend&gt;.csv (samples) and soak-checkpoints-&lt;backend&gt;.csv.</p>\n");
        html.append("</body></html>\n");
        Files.writeString(out.resolve("soak.html"), html);
    }

    private static String escape(String text) {
        return LineChart.escape(text);
    }
}

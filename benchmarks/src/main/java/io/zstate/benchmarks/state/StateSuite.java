package io.zstate.benchmarks.state;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The state suite: flink-benchmarks' Value, List and Map state operations on zstate, RocksDB and
 * HashMap in one run, in the three {@link MemoryRegime}s, followed by the memory footprint per
 * entry, then a Markdown report with ops/ms, ratios and the verdict on each target.
 *
 * <pre>
 *   1. measure S and C of each state kind (StateSize)
 *   2. per kind and regime, one JMH run over its operations and backends (a fork per trial);
 *      HashMap sits out the spill regime, where it would repeat the uniform run
 *   3. footprint of value and map state on every backend of the run (MemoryFootprint)
 *   4. report: the console and --report (Markdown)
 * </pre>
 */
@Command(name = "state-suite", mixinStandardHelpOptions = true,
        description = "Runs the Value/List/Map state benchmarks on zstate, RocksDB and HashMap and writes a report.")
public final class StateSuite implements Callable<Integer> {

    static final String[] VALUE_OPS = {"valueGet", "valueUpdate", "valueAdd"};
    static final String[] LIST_OPS = {"listAdd", "listAppend", "listGet", "listGetAndIterate"};
    static final String[] MAP_OPS = {"mapGet", "mapUpdate", "mapContains", "mapIterator", "mapRemove"};

    @Option(names = "--report", defaultValue = "target/state-suite.md", description = "Markdown report (default ${DEFAULT-VALUE}).")
    Path report;

    @Option(names = "--kinds", split = ",", defaultValue = "value,list,map",
            description = "State kinds to run (default ${DEFAULT-VALUE}).")
    List<StateSize.Kind> kinds;

    @Option(names = "--regimes", split = ",", defaultValue = "hot,pool,spill",
            description = "Memory regimes to run (default ${DEFAULT-VALUE}).")
    List<MemoryRegime> regimes;

    @Option(names = "--warmup", defaultValue = "1", description = "Warmup iterations of 1 s (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--iterations", defaultValue = "3",
            description = "Measured iterations of 1 s (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--ops", split = ",", description = "Only these operations (e.g. valueGet,mapGet); default all.")
    List<String> onlyOps;

    @Option(names = "--backends", split = ",", defaultValue = "zstate,rocksdb,hashmap",
            description = "Backends: zstate (its defaults), zstate-reaper, zstate-noreaper (zstate with its background"
                    + " reaper on, off; by default 'auto'), zstate-pages (zstate"
                    + " without its entry cache), zstate-xcfmalloc, zstate-zlog (zstate with that allocator),"
                    + " zstate-zstd (zstate with page-compression zstd), zstate-entriesNN (entry cache at NN%),"
                    + " zstate-writesNN (write buffer at NN%),"
                    + " zstate-compressed (every page compressed in the pool), zstate-rawNN (pages kept raw under NN%"
                    + " of the pool),"
                    + " zstate-zsmallocN (zsmalloc with chain size N, 4 to 16), rocksdb,"
                    + " rocksdb-partitioned (partitioned index and filter blocks, as for"
                    + " state larger than memory), forst (Flink 2.x's ForSt), hashmap; HashMap sits out the spill"
                    + " regime (default ${DEFAULT-VALUE}).")
    List<String> backends;

    @Option(names = "--jvm-arg", paramLabel = "<arg>",
            description = "A JVM argument for every benchmark fork (repeatable), e.g. -XX:StartFlightRecording=delay=12s,"
                    + "duration=8s,filename=/tmp/fork.jfr,settings=profile for a JFR profile of the measured iterations.")
    List<String> jvmArgs = new ArrayList<>();

    @Option(names = "--profiler", paramLabel = "<name>",
            description = "A JMH profiler for every trial (repeatable), as JMH's -prof takes it, e.g. gc or"
                    + " stack:lines=3;top=20; its output is printed after each trial.")
    List<String> profilers = new ArrayList<>();

    @Option(names = "--pool-trace-directory", paramLabel = "<dir>",
            description = "Record every zstate pool's requests into this directory (one trace a backend, for the"
                    + " replay simulator, -Ptrace-replay); the timings of a traced run are not comparable.")
    Path poolTraceDirectory;

    public static void main(String[] args) {
        System.exit(new CommandLine(new StateSuite()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        Map<StateSize.Kind, StateSize.Sizes> sizes = new LinkedHashMap<>();
        for (StateSize.Kind kind : kinds) {
            StateSize.Sizes s = StateSize.measure(kind);
            sizes.put(kind, s);
            System.out.printf("state-suite: %s state is %,d page bytes, %,d compressed (%.1f s so far)%n",
                    kind, s.pageBytes(), s.compressedBytes(), (System.nanoTime() - start) / 1e9);
        }
        List<SuiteResult> results = new ArrayList<>();
        for (StateSize.Kind kind : kinds) {
            String[] ops = selected(operations(kind));
            if (ops.length == 0) {
                continue;
            }
            for (MemoryRegime regime : regimes) {
                results.addAll(run(kind, ops, regime, sizes.get(kind)));
                System.out.printf("state-suite: %s/%s done (%.0f s so far)%n", kind, regime,
                        (System.nanoTime() - start) / 1e9);
            }
        }
        List<MemoryFootprint.Footprint> footprints = new ArrayList<>();
        for (StateSize.Kind kind : kinds) {
            if (kind == StateSize.Kind.list) {
                continue;
            }
            for (String backend : backends) {
                footprints.add(MemoryFootprint.measure(backend, kind, sizes.get(kind)));
            }
        }
        String markdown = SuiteReport.markdown(results, footprints, sizes, warmup, iterations,
                (System.nanoTime() - start) / 1e9, LocalDate.now());
        System.out.println();
        System.out.println(markdown);
        Path parent = report.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(report, markdown, StandardCharsets.UTF_8);
        System.out.printf("state-suite: report written to %s (%.0f s in all)%n", report.toAbsolutePath(),
                (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private String[] selected(String[] ops) {
        if (onlyOps == null || onlyOps.isEmpty()) {
            return ops;
        }
        List<String> kept = new ArrayList<>();
        for (String op : ops) {
            if (onlyOps.contains(op)) {
                kept.add(op);
            }
        }
        return kept.toArray(new String[0]);
    }

    static String[] operations(StateSize.Kind kind) {
        return switch (kind) {
            case value -> VALUE_OPS;
            case list -> LIST_OPS;
            case map -> MAP_OPS;
        };
    }

    static Class<?> benchmarkClass(StateSize.Kind kind) {
        return switch (kind) {
            case value -> ValueStateBenchmark.class;
            case list -> ListStateBenchmark.class;
            case map -> MapStateBenchmark.class;
        };
    }

    private List<SuiteResult> run(StateSize.Kind kind, String[] ops, MemoryRegime regime, StateSize.Sizes sizes)
            throws Exception {
        String[] backends = this.backends.stream()
                .filter(b -> !regime.spills() || !b.equals("hashmap"))
                .toArray(String[]::new);
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include("^" + benchmarkClass(kind).getName().replace(".", "\\.") + "\\.(" + String.join("|", ops) + ")$")
                .param("backend", backends)
                .param("regime", regime.name())
                .param("stateBytes", Long.toString(sizes.pageBytes()))
                .param("compressedBytes", Long.toString(sizes.compressedBytes()))
                .warmupIterations(warmup)
                .warmupTime(TimeValue.seconds(1))
                .measurementIterations(iterations)
                .measurementTime(TimeValue.seconds(1))
                .forks(1)
                .shouldFailOnError(true);
        if (!jvmArgs.isEmpty()) {
            options.jvmArgsAppend(jvmArgs.toArray(new String[0]));
        }
        for (String profiler : profilers) { // name, or name:options as JMH's -prof takes them
            int colon = profiler.indexOf(':');
            if (colon < 0) {
                options.addProfiler(profiler);
            } else {
                options.addProfiler(profiler.substring(0, colon), profiler.substring(colon + 1));
            }
        }
        if (poolTraceDirectory != null) {
            Files.createDirectories(poolTraceDirectory);
            options.jvmArgsAppend("-D" + BenchmarkBackend.POOL_TRACE_PROPERTY + "=" + poolTraceDirectory.toAbsolutePath());
        }
        Collection<RunResult> runs = new Runner(options.build()).run();
        List<SuiteResult> results = new ArrayList<>();
        for (RunResult run : runs) {
            String benchmark = run.getParams().getBenchmark();
            String op = benchmark.substring(benchmark.lastIndexOf('.') + 1);
            results.add(new SuiteResult(kind, op, regime, run.getParams().getParam("backend"),
                    run.getPrimaryResult().getScore(),
                    run.getPrimaryResult().getStatistics().getStandardDeviation()));
        }
        return results;
    }

    /** One measured cell: an operation on a backend in a regime, ops/ms and its standard deviation. */
    record SuiteResult(StateSize.Kind kind, String op, MemoryRegime regime, String backend, double score,
                       double stdev) {
        String formatted() {
            return Double.isNaN(stdev)
                    ? String.format(Locale.ROOT, "%.0f", score)
                    : String.format(Locale.ROOT, "%.0f ± %.0f", score, stdev);
        }
    }
}

package io.zstate.jobs;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Runs one example job on zstate, RocksDB and HashMap, each in a JVM of its own with the same
 * heap, direct-memory and TaskManager memory settings, then prints the runs side by side and
 * writes an HTML page with bar charts. A JVM per backend keeps peak RSS, JIT and garbage of one
 * run out of the next.
 */
@Command(name = "zstate-compare", mixinStandardHelpOptions = true,
        description = "Runs one example job on zstate, rocksdb and hashmap, each in its own JVM with the same "
                + "memory settings, prints a table side by side and writes an HTML chart.")
public final class ZStateCompare extends JobRunOptions implements Callable<Integer> {

    static final List<String> BACKENDS = List.of("zstate", "rocksdb", "rocksdb-tuned", "forst", "hashmap");

    @Option(names = "--backends", defaultValue = "zstate,rocksdb,hashmap", split = ",",
            description = "Backends to run, in this order (default ${DEFAULT-VALUE}).")
    List<String> backends;

    @Option(names = "--preset", paramLabel = "<preset>",
            description = "Sizes where memory matters, for the options not given: 'fits' (the counter's 500k keys, 3M"
                    + " events: all fits in the heap), 'heap-pressure' (4M keys, 12M events, checkpoints every 10s),"
                    + " 'larger-than-memory' (8M keys and events, 32mb managed memory: zstate's and RocksDB's state"
                    + " is several times their memory; HashMap must hold it all in the 2g heap). Heap 2g,"
                    + " managed memory 256mb unless said.")
    String preset;

    /**
     * The compare's managed memory when neither {@code --preset} nor {@code --managed-memory} is
     * given: less than the default job's state takes in zstate's pool, so its swap device works.
     */
    static final String DEFAULT_MANAGED_MEMORY = "16mb";

    /** A preset: sizes for the options not given on the command line. */
    record Preset(long keys, long events, String managedMemory, String checkpointInterval, String timeout) {}

    static final java.util.Map<String, Preset> PRESETS = java.util.Map.of(
            "fits", new Preset(500_000, 3_000_000, "256mb", "2s", null),
            "heap-pressure", new Preset(4_000_000, 12_000_000, "256mb", "10s", null),
            "larger-than-memory", new Preset(8_000_000, 8_000_000, "32mb", "10s", "15min"));

    @Option(names = "--heap", defaultValue = "2g",
            description = "Maximum heap (-Xmx) of each backend's JVM, the same for all (default ${DEFAULT-VALUE}).")
    String heap;

    @Option(names = "--direct-memory", defaultValue = "2g",
            description = "-XX:MaxDirectMemorySize of each backend's JVM (default ${DEFAULT-VALUE}).")
    String directMemory;

    @Option(names = "--timeout", paramLabel = "<duration>",
            description = "Stop a backend's run after this long (e.g. 20min) and report how far it got; the"
                    + " 'larger-than-memory' preset sets 15min, otherwise no limit.")
    String timeout;

    @Option(names = "--out", defaultValue = "target/zstate-compare.html", paramLabel = "<file>",
            description = "HTML page with the table and the charts (default ${DEFAULT-VALUE}).")
    Path out;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        System.exit(new CommandLine(new ZStateCompare()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        if (preset != null) {
            Preset p = PRESETS.get(preset.toLowerCase(Locale.ROOT));
            if (p == null) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--preset '" + preset + "' is not known: use one of " + new java.util.TreeSet<>(PRESETS.keySet()));
            }
            CommandLine.ParseResult given = spec.commandLine().getParseResult();
            if (!given.hasMatchedOption("--keys")) {
                keysOption = p.keys();
            }
            if (!given.hasMatchedOption("--events")) {
                eventsOption = p.events();
            }
            if (!given.hasMatchedOption("--managed-memory")) {
                managedMemory = p.managedMemory();
            }
            if (!given.hasMatchedOption("--checkpoint-interval")) {
                checkpointInterval = p.checkpointInterval();
            }
            if (!given.hasMatchedOption("--timeout")) {
                timeout = p.timeout();
            }
        }
        if (preset == null && !spec.commandLine().getParseResult().hasMatchedOption("--managed-memory")) {
            // the default run shows what zstate is for: a pool smaller than the state, the rest on
            // the swap device (RocksDB); every backend gets the same managed memory
            managedMemory = DEFAULT_MANAGED_MEMORY;
        }
        resolveKeys();
        List<String> chosen = new ArrayList<>();
        for (String backend : backends) {
            String name = backend.trim().toLowerCase(Locale.ROOT);
            if (!BACKENDS.contains(name) || chosen.contains(name)) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--backends '" + backend + "' is not known or twice: use zstate, rocksdb, rocksdb-tuned, forst and hashmap");
            }
            chosen.add(name);
        }
        java.time.Duration limit = null;
        if (timeout != null) {
            try {
                limit = org.apache.flink.util.TimeUtils.parseDuration(timeout);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--timeout '" + timeout + "' is not a duration: use e.g. 20min, 90s or 1h");
            }
        }
        if (!heap.matches("[0-9]+[kKmMgG]?") || !directMemory.matches("[0-9]+[kKmMgG]?")) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--heap and --direct-memory take a JVM size such as 2g or 512m");
        }
        CompareReport.Settings settings = new CompareReport.Settings(job.name(), keys, events, parallelism,
                managedMemory, checkpointInterval, rate, heap, directMemory, preset);
        System.out.printf("zstate compare: job %s, %,d events over %,d keys, parallelism %d, managed memory %s, "
                        + "checkpoints every %s; each backend in a JVM of its own with -Xmx%s -XX:MaxDirectMemorySize=%s%n",
                job, events, keys, parallelism, managedMemory, checkpointInterval, heap, directMemory);

        Path results = Files.createTempDirectory("zstate-compare");
        List<CompareReport.Run> runs = new ArrayList<>();
        try {
            for (int i = 0; i < chosen.size(); i++) {
                String backend = chosen.get(i);
                System.out.printf("%n-- %s (%d of %d) --%n", backend, i + 1, chosen.size());
                runs.add(runChild(backend, results.resolve(backend + ".json"), limit));
            }
        } finally {
            try (var files = Files.list(results)) {
                files.forEach(f -> f.toFile().delete());
            }
            Files.deleteIfExists(results);
        }

        System.out.println();
        System.out.print(CompareReport.table(settings, runs));
        System.out.print(CompareReport.swapDevice(runs));
        Path html = out.toAbsolutePath();
        if (html.getParent() != null) {
            Files.createDirectories(html.getParent());
        }
        Files.writeString(html, CompareReport.html(settings, runs), StandardCharsets.UTF_8);
        System.out.printf("%nchart: %s%n", html);

        boolean allGood = runs.stream().allMatch(CompareReport.Run::succeeded);
        if (!allGood) {
            System.out.printf("not every run succeeded: %s%n", String.join(", ", runs.stream()
                    .filter(run -> !run.succeeded()).map(run -> run.backend() + " " + run.outcome()).toList()));
        }
        return allGood ? 0 : 1;
    }

    /**
     * Runs the runner for {@code backend} in a new JVM, streaming its lines, and reads its JSON;
     * past {@code limit} (null: none) the JVM is killed and the run reported as stopped, with the
     * events its last progress line counted.
     */
    private CompareReport.Run runChild(String backend, Path json, java.time.Duration limit)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + heap,
                "-XX:MaxDirectMemorySize=" + directMemory,
                "-cp", System.getProperty("java.class.path"),
                ZStateRunner.class.getName(),
                "--job", job.name(),
                "--backend", backend,
                "--keys", Long.toString(keys),
                "--events", Long.toString(events),
                "--parallelism", Integer.toString(parallelism),
                "--managed-memory", managedMemory,
                "--checkpoint-interval", checkpointInterval,
                "--rate", Double.toString(rate),
                "--json", json.toString()));
        if (incremental) {
            command.add("--incremental");
        }
        Path file = configFile();
        if (file != null) {
            // the same file for every backend, wherever the child starts
            command.add("--config");
            command.add(file.toAbsolutePath().toString());
        }
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        java.util.concurrent.atomic.AtomicBoolean stopped = new java.util.concurrent.atomic.AtomicBoolean();
        Thread watchdog = null;
        if (limit != null) {
            watchdog = new Thread(() -> {
                try {
                    if (!process.waitFor(limit.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                        stopped.set(true);
                        process.descendants().forEach(ProcessHandle::destroyForcibly);
                        process.destroyForcibly();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "compare-timeout-" + backend);
            watchdog.setDaemon(true);
            watchdog.start();
        }
        String failure = null;
        String lastProgress = null;
        String prefix = String.format("[%-7s] ", backend);
        try (BufferedReader lines = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                System.out.println(prefix + line);
                if (failure == null && line.contains("java.lang.OutOfMemoryError")) {
                    failure = "out of memory (" + line.substring(line.indexOf("java.lang.OutOfMemoryError")
                            + "java.lang.OutOfMemoryError".length()).replaceFirst("^: ", "") + ", -Xmx" + heap + ")";
                }
                if (line.contains(" events processed (")) {
                    lastProgress = line.trim();
                }
            }
        }
        int exit = process.waitFor();
        if (watchdog != null) {
            watchdog.interrupt();
        }
        if (stopped.get() && failure == null) {
            return new CompareReport.Run(backend, exit, null, CompareReport.stoppedAt(limit, lastProgress));
        }
        RunResult result = null;
        if (Files.exists(json)) {
            try {
                result = RunResult.read(json);
            } catch (IOException e) {
                System.out.println(prefix + "could not read its results: " + e);
            }
        }
        return new CompareReport.Run(backend, exit, result, failure);
    }
}

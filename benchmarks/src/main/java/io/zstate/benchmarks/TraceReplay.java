package io.zstate.benchmarks;

import io.zstate.allocator.FrameSource;
import io.zstate.allocator.PoolTrace;
import io.zstate.allocator.ZPool;
import io.zstate.allocator.ZPoolStats;
import io.zstate.allocator.ZPools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The allocator replay simulator (after Caffeine's simulator and Netty's allocation-pattern
 * simulator): the requests a real pool saw, recorded with {@code
 * state.backend.zstate.debug.pool-trace-directory} ({@link PoolTrace}), replayed against every
 * allocator, zsmalloc chain size and frame size under one memory budget, as the page store would
 * drive it.
 *
 * <pre>
 * Events:
 *   store (M)   malloc and write; no frame left: reclaim(--reclaim-batch frames) from the cold
 *               end, the evicted objects counted as written back, then malloc again; still no
 *               frame: a direct spill (the page would go to RocksDB without the pool)
 *   free (F)    free, if the object is still in the pool
 *   read (R)    read, if in the pool (a pool hit); a swap-in if it was evicted or spilled (the
 *               page store would read it back from RocksDB): the cost of a poor reclaim
 *   evict (E)   the recording pool's own reclaim: the object leaves the pool here too (record
 *               with a pool large enough that there are none)
 *   snapshot (S) a checkpoint's copy of an object: counted, no hit nor swap-in (the page cache
 *               does not change; a spilled page is read from the spill store's snapshot)
 *
 * Grid: every allocator of --allocators; zsmalloc once per --chains; each at every --frame-sizes
 *   (default: the frame size the trace was recorded with). The budget is a fraction of the
 *   trace's peak live payload, at least 64 frames of the recorded size, rounded up to whole
 *   frames of the replayed size, so every frame size gets the same bytes.
 *
 * Measured:
 *   over time     every --sample-every events: utilization, frames held, swap-ins and evictions
 *                 so far (the CSV of --series; the report's "over time" table at tenths)
 *   at the end    mean of the sampled utilizations, metadata per object (on-heap, in-frame),
 *                 evicted objects per frame released, copies per read; then one compact(): the
 *                 utilization after it and the objects it moved (plus those --compact-first moved)
 *   malloc/free   System.nanoTime() around each malloc and each free of the replay, less the
 *                 timer's own cost measured at start, in the last of 1 + --warmup-replays replays
 *                 of the pool (the earlier ones compile the code); one run: compare within it only.
 *                 A malloc that grows the frame source's arenas pays for the new arena (16 MiB of
 *                 direct memory) inside it: a trace that fills a large pool shows it
 * </pre>
 */
@Command(name = "trace-replay", mixinStandardHelpOptions = true,
        description = "Replays pool traces against every allocator and reports utilization, reclaim and swap-ins.")
public final class TraceReplay implements Callable<Integer> {

    @Parameters(paramLabel = "<trace>", arity = "0..*",
            description = "Trace files or directories of them (default: the shipped traces in src/main/traces,"
                    + " unless --synthetic is given).")
    List<Path> traces = new ArrayList<>();

    @Option(names = "--allocators", split = ",", defaultValue = "zbud,z3fold,zlog,xcfmalloc,zsmalloc",
            description = "Allocators (default ${DEFAULT-VALUE}).")
    List<String> allocators;

    @Option(names = "--chains", split = ",", defaultValue = "8",
            description = "zsmalloc chain sizes, 4 to 16 (default ${DEFAULT-VALUE}).")
    List<Integer> chains;

    @Option(names = "--frame-sizes", split = ",",
            description = "Frame sizes, powers of two from 4096 to 65536 (default: the trace's).")
    List<Integer> frameSizes = new ArrayList<>();

    @Option(names = "--budget-fraction", defaultValue = "0.5",
            description = "Pool budget as a fraction of the trace's peak live payload (default ${DEFAULT-VALUE}).")
    double budgetFraction;

    @Option(names = "--reclaim-batch", defaultValue = "16",
            description = "Frames a full pool reclaims at a time, as the page store's reclaim-batch-frames (default ${DEFAULT-VALUE}).")
    int reclaimBatch;

    @Option(names = "--report", defaultValue = "target/trace-replay.md", description = "Markdown report (default ${DEFAULT-VALUE}).")
    Path report;

    @Option(names = "--series", defaultValue = "target/trace-replay-series.csv",
            description = "CSV of the samples over time (default ${DEFAULT-VALUE}).")
    Path series;

    @Option(names = "--sample-every", defaultValue = "10000",
            description = "Events between two samples (default ${DEFAULT-VALUE}).")
    int sampleEvery;

    @Option(names = "--compact-first",
            description = "A full pool compacts before it reclaims (the page store does not; a policy to measure).")
    boolean compactFirst;

    @Option(names = "--warmup-replays", defaultValue = "1",
            description = "Replays of each pool before the one reported, so its malloc and free ns are of compiled"
                    + " code (the counts are the same in every replay; default ${DEFAULT-VALUE}).")
    int warmupReplays;

    @Option(names = "--synthetic", split = ",",
            description = "Also replay synthetic traces of 4 KiB pages with a published kernel size distribution:"
                    + " ${COMPLETION-CANDIDATES} (written under target/synthetic).")
    List<KernelSizeTrace.Distribution> synthetic = new ArrayList<>();

    @Option(names = "--synthetic-objects", defaultValue = "" + KernelSizeTrace.DEFAULT_OBJECTS,
            description = "Objects in a synthetic trace's fill (default ${DEFAULT-VALUE}).")
    int syntheticObjects;

    @Option(names = "--cut", paramLabel = "<events>",
            description = "Instead of replaying: copy the first <events> events of the one trace given to --cut-output"
                    + " (a complete trace: the objects live at the cut stay live), to ship a long recording's start.")
    long cut;

    @Option(names = "--cut-output", paramLabel = "<file>", description = "Where --cut writes.")
    Path cutOutput;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(new CommandLine(new TraceReplay()).execute(args));
    }

    /** One replayed pool: an allocator, its chain size (zsmalloc, else 0), and a frame size. */
    record Setup(String allocator, int chainSize, int frameSize) {
        String label() {
            return chainSize == 0 ? allocator : allocator + "/" + chainSize;
        }

        ZPool create(FrameSource source) {
            return chainSize == 0 ? ZPools.create(allocator, source) : ZPools.zsmalloc(source, chainSize);
        }
    }

    /** One sample over time. */
    record Sample(long events, double utilization, long framesHeld, long swapIns, long evicted) {}

    /** One pool's replay of one trace. */
    record Result(Setup setup, long events, double meanUtilization, long peakFrames, long evicted,
            long framesReleased, long swapIns, long poolHits, long directSpills, double metadataPerObject,
            double inFramePerObject, double copiesPerRead, double splitReadShare, double endUtilization,
            long endFrames, double compactedUtilization, long compactedFrames, long movedObjects,
            double mallocNs, double freeNs, List<Sample> samples) {}

    @Override
    public Integer call() throws Exception {
        for (int chain : chains) {
            if (chain < ZPools.MIN_ZSMALLOC_CHAIN_SIZE || chain > ZPools.MAX_ZSMALLOC_CHAIN_SIZE) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--chains: chain size " + chain
                        + " is not allowed: use " + ZPools.MIN_ZSMALLOC_CHAIN_SIZE + " to " + ZPools.MAX_ZSMALLOC_CHAIN_SIZE
                        + " (the kernel's CONFIG_ZSMALLOC_CHAIN_SIZE)");
            }
        }
        for (int frameSize : frameSizes) {
            if (frameSize < FrameSource.MIN_FRAME_SIZE || frameSize > FrameSource.MAX_FRAME_SIZE
                    || Integer.bitCount(frameSize) != 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--frame-sizes: " + frameSize
                        + " is not allowed: use powers of two from " + FrameSource.MIN_FRAME_SIZE + " to "
                        + FrameSource.MAX_FRAME_SIZE);
            }
        }
        if (sampleEvery < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--sample-every must be at least 1");
        }
        if (cut < 0 || (cut == 0) != (cutOutput == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--cut <events> (at least 1) and --cut-output <file> go together");
        }
        if (cut > 0) {
            if (traces.size() != 1) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--cut copies one trace: give one trace file and --cut-output <file>");
            }
            long copied = cut(traces.get(0), cutOutput, cut);
            System.out.printf(Locale.ROOT, "trace-replay: the first %,d events of %s written to %s%n", copied,
                    traces.get(0), cutOutput);
            return 0;
        }
        List<Path> files = traceFiles();
        double timerNs = timerCost();
        StringBuilder md = new StringBuilder("## Trace replay (" + LocalDate.now() + ")\n\n");
        md.append(String.format(Locale.ROOT, "malloc and free ns: System.nanoTime() around each call, less the"
                + " timer's own %.1f ns; one run, compare within it only.%n%n", timerNs));
        StringBuilder csv = new StringBuilder(
                "trace,frame_size,allocator,events,utilization,frames_held,swap_ins,evicted\n");
        for (Path file : files) {
            Scan scan = scan(file);
            List<Integer> sizes = frameSizes.isEmpty() ? List.of(scan.frameSize) : frameSizes;
            long budget = Math.max(64L * scan.frameSize, (long) (scan.peakPayload * budgetFraction));
            md.append(String.format(Locale.ROOT, "### %s%n%n%,d events (%,d stores, %,d frees, %,d reads, %,d"
                    + " checkpoint copies), peak live"
                    + " payload %,d B, objects %,d-%,d B (mean %,.0f), recorded in %,d B frames; budget %,d B"
                    + " (%.2f of the peak), reclaim %d frames at a time%s.%n%n", file.getFileName(), scan.events,
                    scan.stores, scan.frees, scan.reads, scan.snapshotReads,
                    scan.peakPayload, scan.minSize, scan.maxSize, (double) scan.sizeSum / Math.max(1, scan.stores),
                    scan.frameSize, budget, budgetFraction, reclaimBatch,
                    compactFirst ? ", compacting first" : ""));
            md.append("| allocator | frame | budget frames | mean utilization | peak frames | evicted | frames released"
                    + " | evicted / frame | swap-ins | pool hits | direct spills | metadata B / object"
                    + " | in-frame B / object | copies / read | reads in pieces | end utilization | after compact()"
                    + " | objects moved | malloc ns | free ns |\n"
                    + "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            List<Result> results = new ArrayList<>();
            for (int frameSize : sizes) {
                for (Setup setup : setups(frameSize)) {
                    long frames = (budget + frameSize - 1) / frameSize;
                    for (int w = 0; w < warmupReplays; w++) {
                        replay(file, setup, frames * frameSize, scan, timerNs);
                    }
                    Result r = replay(file, setup, frames * frameSize, scan, timerNs);
                    results.add(r);
                    System.out.printf(Locale.ROOT, "trace-replay: %s %s %d B: utilization %.1f%%, swap-ins %,d,"
                                    + " after compact %.1f%%, malloc %.0f ns, free %.0f ns%n", file.getFileName(),
                            setup.label(), frameSize, 100 * r.meanUtilization(), r.swapIns(),
                            100 * r.compactedUtilization(), r.mallocNs(), r.freeNs());
                    md.append(String.format(Locale.ROOT, "| %s | %,d | %,d | %.1f%% | %,d | %,d | %,d | %.2f | %,d"
                                    + " | %,d | %,d | %.1f | %.1f | %.3f | %.1f%% | %.1f%% | %.1f%% | %,d | %.0f | %.0f |%n",
                            setup.label(), frameSize, frames, 100 * r.meanUtilization(), r.peakFrames(), r.evicted(),
                            r.framesReleased(),
                            r.framesReleased() == 0 ? 0.0 : (double) r.evicted() / r.framesReleased(), r.swapIns(),
                            r.poolHits(), r.directSpills(), r.metadataPerObject(), r.inFramePerObject(),
                            r.copiesPerRead(), 100 * r.splitReadShare(), 100 * r.endUtilization(),
                            100 * r.compactedUtilization(), r.movedObjects(), r.mallocNs(), r.freeNs()));
                    for (Sample s : r.samples()) {
                        csv.append(String.format(Locale.ROOT, "%s,%d,%s,%d,%.5f,%d,%d,%d%n", file.getFileName(),
                                frameSize, setup.label(), s.events(), s.utilization(), s.framesHeld(), s.swapIns(),
                                s.evicted()));
                    }
                }
            }
            md.append('\n').append(overTime(results, scan.events)).append('\n');
        }
        System.out.println(md);
        write(report, md.toString());
        write(series, csv.toString());
        return 0;
    }

    private static void write(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    /** Copies the first {@code events} events of {@code from} to {@code to}, with an end mark; returns how many. */
    static long cut(Path from, Path to, long events) throws IOException {
        Path parent = to.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        long copied = 0;
        try (InputStream in = Files.newInputStream(from); PoolTrace.Reader r = new PoolTrace.Reader(in);
                java.io.OutputStream out = Files.newOutputStream(to);
                PoolTrace.Writer w = new PoolTrace.Writer(out, r.frameSize())) {
            while (copied < events && r.next()) {
                if (r.code() == PoolTrace.MALLOC) {
                    w.malloc(r.id(), r.size());
                } else {
                    w.event(r.code(), r.id());
                }
                copied++;
            }
            if (w.failure() != null) {
                throw w.failure();
            }
        }
        return copied;
    }

    /** The pools to replay at one frame size: each allocator, zsmalloc once per chain size. */
    List<Setup> setups(int frameSize) {
        List<Setup> setups = new ArrayList<>();
        for (String allocator : allocators) {
            String name = allocator.toLowerCase(Locale.ROOT);
            if (!ZPools.TYPES.contains(name)) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--allocators: '" + allocator + "' is not known: use some of " + ZPools.TYPES);
            }
            if (name.equals("zsmalloc")) {
                for (int chain : chains) {
                    setups.add(new Setup(name, chain, frameSize));
                }
            } else {
                setups.add(new Setup(name, 0, frameSize));
            }
        }
        return setups;
    }

    private List<Path> traceFiles() throws IOException {
        List<Path> files = new ArrayList<>();
        List<Path> given = traces.isEmpty() && synthetic.isEmpty() ? List.of(Path.of("src/main/traces")) : traces;
        for (Path p : given) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> list = Files.list(p)) {
                    list.filter(f -> f.toString().endsWith(".trace.gz")).sorted().forEach(files::add);
                }
            } else {
                files.add(p);
            }
        }
        for (KernelSizeTrace.Distribution d : synthetic) {
            Path file = Path.of("target", "synthetic", KernelSizeTrace.fileName(d));
            KernelSizeTrace.write(file, d, syntheticObjects, 42);
            files.add(file);
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no trace files (*.trace.gz) in " + traces);
        }
        return files;
    }

    /** Utilization at each tenth of the trace, one row a pool: the nearest sample at or before it. */
    static String overTime(List<Result> results, long events) {
        StringBuilder md = new StringBuilder("Utilization over the trace (at each tenth of its events):\n\n"
                + "| allocator | frame |");
        for (int t = 1; t <= 10; t++) {
            md.append(' ').append(t * 10).append("% |");
        }
        md.append("\n|---|---:|").append("---:|".repeat(10)).append('\n');
        for (Result r : results) {
            md.append("| ").append(r.setup().label()).append(" | ")
                    .append(String.format(Locale.ROOT, "%,d", r.setup().frameSize())).append(" |");
            for (int t = 1; t <= 10; t++) {
                long at = events * t / 10;
                Sample best = null;
                for (Sample s : r.samples()) {
                    if (s.events() <= at) {
                        best = s;
                    }
                }
                md.append(best == null ? " - |" : String.format(Locale.ROOT, " %.1f%% |", 100 * best.utilization()));
            }
            md.append('\n');
        }
        return md.toString();
    }

    /** The mean cost of one System.nanoTime() pair, subtracted from each timed call. */
    static double timerCost() {
        long sum = 0;
        int n = 200_000;
        for (int round = 0; round < 3; round++) { // the last round, once compiled
            sum = 0;
            for (int i = 0; i < n; i++) {
                long t = System.nanoTime();
                sum += System.nanoTime() - t;
            }
        }
        return (double) sum / n;
    }

    /** What a first pass learns of a trace: counts, ids, sizes and the peak live payload. */
    private static final class Scan {
        int frameSize;
        long events;
        long stores;
        long frees;
        long reads;
        long snapshotReads;
        long maxId = -1;
        long peakPayload;
        long sizeSum;
        int minSize = Integer.MAX_VALUE;
        int maxSize;
    }

    private static Scan scan(Path file) throws IOException {
        Scan s = new Scan();
        Map<Long, Integer> live = new HashMap<>();
        long payload = 0;
        try (InputStream in = Files.newInputStream(file); PoolTrace.Reader r = new PoolTrace.Reader(in)) {
            s.frameSize = r.frameSize();
            while (r.next()) {
                s.events++;
                switch (r.code()) {
                    case PoolTrace.MALLOC -> {
                        s.stores++;
                        s.maxId = Math.max(s.maxId, r.id());
                        s.sizeSum += r.size();
                        s.minSize = Math.min(s.minSize, r.size());
                        s.maxSize = Math.max(s.maxSize, r.size());
                        live.put(r.id(), r.size());
                        payload += r.size();
                        s.peakPayload = Math.max(s.peakPayload, payload);
                    }
                    case PoolTrace.FREE, PoolTrace.EVICT -> {
                        s.frees += r.code() == PoolTrace.FREE ? 1 : 0;
                        Integer size = live.remove(r.id());
                        payload -= size == null ? 0 : size;
                    }
                    case PoolTrace.READ -> s.reads++;
                    default -> s.snapshotReads++;
                }
            }
        }
        return s;
    }

    private Result replay(Path file, Setup setup, long budget, Scan scan, double timerNs) throws IOException {
        int n = (int) (scan.maxId + 1);
        long[] handles = new long[n];
        byte[] where = new byte[n]; // 0 gone, 1 in the pool, 2 evicted or spilled
        Map<Long, Integer> idOf = new HashMap<>();
        long[] evicted = {0};
        long framesReleased = 0;
        long swapIns = 0;
        long hits = 0;
        long spills = 0;
        long peakFrames = 0;
        double utilizationSum = 0;
        long sampled = 0;
        long events = 0;
        long mallocNanos = 0;
        long mallocs = 0;
        long freeNanos = 0;
        long frees = 0;
        List<Sample> samples = new ArrayList<>();
        try (FrameSource source = new FrameSource(budget, setup.frameSize());
                ZPool pool = setup.create(source);
                InputStream in = Files.newInputStream(file);
                PoolTrace.Reader r = new PoolTrace.Reader(in)) {
            byte[] buffer = new byte[Math.max(pool.maxObjectSize(), scan.maxSize)];
            Arrays.fill(buffer, (byte) 7);
            while (r.next()) {
                events++;
                int id = (int) r.id();
                switch (r.code()) {
                    case PoolTrace.MALLOC -> {
                        int size = Math.min(r.size(), pool.maxObjectSize());
                        long t = System.nanoTime();
                        long h = pool.malloc(size);
                        mallocNanos += System.nanoTime() - t;
                        mallocs++;
                        if (h == ZPool.NO_SPACE && compactFirst && pool.compact() > 0) {
                            h = pool.malloc(size);
                        }
                        if (h == ZPool.NO_SPACE) {
                            framesReleased += pool.reclaim(reclaimBatch, (handle, data) -> {
                                Integer victim = idOf.remove(handle);
                                if (victim != null) {
                                    where[victim] = 2;
                                }
                                evicted[0]++;
                                return true;
                            });
                            t = System.nanoTime();
                            h = pool.malloc(size);
                            mallocNanos += System.nanoTime() - t;
                            mallocs++;
                        }
                        if (h == ZPool.NO_SPACE) {
                            spills++;
                            where[id] = 2;
                        } else {
                            pool.write(h, buffer, 0, size);
                            handles[id] = h;
                            where[id] = 1;
                            idOf.put(h, id);
                        }
                    }
                    case PoolTrace.FREE, PoolTrace.EVICT -> {
                        if (where[id] == 1) {
                            long t = System.nanoTime();
                            pool.free(handles[id]);
                            freeNanos += System.nanoTime() - t;
                            frees++;
                            idOf.remove(handles[id]);
                        }
                        where[id] = r.code() == PoolTrace.EVICT ? (byte) 2 : 0;
                    }
                    case PoolTrace.READ -> {
                        if (where[id] == 1) {
                            pool.read(handles[id], buffer, 0);
                            hits++;
                        } else if (where[id] == 2) {
                            swapIns++;
                        }
                    }
                    default -> { // a checkpoint's copy: the pool read, no page-cache effect
                        if (where[id] == 1) {
                            pool.read(handles[id], buffer, 0);
                        }
                    }
                }
                if (events % sampleEvery == 0) {
                    ZPoolStats stats = pool.stats();
                    peakFrames = Math.max(peakFrames, stats.framesHeld());
                    samples.add(new Sample(events, stats.utilization(), stats.framesHeld(), swapIns, evicted[0]));
                    if (stats.framesHeld() > 0) {
                        utilizationSum += stats.utilization();
                        sampled++;
                    }
                }
            }
            ZPoolStats end = pool.stats();
            peakFrames = Math.max(peakFrames, end.framesHeld());
            if (events % sampleEvery != 0) {
                samples.add(new Sample(events, end.utilization(), end.framesHeld(), swapIns, evicted[0]));
            }
            pool.compact();
            pool.checkInvariants();
            ZPoolStats compacted = pool.stats();
            double metadata = end.objects() == 0 ? 0 : (double) end.metadataBytes() / end.objects();
            return new Result(setup, events, sampled == 0 ? 0 : utilizationSum / sampled, peakFrames, evicted[0],
                    framesReleased, swapIns, hits, spills, metadata, end.inFrameMetadataBytesPerObject(),
                    end.copiesPerRead(), end.splitReadShare(), end.utilization(), end.framesHeld(),
                    compacted.utilization(), compacted.framesHeld(), compacted.movedObjects(),
                    mallocs == 0 ? 0 : Math.max(0, (double) mallocNanos / mallocs - timerNs),
                    frees == 0 ? 0 : Math.max(0, (double) freeNanos / frees - timerNs), samples);
        }
    }
}

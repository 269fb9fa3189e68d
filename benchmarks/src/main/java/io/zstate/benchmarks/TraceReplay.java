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
 * The allocator replay simulator (after Caffeine's simulator): the requests a real pool saw,
 * recorded with {@code state.backend.zstate.debug.pool-trace-directory} ({@link PoolTrace}),
 * replayed against every allocator under one memory budget, as the page store would drive it.
 *
 * <pre>
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
 * </pre>
 *
 * The budget defaults to half the trace's peak live payload, so every allocator must reclaim;
 * utilization (payload / frame bytes held) is sampled every 10,000 events.
 */
@Command(name = "trace-replay", mixinStandardHelpOptions = true,
        description = "Replays pool traces against every allocator and reports utilization, reclaim and swap-ins.")
public final class TraceReplay implements Callable<Integer> {

    @Parameters(paramLabel = "<trace>", arity = "0..*",
            description = "Trace files or directories of them (default: the shipped traces in src/main/traces).")
    List<Path> traces = new ArrayList<>();

    @Option(names = "--allocators", split = ",", defaultValue = "zbud,z3fold,zlog,xcfmalloc,zsmalloc",
            description = "Allocators (default ${DEFAULT-VALUE}).")
    List<String> allocators;

    @Option(names = "--budget-fraction", defaultValue = "0.5",
            description = "Pool budget as a fraction of the trace's peak live payload (default ${DEFAULT-VALUE}).")
    double budgetFraction;

    @Option(names = "--reclaim-batch", defaultValue = "16",
            description = "Frames a full pool reclaims at a time, as the page store's reclaim-batch-frames (default ${DEFAULT-VALUE}).")
    int reclaimBatch;

    @Option(names = "--report", defaultValue = "target/trace-replay.md", description = "Markdown report (default ${DEFAULT-VALUE}).")
    Path report;

    @Option(names = "--compact-first",
            description = "A full pool compacts before it reclaims (the page store does not; a policy to measure).")
    boolean compactFirst;

    public static void main(String[] args) {
        System.exit(new CommandLine(new TraceReplay()).execute(args));
    }

    /** One allocator's replay of one trace. */
    record Result(String allocator, long events, double meanUtilization, long peakFrames, long evicted,
            long framesReleased, long swapIns, long poolHits, long directSpills, double metadataPerObject,
            double inFramePerObject, double copiesPerRead, double splitReadShare, double nsPerEvent) {}

    @Override
    public Integer call() throws Exception {
        List<Path> files = new ArrayList<>();
        for (Path p : traces.isEmpty() ? List.of(Path.of("src/main/traces")) : traces) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> list = Files.list(p)) {
                    list.filter(f -> f.toString().endsWith(".trace.gz")).sorted().forEach(files::add);
                }
            } else {
                files.add(p);
            }
        }
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no trace files (*.trace.gz) in " + traces);
        }
        StringBuilder md = new StringBuilder("## Trace replay (" + LocalDate.now() + ")\n\n");
        for (Path file : files) {
            Scan scan = scan(file);
            long budget = Math.max(64L * scan.frameSize, (long) (scan.peakPayload * budgetFraction));
            budget = (budget + scan.frameSize - 1) / scan.frameSize * scan.frameSize;
            md.append(String.format(Locale.ROOT, "### %s%n%n%,d events (%,d stores, %,d frees, %,d reads, %,d"
                    + " checkpoint copies), peak live"
                    + " payload %,d B, objects %,d-%,d B (mean %,.0f); budget %,d B (%,d frames of %,d B), reclaim"
                    + " %d frames at a time%s.%n%n", file.getFileName(), scan.events, scan.stores, scan.frees, scan.reads, scan.snapshotReads,
                    scan.peakPayload, scan.minSize, scan.maxSize, (double) scan.sizeSum / Math.max(1, scan.stores),
                    budget, budget / scan.frameSize, scan.frameSize, reclaimBatch,
                    compactFirst ? ", compacting first" : ""));
            md.append("| allocator | mean utilization | peak frames | evicted | frames released | evicted / frame"
                    + " | swap-ins | pool hits | direct spills | metadata B / object | in-frame B / object"
                    + " | copies / read | reads in pieces | ns / event |\n"
                    + "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (String allocator : allocators) {
                Result r = replay(file, allocator, budget, scan);
                System.out.println("trace-replay: " + file.getFileName() + " " + r);
                md.append(String.format(Locale.ROOT, "| %s | %.1f%% | %,d | %,d | %,d | %.2f | %,d | %,d | %,d | %.1f"
                                + " | %.1f | %.3f | %.1f%% | %.0f |%n",
                        r.allocator(), 100 * r.meanUtilization(), r.peakFrames(), r.evicted(), r.framesReleased(),
                        r.framesReleased() == 0 ? 0.0 : (double) r.evicted() / r.framesReleased(), r.swapIns(),
                        r.poolHits(), r.directSpills(), r.metadataPerObject(), r.inFramePerObject(),
                        r.copiesPerRead(), 100 * r.splitReadShare(), r.nsPerEvent()));
            }
            md.append('\n');
        }
        System.out.println(md);
        Path parent = report.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(report, md.toString(), StandardCharsets.UTF_8);
        return 0;
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

    private Result replay(Path file, String allocator, long budget, Scan scan) throws IOException {
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
        long samples = 0;
        long events = 0;
        long nanos;
        try (FrameSource source = new FrameSource(budget, scan.frameSize);
                ZPool pool = ZPools.create(allocator, source);
                InputStream in = Files.newInputStream(file);
                PoolTrace.Reader r = new PoolTrace.Reader(in)) {
            byte[] buffer = new byte[Math.max(pool.maxObjectSize(), scan.maxSize)];
            Arrays.fill(buffer, (byte) 7);
            long start = System.nanoTime();
            while (r.next()) {
                events++;
                int id = (int) r.id();
                switch (r.code()) {
                    case PoolTrace.MALLOC -> {
                        int size = Math.min(r.size(), pool.maxObjectSize());
                        long h = pool.malloc(size);
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
                            h = pool.malloc(size);
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
                            pool.free(handles[id]);
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
                if (events % 10_000 == 0) {
                    ZPoolStats stats = pool.stats();
                    peakFrames = Math.max(peakFrames, stats.framesHeld());
                    if (stats.framesHeld() > 0) {
                        utilizationSum += stats.utilization();
                        samples++;
                    }
                }
            }
            nanos = System.nanoTime() - start;
            ZPoolStats stats = pool.stats();
            peakFrames = Math.max(peakFrames, stats.framesHeld());
            double metadata = stats.objects() == 0 ? 0 : (double) stats.metadataBytes() / stats.objects();
            return new Result(allocator, events, samples == 0 ? 0 : utilizationSum / samples, peakFrames, evicted[0],
                    framesReleased, swapIns, hits, spills, metadata, stats.inFrameMetadataBytesPerObject(),
                    stats.copiesPerRead(), stats.splitReadShare(), (double) nanos / Math.max(1, events));
        }
    }
}

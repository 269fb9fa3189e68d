package io.zstate.benchmarks.state;

import io.zstate.benchmarks.state.StateSuite.SuiteResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The state suite's Markdown report: method and machine, one table per state kind (ops/ms per
 * backend and the ratios zstate/RocksDB and zstate/HashMap), the verdict on each target of the
 * issue, and the memory footprint per entry.
 */
final class SuiteReport {

    /** Operations the hot-regime target names: Value and Map get/update. */
    private static final Set<String> HOT_TARGET_OPS = Set.of("valueGet", "valueUpdate", "mapGet", "mapUpdate");

    private SuiteReport() {}

    static String markdown(List<SuiteResult> results, List<MemoryFootprint.Footprint> footprints,
                           Map<StateSize.Kind, StateSize.Sizes> sizes, int warmup, int iterations, double seconds,
                           LocalDate date) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "### State suite, %s%n%n", date));
        md.append(String.format(Locale.ROOT, "Machine: %s. Suite time %.0f s; JMH throughput, 1 fork per trial, "
                + "%d warmup and %d measured iterations of 1 s; ± is the standard deviation over the measured "
                + "iterations.%n%n", machine(), seconds,
                warmup, iterations));
        md.append("| state | S (page bytes) | C (compressed) | page cache | managed memory hot/pool | managed memory spill |\n");
        md.append("|---|---:|---:|---:|---:|---:|\n");
        for (Map.Entry<StateSize.Kind, StateSize.Sizes> e : sizes.entrySet()) {
            StateSize.Sizes s = e.getValue();
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s |%n", e.getKey(), mib(s.pageBytes()),
                    mib(s.compressedBytes()), mib(MemoryRegime.pool.pageCacheBytes(s)),
                    mib(MemoryRegime.pool.managedMemoryBytes(s)), mib(MemoryRegime.spill.managedMemoryBytes(s))));
        }
        md.append('\n');
        // backends beyond the three of every run (rocksdb-partitioned, forst): a value and a ratio column each
        List<String> others = new java.util.ArrayList<>();
        for (SuiteResult r : results) {
            if (!List.of("zstate", "rocksdb", "hashmap").contains(r.backend()) && !others.contains(r.backend())) {
                others.add(r.backend());
            }
        }
        for (StateSize.Kind kind : sizes.keySet()) {
            boolean any = false;
            StringBuilder table = new StringBuilder();
            table.append(String.format("#### %s state (ops/ms)%n%n", kind));
            table.append("| operation | regime | zstate | RocksDB | HashMap | zstate / RocksDB | zstate / HashMap |");
            for (String other : others) {
                table.append(' ').append(other).append(" | zstate / ").append(other).append(" |");
            }
            table.append("\n|---|---|---:|---:|---:|---:|---:|").append("---:|---:|".repeat(others.size())).append('\n');
            for (String op : StateSuite.operations(kind)) {
                for (MemoryRegime regime : MemoryRegime.values()) {
                    SuiteResult z = find(results, kind, op, regime, "zstate");
                    SuiteResult r = find(results, kind, op, regime, "rocksdb");
                    SuiteResult h = find(results, kind, op, regime, "hashmap");
                    boolean measured = z != null || r != null || h != null;
                    for (String other : others) { // a run of variants alone (zstate-reaper, ...) has rows too
                        measured |= find(results, kind, op, regime, other) != null;
                    }
                    if (!measured) {
                        continue;
                    }
                    any = true;
                    table.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s |", op, regime,
                            z == null ? "" : z.formatted(), r == null ? "" : r.formatted(),
                            h == null ? "" : h.formatted(), ratio(z, r), ratio(z, h)));
                    for (String other : others) {
                        SuiteResult o = find(results, kind, op, regime, other);
                        table.append(' ').append(o == null ? "" : o.formatted()).append(" | ").append(ratio(z, o))
                                .append(" |");
                    }
                    table.append('\n');
                }
            }
            if (any) {
                md.append(table).append('\n');
            }
        }
        md.append("#### Targets\n\n");
        md.append("| target | operation | measured | verdict |\n|---|---|---:|---|\n");
        for (SuiteResult z : results) {
            if (!z.backend().equals("zstate")) {
                continue;
            }
            SuiteResult r = find(results, z.kind(), z.op(), z.regime(), "rocksdb");
            SuiteResult h = find(results, z.kind(), z.op(), z.regime(), "hashmap");
            switch (z.regime()) {
                case hot -> {
                    if (HOT_TARGET_OPS.contains(z.op())) {
                        verdict(md, "hot: >= 5x RocksDB", z.op(), z, r, 5.0);
                        verdict(md, "hot: within 1.5x of HashMap", z.op(), z, h, 1 / 1.5);
                    }
                }
                case pool -> verdict(md, "pool: >= 2x RocksDB", z.op(), z, r, 2.0);
                case spill, hotspill -> verdict(md, z.regime() + ": >= RocksDB", z.op(), z, r, 1.0);
            }
        }
        md.append('\n');
        if (!footprints.isEmpty()) {
            md.append("#### Memory per entry (pool regime sizes, after loading; heap retained after full GC, plus"
                    + " off-heap: zstate's pool frames, RocksDB's and ForSt's memtables, table readers and block"
                    + " cache; their SST files apart, on disk)\n\n");
            md.append("| state | backend | entries | heap | off-heap | bytes / entry in memory | disk | bytes / entry on"
                    + " disk |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
            for (MemoryFootprint.Footprint f : footprints) {
                md.append(String.format(Locale.ROOT, "| %s | %s | %,d | %s | %s | %.1f | %s | %s |%n", f.kind(),
                        f.backend(), f.entries(), mib(f.heapBytes()), mib(f.offHeapBytes()), f.bytesPerEntry(),
                        f.diskBytes() == 0 ? "-" : mib(f.diskBytes()),
                        f.diskBytes() == 0 ? "-" : String.format(Locale.ROOT, "%.1f", f.diskBytesPerEntry())));
            }
            md.append('\n');
            for (MemoryFootprint.Footprint z : footprints) {
                if (!z.backend().equals("zstate")) {
                    continue;
                }
                for (MemoryFootprint.Footprint h : footprints) {
                    if (h.backend().equals("hashmap") && h.kind() == z.kind()) {
                        double share = z.bytesPerEntry() / h.bytesPerEntry();
                        md.append(String.format(Locale.ROOT,
                                "- %s state: zstate %.1f B/entry is %.2f of HashMap's %.1f (target <= 0.10): %s%n",
                                z.kind(), z.bytesPerEntry(), share, h.bytesPerEntry(),
                                share <= 0.10 ? "met" : String.format(Locale.ROOT, "missed, %.1fx too much", share / 0.10)));
                    }
                }
            }
        }
        return md.toString();
    }

    private static void verdict(StringBuilder md, String target, String op, SuiteResult z, SuiteResult other,
                                double wanted) {
        if (other == null) {
            return;
        }
        double ratio = z.score() / other.score();
        md.append(String.format(Locale.ROOT, "| %s | %s | %.2fx | %s |%n", target, op, ratio,
                ratio >= wanted ? "met" : String.format(Locale.ROOT, "missed by %.0f%%", 100 * (1 - ratio / wanted))));
    }

    private static SuiteResult find(List<SuiteResult> results, StateSize.Kind kind, String op, MemoryRegime regime,
                                    String backend) {
        for (SuiteResult r : results) {
            if (r.kind() == kind && r.op().equals(op) && r.regime() == regime && r.backend().equals(backend)) {
                return r;
            }
        }
        return null;
    }

    private static String ratio(SuiteResult a, SuiteResult b) {
        return a == null || b == null ? "" : String.format(Locale.ROOT, "%.2f", a.score() / b.score());
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }

    static String machine() throws IOException {
        String cpu = "unknown CPU";
        long memKib = 0;
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (Files.isReadable(cpuinfo)) {
            for (String line : Files.readAllLines(cpuinfo)) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        }
        Path meminfo = Path.of("/proc/meminfo");
        if (Files.isReadable(meminfo)) {
            for (String line : Files.readAllLines(meminfo)) {
                if (line.startsWith("MemTotal:")) {
                    memKib = Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        }
        return String.format(Locale.ROOT, "%s, %d cores, %.0f GiB RAM, %s %s", cpu,
                Runtime.getRuntime().availableProcessors(), memKib / (double) (1L << 20),
                System.getProperty("java.vm.name"), System.getProperty("java.version"));
    }
}

package io.zstate.benchmarks.state;

import io.zstate.flink.metrics.ZStateLocalStats;
import io.zstate.pagestore.PageStoreStats;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Big state, phase by phase, on every backend in one run: what the state suite's JMH loops do
 * not reach. Each case is loaded, read, iterated, half removed and cleared once, timed per phase
 * (nanoseconds per entry), in two memory regimes:
 *
 * <pre>
 *   cases     big-map     one key, a MapState<Long, Double> of --entries entries
 *             small-maps  the same entries as maps of 10 under --entries/10 keys (the small-map
 *                         cost a big map is compared with)
 *             big-keys    MapState<String, Long> with user keys of --key-bytes bytes, maps of
 *                         10 under --big-key-entries/10 keys
 *   phases    put (every entry), get (every entry, another order), contains (every key, half of
 *             them absent), iterate (every map whole), remove (every other entry), clear (every
 *             map); the point phases go to a different map at each step (records of random
 *             keys), and through a map in an order unrelated to its keys'
 *   regimes   memory  managed memory max(1.5 C, 64 MiB): the state fits zstate's pool
 *             spill   managed memory C / 4: the state is four times the pool; RocksDB runs with
 *                     partitioned index and filter blocks (what a user sets when state outgrows
 *                     memory); HashMap sits out
 *             fixed   managed memory --managed-memory (e.g. a 10,000,000-entry map in 64 MiB)
 *   zstate's page cache is S / 10; S and C are measured per case as the state suite does
 * </pre>
 *
 * Absolute times vary from run to run on a shared machine; compare backends within one run.
 */
@Command(name = "big-state", mixinStandardHelpOptions = true,
        description = "Times big maps and big keys phase by phase on zstate, RocksDB and HashMap.")
public final class BigStateSuite implements Callable<Integer> {

    enum Case { big_map, small_maps, big_keys }

    enum Regime { memory, spill, fixed }

    static final String[] PHASES = {"put", "get", "contains", "iterate", "remove", "clear"};

    @Option(names = "--entries", defaultValue = "1000000", description = "Map entries (default ${DEFAULT-VALUE}).")
    int entries;

    @Option(names = "--big-key-entries", defaultValue = "20000",
            description = "Entries of the big-keys case (default ${DEFAULT-VALUE}).")
    int bigKeyEntries;

    @Option(names = "--key-bytes", defaultValue = "2048", description = "Bytes of a big key (default ${DEFAULT-VALUE}).")
    int keyBytes;

    @Option(names = "--cases", split = ",", defaultValue = "big_map,small_maps,big_keys",
            description = "Cases (default ${DEFAULT-VALUE}).")
    List<Case> cases;

    @Option(names = "--regimes", split = ",", defaultValue = "memory,spill",
            description = "Regimes (default ${DEFAULT-VALUE}).")
    List<Regime> regimes;

    @Option(names = "--backends", split = ",", defaultValue = "zstate,rocksdb,hashmap",
            description = "Backends (default ${DEFAULT-VALUE}); RocksDB gets partitioned index/filters in spill.")
    List<String> backends;

    @Option(names = "--managed-memory", defaultValue = "64", description = "MiB of managed memory in the fixed regime.")
    long managedMemoryMiB;

    @Option(names = "--report", defaultValue = "target/big-state.md", description = "Markdown report (default ${DEFAULT-VALUE}).")
    Path report;

    public static void main(String[] args) {
        System.exit(new CommandLine(new BigStateSuite()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
    }

    /** One backend's phases on one case and regime: nanoseconds per entry, by phase. */
    record Result(Case kase, Regime regime, String backend, Map<String, Double> nsPerOp) {}

    @Override
    public Integer call() throws Exception {
        ZStateLocalStats.enable();
        long start = System.nanoTime();
        List<Result> results = new ArrayList<>();
        for (Case kase : cases) {
            StateSize.Sizes sizes = measure(kase);
            System.out.printf(Locale.ROOT, "big-state: %s is %,d page bytes, %,d compressed%n", kase,
                    sizes.pageBytes(), sizes.compressedBytes());
            for (Regime regime : regimes) {
                for (String backend : backends) {
                    if (regime == Regime.spill && backend.equals("hashmap")) {
                        continue;
                    }
                    String name = regime == Regime.spill && backend.equals("rocksdb") ? "rocksdb-partitioned" : backend;
                    Result result = run(kase, regime, name, sizes);
                    results.add(result);
                    System.out.printf(Locale.ROOT, "big-state: %s/%s/%s %s (%.0f s so far)%n", kase, regime, name,
                            result.nsPerOp(), (System.nanoTime() - start) / 1e9);
                }
            }
        }
        String markdown = markdown(results, (System.nanoTime() - start) / 1e9);
        System.out.println(markdown);
        Path parent = report.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(report, markdown, StandardCharsets.UTF_8);
        return 0;
    }

    /** S and C of a case: loaded into zstate with a pool that holds it all. */
    private StateSize.Sizes measure(Case kase) throws Exception {
        try (BenchmarkBackend backend = BenchmarkBackend.create("zstate", 4L << 30, 1 << 20)) {
            Workload workload = new Workload(kase, backend.keyed);
            workload.put();
            PageStoreStats stats = ZStateLocalStats.of(backend.keyed);
            long pageSize = io.zstate.flink.ZStateOptions.PAGE_SIZE.defaultValue().getBytes();
            return new StateSize.Sizes((stats.livePages() - stats.sameFilledPages()) * pageSize,
                    stats.poolBytesHeld() + stats.hotBytes());
        }
    }

    private Result run(Case kase, Regime regime, String backendName, StateSize.Sizes sizes) throws Exception {
        long c = sizes.compressedBytes();
        long managed = switch (regime) {
            case memory -> Math.max(c + c / 2, 64L << 20);
            case spill -> c / 4;
            case fixed -> managedMemoryMiB << 20;
        };
        long pageCache = Math.max(64L << 10, sizes.pageBytes() / 10);
        System.gc();
        try (BenchmarkBackend backend = BenchmarkBackend.create(backendName, managed, pageCache)) {
            Workload workload = new Workload(kase, backend.keyed);
            Map<String, Double> ns = new LinkedHashMap<>();
            ns.put("put", perOp(workload::put, workload.entries()));
            ns.put("get", perOp(workload::get, workload.entries()));
            ns.put("contains", perOp(workload::contains, workload.entries()));
            ns.put("iterate", perOp(workload::iterate, workload.entries()));
            ns.put("remove", perOp(workload::removeHalf, workload.entries() / 2));
            ns.put("clear", perOp(workload::clear, workload.entries() / 2));
            return new Result(kase, regime, backendName, ns);
        }
    }

    private interface Phase {
        void run() throws Exception;
    }

    private static double perOp(Phase phase, long ops) throws Exception {
        long t0 = System.nanoTime();
        phase.run();
        return (System.nanoTime() - t0) / (double) ops;
    }

    /** A case's keys and maps, and the phases over them; every read is checked. */
    private final class Workload {
        private final KeyedStateBackend<Long> keyed;
        private final int keys;
        private final int perKey;
        private final boolean big;
        private final MapState<Long, Double> longs;
        private final MapState<String, Long> strings;

        Workload(Case kase, KeyedStateBackend<Long> keyed) throws Exception {
            this.keyed = keyed;
            this.big = kase == Case.big_keys;
            int n = big ? bigKeyEntries : entries;
            this.keys = kase == Case.big_map ? 1 : n / 10;
            this.perKey = n / keys;
            this.longs = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                    new MapStateDescriptor<>("longs", Types.LONG, Types.DOUBLE));
            this.strings = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                    new MapStateDescriptor<>("strings", Types.STRING, Types.LONG));
        }

        long entries() {
            return (long) keys * perKey;
        }

        /** Entry {@code i}'s user key: scrambled so that puts do not arrive in key order. */
        private long userKey(long i) {
            return (i * 0x9E3779B97F4A7C15L) >>> 1;
        }

        private String bigUserKey(long i) {
            char[] chars = new char[keyBytes];
            Arrays.fill(chars, 'k');
            String id = Long.toString(userKey(i), 36);
            id.getChars(0, id.length(), chars, 0); // distinct from the first bytes on, like a row
            return new String(chars);
        }

        /**
         * Visits every entry: {@code action(entry, index within its map)}. Permuted, each step goes
         * to another map (as records of random keys do) and through a map in another order than
         * it was written; else map by map, in order.
         */
        private void forEach(boolean permuted, EntryAction action) throws Exception {
            if (!permuted) {
                for (int k = 0; k < keys; k++) {
                    keyed.setCurrentKey((long) k);
                    for (int j = 0; j < perKey; j++) {
                        action.apply((long) k * perKey + j, j);
                    }
                }
                return;
            }
            for (int j = 0; j < perKey; j++) {
                int index = (int) ((j * 104_729L) % perKey);
                for (int k = 0; k < keys; k++) {
                    int key = (int) ((k * 7919L + j) % keys);
                    keyed.setCurrentKey((long) key);
                    action.apply((long) key * perKey + index, index);
                }
            }
        }

        void put() throws Exception {
            forEach(true, (i, j) -> {
                if (big) {
                    strings.put(bigUserKey(i), i);
                } else {
                    longs.put(userKey(i), (double) i);
                }
            });
        }

        void get() throws Exception {
            forEach(true, (i, j) -> {
                Object v = big ? strings.get(bigUserKey(i)) : longs.get(userKey(i));
                if (v == null) {
                    throw new IllegalStateException("entry " + i + " is missing");
                }
            });
        }

        void contains() throws Exception {
            forEach(true, (i, j) -> {
                boolean absent = (j & 1) == 1;
                long probe = absent ? i + (1L << 40) : i;
                boolean found = big ? strings.contains(bigUserKey(probe)) : longs.contains(userKey(probe));
                if (found == absent) {
                    throw new IllegalStateException("contains(" + probe + ") answered " + found);
                }
            });
        }

        void iterate() throws Exception {
            long seen = 0;
            for (int k = 0; k < keys; k++) {
                keyed.setCurrentKey((long) k);
                Iterator<?> it = big ? strings.iterator() : longs.iterator();
                while (it.hasNext()) {
                    it.next();
                    seen++;
                }
            }
            if (seen != entries()) {
                throw new IllegalStateException("iterated " + seen + " entries of " + entries());
            }
        }

        void removeHalf() throws Exception {
            forEach(true, (i, j) -> {
                if ((j & 1) == 0) {
                    if (big) {
                        strings.remove(bigUserKey(i));
                    } else {
                        longs.remove(userKey(i));
                    }
                }
            });
        }

        void clear() throws Exception {
            for (int k = 0; k < keys; k++) {
                keyed.setCurrentKey((long) k);
                if (big) {
                    strings.clear();
                } else {
                    longs.clear();
                }
                if (!(big ? strings.isEmpty() : longs.isEmpty())) {
                    throw new IllegalStateException("map of key " + k + " is not empty after clear");
                }
            }
        }
    }

    private interface EntryAction {
        void apply(long index, int inMap) throws Exception;
    }

    private String markdown(List<Result> results, double seconds) {
        StringBuilder md = new StringBuilder();
        md.append("## Big state (").append(LocalDate.now()).append(", ").append(String.format(Locale.ROOT, "%.0f", seconds))
                .append(" s)\n\n");
        md.append(String.format(Locale.ROOT, "%,d map entries; big keys: %,d entries with %,d-byte user keys; %d cores.%n%n",
                entries, bigKeyEntries, keyBytes, Runtime.getRuntime().availableProcessors()));
        for (Regime regime : regimes) {
            for (Case kase : cases) {
                List<Result> rows = results.stream().filter(r -> r.regime() == regime && r.kase() == kase).toList();
                if (rows.isEmpty()) {
                    continue;
                }
                md.append("### ").append(kase).append(", ").append(regime).append("\n\n| ns per entry |");
                for (Result r : rows) {
                    md.append(' ').append(r.backend()).append(" |");
                }
                md.append(" zstate speed / RocksDB |\n|---|");
                md.append("---:|".repeat(rows.size() + 1)).append('\n');
                for (String phase : PHASES) {
                    md.append("| ").append(phase).append(" |");
                    Double zstate = null;
                    Double rocks = null;
                    for (Result r : rows) {
                        double v = r.nsPerOp().get(phase);
                        md.append(String.format(Locale.ROOT, " %,.0f |", v));
                        if (r.backend().equals("zstate")) {
                            zstate = v;
                        } else if (r.backend().startsWith("rocksdb")) {
                            rocks = v;
                        }
                    }
                    md.append(zstate != null && rocks != null ? String.format(Locale.ROOT, " %.2fx |", rocks / zstate) : " |");
                    md.append('\n');
                }
                md.append('\n');
            }
        }
        return md.toString();
    }
}

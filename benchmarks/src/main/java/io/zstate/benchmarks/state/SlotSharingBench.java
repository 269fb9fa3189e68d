package io.zstate.benchmarks.state;

import io.zstate.flink.ZKeyedStateBackend;
import io.zstate.pagestore.PageStoreStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A busy operator beside an idle one in one slot: what the busy one's state accesses run at when
 * an idle neighbour filled the slot's memory first, against the busy one alone in the slot, on
 * every backend in one run.
 *
 * <pre>
 *   state      --keys ValueState&lt;String&gt; entries per backend, 64 random bytes in hex each
 *              (compresses about 2:1), sized so that one backend's state fits the slot's managed
 *              memory alone but not beside the other's
 *   alone      one keyed backend in a task environment of --managed-memory: load, then
 *              read-modify-write of uniform random keys, --warmup seconds, then --seconds
 *              one-second windows measured
 *   beside     two keyed backends in one environment (one slot, slot sharing, each with
 *              managed-memory fraction 1, as a TaskManager makes them): the idle one loads its
 *              state first and is not touched again; the busy one loads, warms up and is
 *              measured as above
 *   busy one   with --neighbour-ops N, the neighbour is not idle: after every 1,000 accesses of
 *              the measured backend, N read-modify-writes of Zipf-distributed keys on it (a hot
 *              set in its page cache, a cold tail), timed with the measured ones
 *   reported   median ops/ms of the measured backend's accesses in the windows (and the first
 *              window after warm-up), the ratio beside / alone, and for zstate the measured
 *              backend's share of the slot's pool (and the neighbour's, and the frames taken)
 *   backends   zstate (slot-pool-balancing on, its default), zstate-unbalanced (off), rocksdb
 *              (its managed memory: one block cache and write-buffer manager per slot, shared
 *              by the slot's RocksDB instances)
 * </pre>
 *
 * Run: {@code mvn -q -DskipTests -Pslot-sharing verify [-Dslot.args="..."]}.
 */
@Command(name = "slot-sharing", mixinStandardHelpOptions = true,
        description = "A busy operator's state accesses beside an idle one in one slot, against alone.")
public final class SlotSharingBench implements Runnable {

    @Option(names = "--backends", split = ",", defaultValue = "zstate,zstate-unbalanced,rocksdb",
            description = "Backends to compare (default: ${DEFAULT-VALUE}).")
    List<String> backends;

    @Option(names = "--keys", defaultValue = "400000", description = "Keys per backend (default: ${DEFAULT-VALUE}).")
    int keys;

    @Option(names = "--managed-memory-mb", defaultValue = "48",
            description = "Managed memory of the slot, MiB (default: ${DEFAULT-VALUE}).")
    int managedMemoryMb;

    @Option(names = "--page-cache-kb", defaultValue = "4096",
            description = "zstate's page cache per backend, KiB (default: ${DEFAULT-VALUE}).")
    int pageCacheKb;

    @Option(names = "--warmup", defaultValue = "10", description = "Seconds of warm-up (default: ${DEFAULT-VALUE}).")
    int warmupSeconds;

    @Option(names = "--seconds", defaultValue = "10", description = "Measured one-second windows (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--neighbour-ops", defaultValue = "0",
            description = "Read-modify-writes on the neighbour, Zipf-distributed keys, per 1,000 on the measured backend"
                    + " (default: ${DEFAULT-VALUE}: an idle neighbour).")
    int neighbourOps;

    /** The neighbour's state and its Zipf key stream while it is busy; null while it is idle or absent. */
    private CheckpointableKeyedStateBackend<Long> neighbour;
    private ValueState<String> neighbourState;
    private int[] neighbourKeys;
    private int neighbourCursor;

    public static void main(String[] args) {
        System.exit(new CommandLine(new SlotSharingBench()).execute(args));
    }

    @Override
    public void run() {
        System.out.printf(Locale.ROOT, "slot sharing: %,d keys per backend, %d MiB managed memory, %d s warm-up,"
                + " %d s measured; %s, %d cores, JDK %s%n", keys, managedMemoryMb, warmupSeconds, seconds,
                System.getProperty("os.arch"), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"));
        List<String> rows = new ArrayList<>();
        try {
            for (String backend : backends) {
                Result alone = measure(backend, false);
                Result beside = measure(backend, true);
                rows.add(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.1f | %.2fx | %s |", backend,
                        alone.median, alone.first, beside.median, beside.first, beside.median / alone.median,
                        beside.share));
            }
        } catch (Exception e) {
            throw new RuntimeException("The slot-sharing benchmark failed", e);
        }
        System.out.println();
        String beside = neighbourOps > 0 ? "beside a busy one" : "beside an idle one";
        System.out.println("| backend | alone ops/ms | alone, first second | " + beside + " ops/ms | beside, first second"
                + " | beside / alone | measured pool's share of the slot's |");
        System.out.println("|---|---|---|---|---|---|---|");
        rows.forEach(System.out::println);
    }

    private record Result(double median, double first, String share) {}

    private Result measure(String backend, boolean beside) throws Exception {
        long managed = (long) managedMemoryMb << 20;
        try (BenchmarkBackend slot = BenchmarkBackend.create(backend, managed, (long) pageCacheKb << 10)) {
            CheckpointableKeyedStateBackend<Long> busy = slot.keyed;
            neighbour = null;
            if (beside) {
                CheckpointableKeyedStateBackend<Long> other = slot.keyed;
                ValueState<String> otherState = state(other);
                load(other, otherState, 1);
                busy = slot.neighbour();
                if (neighbourOps > 0) {
                    neighbour = other;
                    neighbourState = otherState;
                    neighbourKeys = KeyDistribution.zipf.stream(keys, 5);
                }
            }
            ValueState<String> state = state(busy);
            load(busy, state, 2);
            Random random = new Random(3);
            long warmupEnd = System.nanoTime() + warmupSeconds * 1_000_000_000L;
            while (System.nanoTime() < warmupEnd) {
                rewrite(busy, state, random, 1_000);
            }
            double[] windows = new double[seconds];
            for (int w = 0; w < seconds; w++) {
                long start = System.nanoTime();
                long end = start + 1_000_000_000L;
                long ops = 0;
                while (System.nanoTime() < end) {
                    rewrite(busy, state, random, 1_000);
                    ops += 1_000;
                }
                windows[w] = ops / ((System.nanoTime() - start) / 1e6);
            }
            String share = "-";
            if (busy instanceof ZKeyedStateBackend<Long> zstate) {
                PageStoreStats stats = zstate.pageStoreStats();
                share = String.format(Locale.ROOT, "%.0f%%", 100 * stats.slotPoolShare());
                if (neighbour instanceof ZKeyedStateBackend<Long> other) {
                    PageStoreStats its = other.pageStoreStats();
                    share += String.format(Locale.ROOT, " (neighbour %.0f%%, %,d and %,d frames taken from each)",
                            100 * its.slotPoolShare(), stats.framesReclaimedForSlot(), its.framesReclaimedForSlot());
                }
            }
            double first = windows[0];
            Arrays.sort(windows);
            System.out.printf(Locale.ROOT, "  %s %s: median %.1f ops/ms (first second %.1f), share %s%n", backend,
                    beside ? (neighbourOps > 0 ? "beside a busy one" : "beside an idle one") : "alone",
                    windows[seconds / 2], first, share);
            return new Result(windows[seconds / 2], first, share);
        }
    }

    private static ValueState<String> state(CheckpointableKeyedStateBackend<Long> keyed) throws Exception {
        return keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                new ValueStateDescriptor<>("s", String.class));
    }

    private void load(CheckpointableKeyedStateBackend<Long> keyed, ValueState<String> state, long seed)
            throws Exception {
        Random random = new Random(seed);
        byte[] noise = new byte[64];
        for (long key = 0; key < keys; key++) {
            keyed.setCurrentKey(key);
            random.nextBytes(noise);
            state.update(HexFormat.of().formatHex(noise));
        }
    }

    /**
     * {@code count} read-modify-writes of uniform random keys, as a counter job does; then, with a
     * busy neighbour, its share of read-modify-writes of Zipf-distributed keys on it.
     */
    private void rewrite(CheckpointableKeyedStateBackend<Long> keyed, ValueState<String> state, Random random,
            int count) throws Exception {
        for (int i = 0; i < count; i++) {
            rewriteOne(keyed, state, random.nextInt(keys));
        }
        if (neighbour != null) {
            for (int i = 0; i < neighbourOps * count / 1_000; i++) {
                rewriteOne(neighbour, neighbourState, neighbourKeys[neighbourCursor++ & (neighbourKeys.length - 1)]);
            }
        }
    }

    private static void rewriteOne(CheckpointableKeyedStateBackend<Long> keyed, ValueState<String> state, int key)
            throws Exception {
        keyed.setCurrentKey((long) key);
        String value = state.value();
        state.update(value.substring(1) + value.charAt(0));
    }
}

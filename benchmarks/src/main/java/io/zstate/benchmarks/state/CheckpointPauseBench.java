package io.zstate.benchmarks.state;

import io.zstate.flink.ZKeyedStateBackend;
import io.zstate.pagestore.PageStoreStats;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.ObjectName;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.core.fs.local.LocalFileSystem;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory;
import org.apache.flink.util.FileUtils;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * What a checkpoint costs the task as the state grows: the synchronous pause, and the heap,
 * native memory and RSS a checkpoint holds while its asynchronous part runs, on every backend
 * in one run.
 *
 * <pre>
 *   state      --keys ValueState&lt;Long&gt; entries (one per key), or byte[] values of
 *              --value-bytes, loaded once per backend
 *   rounds     --changes random updates, then a checkpoint: its synchronous part timed on the
 *              task thread (snapshot() returning), its asynchronous part run on another thread
 *              to a local file system as Flink's FsCheckpointStreamFactory writes it while the
 *              task thread makes the next round's changes, then confirmed
 *              (notifyCheckpointComplete, so RocksDB's incremental checkpoints refer to the
 *              last one); two warm-up rounds first
 *   memory     heap held by the checkpoint: used heap after a full GC with the checkpoint's
 *              synchronous part done and its asynchronous part not yet run, minus the same
 *              before it; native memory (JVM native memory tracking, committed, the Java heap
 *              excluded) and RSS (VmRSS; the heap is fixed and pre-touched, so RSS growth is
 *              growth outside it) across the whole checkpoint, and their peak sampled during
 *              the asynchronous part
 *   backends   zstate (pool from the managed memory), zstate-incremental, rocksdb-incremental,
 *              rocksdb (full), hashmap, created as a TaskManager creates them (BenchmarkBackend);
 *              shared files registered as the JobManager registers them
 *   written    what each measured checkpoint wrote (getCheckpointedSize), and the state the last
 *              refers to (getStateSize)
 *   restore    (--no-restore to skip) the last checkpoint restored into a fresh backend, then
 *              every key read once: both timed
 * </pre>
 *
 * Absolute times vary from run to run on a shared machine; compare backends and sizes within
 * one run. Run: {@code mvn -q -DskipTests -Pcheckpoint-pause verify [-Dpause.args="..."]}.
 */
@Command(name = "checkpoint-pause", mixinStandardHelpOptions = true,
        description = "Times checkpoints' synchronous pause and their memory on zstate, RocksDB and HashMap.")
public final class CheckpointPauseBench implements Callable<Integer> {

    @Option(names = "--keys", split = ",", description = "state sizes, in keys (default: ${DEFAULT-VALUE})")
    long[] keys = {1_000_000, 4_000_000, 8_000_000};

    @Option(names = "--changes", description = "updates between checkpoints (default: ${DEFAULT-VALUE})")
    int changes = 10_000;

    @Option(names = "--rounds", description = "measured checkpoints per size (default: ${DEFAULT-VALUE})")
    int rounds = 5;

    @Option(names = "--backends", split = ",", description = "default: ${DEFAULT-VALUE}")
    String[] backends = {"zstate", "zstate-incremental", "rocksdb-incremental", "hashmap"};

    @Option(names = "--restore", negatable = true, description = "after the rounds, restore the last checkpoint"
            + " into a fresh backend and read every key once, timed (default: ${DEFAULT-VALUE})")
    boolean restore = true;

    @Option(names = "--managed-memory", description = "the slot's managed memory, MiB (default: ${DEFAULT-VALUE})")
    long managedMiB = 1024;

    @Option(names = "--value-bytes", description = "0: ValueState<Long>; else ValueState<byte[]> of this "
            + "many bytes, half of them random (pages compress about 2:1) (default: ${DEFAULT-VALUE})")
    int valueBytes = 0;

    @Option(names = "--page-cache", description = "zstate's page cache, MiB (default: ${DEFAULT-VALUE})")
    long pageCacheMiB = 8; // zstate's default

    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

    @SuppressWarnings({"unchecked", "rawtypes"})
    private ValueState<Object> valueState(BenchmarkBackend b) throws Exception {
        ValueStateDescriptor descriptor = valueBytes == 0 ? new ValueStateDescriptor<>("value", Types.LONG)
                : new ValueStateDescriptor<>("value",
                        org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer.INSTANCE);
        return (ValueState<Object>) b.keyed.getPartitionedState(VoidNamespace.INSTANCE,
                VoidNamespaceSerializer.INSTANCE, descriptor);
    }

    /** A Long, or the value array with its first half made random again (the rest stays zero). */
    private Object value(long k, byte[] value, Random random) {
        if (valueBytes == 0) {
            return k;
        }
        for (int i = 0; i < valueBytes / 2; i++) {
            value[i] = (byte) random.nextInt();
        }
        return value;
    }

    record Round(double pauseMs, long heapHeld, long nativeGrowth, long nativePeakGrowth, long rssGrowth,
            long rssPeakGrowth, long checkpointBytes, KeyedStateHandle handle) {}

    public static void main(String[] args) {
        System.exit(new CommandLine(new CheckpointPauseBench()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        System.out.printf(Locale.ROOT, "checkpoint pause: %s keys, %,d changes between checkpoints, %d rounds, "
                        + "managed memory %d MiB, zstate page cache %d MiB; %s, %d cores, -Xmx %d MiB%n",
                Arrays.toString(keys), changes, rounds, managedMiB, pageCacheMiB, System.getProperty("java.vm.version"),
                Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20);
        System.out.printf(Locale.ROOT, "%-20s %10s %10s %10s %12s %12s %12s %12s %12s %14s%n", "backend", "keys",
                "pause med", "pause max", "heap held", "native +", "native peak", "RSS +", "RSS peak", "written (max)");
        for (long n : keys) {
            for (String backend : backends) {
                measure(backend, n);
            }
        }
        return 0;
    }

    private void measure(String backend, long n) throws Exception {
        Path dir = Files.createTempDirectory("zstate-checkpoint-pause");
        boolean incremental = backend.endsWith("-incremental");
        String kind = incremental ? backend.substring(0, backend.length() - "-incremental".length()) : backend;
        long pageSize = io.zstate.flink.ZStateOptions.PAGE_SIZE.defaultValue().getBytes();
        try (BenchmarkBackend b = BenchmarkBackend.create(kind, managedMiB << 20, pageCacheMiB << 20, pageSize,
                incremental)) {
            ValueState<Object> state = valueState(b);
            byte[] value = new byte[valueBytes];
            Random values = new Random(7);
            for (long k = 0; k < n; k++) {
                b.keyed.setCurrentKey(k);
                state.update(value(k, value, values));
            }
            FsCheckpointStreamFactory streams = new FsCheckpointStreamFactory(LocalFileSystem.getSharedInstance(),
                    new org.apache.flink.core.fs.Path(dir.resolve("chk").toUri()),
                    new org.apache.flink.core.fs.Path(dir.resolve("shared").toUri()), 20 * 1024, 64 * 1024);
            Files.createDirectories(dir.resolve("chk"));
            Files.createDirectories(dir.resolve("shared"));
            Random random = new Random(n);
            List<Round> measured = new ArrayList<>();
            // as the JobManager does: shared files registered (RocksDB's reused files are placeholders until then)
            org.apache.flink.runtime.state.SharedStateRegistryImpl registry =
                    new org.apache.flink.runtime.state.SharedStateRegistryImpl();
            Runnable changes = () -> {
                for (int i = 0; i < this.changes; i++) {
                    long k = (random.nextLong() & Long.MAX_VALUE) % n;
                    b.keyed.setCurrentKey(k);
                    try {
                        state.update(value(k + i, value, values));
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            };
            changes.run();
            for (int round = 0; round < rounds + 2; round++) {
                // the next round's changes run meanwhile
                boolean last = round == rounds + 1;
                Round r = checkpoint(b, streams, round + 1, changes, incremental || (last && restore), registry);
                if (round >= 2) {
                    measured.add(r);
                }
            }
            report(backend, n, measured, b);
            if (restore) {
                restoreAndRead(kind, incremental, pageSize, n, measured.get(measured.size() - 1).handle());
            }
        } finally {
            FileUtils.deleteDirectory(dir.toFile());
        }
    }

    /**
     * One checkpoint: the synchronous part timed; the asynchronous part on another thread while
     * the task thread makes the next round's changes (as a running job does), memory sampled
     * meanwhile.
     */
    private static Round checkpoint(BenchmarkBackend b, FsCheckpointStreamFactory streams, long id,
            Runnable changes, boolean incremental, org.apache.flink.runtime.state.SharedStateRegistry registry)
            throws Exception {
        System.gc();
        long heapBefore = MEMORY.getHeapMemoryUsage().getUsed();
        long nativeBefore = nativeCommitted();
        long rssBefore = rss();
        long t0 = System.nanoTime();
        RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                b.keyed.snapshot(id, id, streams, CheckpointOptions.forCheckpointWithDefaultLocation());
        double pauseMs = (System.nanoTime() - t0) / 1e6;
        System.gc();
        long heapHeld = MEMORY.getHeapMemoryUsage().getUsed() - heapBefore;
        AtomicLong peakRss = new AtomicLong(rss());
        AtomicLong peakNative = new AtomicLong(nativeCommitted());
        Thread sampler = new Thread(() -> {
            int tick = 0;
            while (!Thread.currentThread().isInterrupted()) {
                peakRss.accumulateAndGet(rss(), Math::max);
                if (++tick % 25 == 0) { // native memory tracking is slower to ask: every 50 ms
                    peakNative.accumulateAndGet(nativeCommitted(), Math::max);
                }
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.setDaemon(true);
        sampler.start();
        Thread asyncPart = new Thread(future, "checkpoint-async-part");
        long bytes;
        SnapshotResult<KeyedStateHandle> result;
        try {
            asyncPart.start();
            changes.run();
            result = future.get();
            bytes = result.getJobManagerOwnedSnapshot() == null ? 0
                    : result.getJobManagerOwnedSnapshot().getCheckpointedSize();
        } finally {
            asyncPart.join();
            sampler.interrupt();
            sampler.join();
        }
        if (result.getJobManagerOwnedSnapshot() != null) {
            result.getJobManagerOwnedSnapshot().registerSharedStates(registry, id);
        }
        ((org.apache.flink.api.common.state.CheckpointListener) b.keyed).notifyCheckpointComplete(id);
        if (!incremental && result.getJobManagerOwnedSnapshot() != null) {
            result.getJobManagerOwnedSnapshot().discardState(); // full checkpoints: keep the disk small
        }
        long nativeAfter = nativeCommitted();
        long rssAfter = rss();
        return new Round(pauseMs, heapHeld, nativeAfter - nativeBefore, Math.max(peakNative.get(), nativeAfter)
                - nativeBefore, rssAfter - rssBefore, Math.max(peakRss.get(), rssAfter) - rssBefore, bytes,
                result.getJobManagerOwnedSnapshot());
    }

    /** Restores a checkpoint into a fresh backend, then reads every key once: both timed. */
    private void restoreAndRead(String kind, boolean incremental, long pageSize, long n, KeyedStateHandle handle)
            throws Exception {
        long t0 = System.nanoTime();
        try (BenchmarkBackend b = BenchmarkBackend.create(kind, managedMiB << 20, pageCacheMiB << 20, pageSize,
                incremental, handle == null ? List.of() : List.of(handle))) {
            double restoreMs = (System.nanoTime() - t0) / 1e6;
            ValueState<Object> state = valueState(b);
            long found = 0;
            long t1 = System.nanoTime();
            for (long k = 0; k < n; k++) {
                b.keyed.setCurrentKey(k);
                if (state.value() != null) {
                    found++;
                }
            }
            double readMs = (System.nanoTime() - t1) / 1e6;
            System.out.printf(Locale.ROOT, "%-20s restore of the last checkpoint %.0f ms, then a read of every key"
                    + " %.0f ms (together %.0f ms); %,d of %,d keys found%n", "", restoreMs, readMs,
                    restoreMs + readMs, found, n);
            if (found != n) {
                throw new IllegalStateException("the restored state lost keys: " + found + " of " + n);
            }
        }
    }

    private static void report(String backend, long n, List<Round> rounds, BenchmarkBackend b) {
        double[] pauses = rounds.stream().mapToDouble(Round::pauseMs).sorted().toArray();
        long heapHeld = rounds.stream().mapToLong(Round::heapHeld).max().orElse(0);
        long nativeGrowth = rounds.stream().mapToLong(Round::nativeGrowth).max().orElse(0);
        long nativePeak = rounds.stream().mapToLong(Round::nativePeakGrowth).max().orElse(0);
        long rssGrowth = rounds.stream().mapToLong(Round::rssGrowth).max().orElse(0);
        long rssPeak = rounds.stream().mapToLong(Round::rssPeakGrowth).max().orElse(0);
        long maxWritten = rounds.stream().mapToLong(Round::checkpointBytes).max().orElse(0);
        System.out.printf(Locale.ROOT, "%-20s %,10d %8.2f ms %7.2f ms %12s %12s %12s %12s %12s %14s%n", backend, n,
                pauses[pauses.length / 2], pauses[pauses.length - 1], mib(heapHeld), mib(nativeGrowth),
                mib(nativePeak), mib(rssGrowth), mib(rssPeak),
                mib(rounds.get(rounds.size() - 1).checkpointBytes()) + " (" + mib(maxWritten) + ")");
        StringBuilder written = new StringBuilder();
        for (Round r : rounds) {
            written.append(written.length() == 0 ? "" : ", ").append(r.checkpointBytes() >> 10);
        }
        KeyedStateHandle last = rounds.get(rounds.size() - 1).handle();
        System.out.printf(Locale.ROOT, "%-20s written per measured checkpoint, KiB: %s; the last refers to %s%n", "",
                written, last == null ? "-" : mib(last.getStateSize()));
        if (b.keyed instanceof ZKeyedStateBackend<?> z) {
            PageStoreStats s = z.pageStoreStats();
            System.out.printf(Locale.ROOT, "%-20s pool payload %s in %s of frames; pinned copies saved %,d "
                            + "(dirty pages copied %,d, written back %,d); pages %,d (hot %,d, pool %,d, spilled %,d)%n",
                    "", mib(s.poolPayloadBytes()), mib(s.poolBytesHeld()), s.pinSaves(), s.pinCopies(),
                    s.pinWritebacks(), s.livePages(), s.hotPages(), s.poolPages(), s.spilledPages());
        }
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }

    /** The process's resident set (VmRSS), bytes; -1 where /proc is not there. */
    static long rss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (Exception e) {
            return -1;
        }
        return -1;
    }

    /**
     * The JVM's committed memory by its own tracking (-XX:NativeMemoryTracking=summary) outside
     * the Java heap, bytes; -1 if tracking is off. (Unsafe allocations, zstate's arenas among
     * them, count under "Other"; RocksDB's own mallocs are not tracked: see RSS.)
     */
    static long nativeCommitted() {
        try {
            String out = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                    new Object[] {new String[] {"summary"}}, new String[] {String[].class.getName()});
            long total = committedAfter(out, "Total: reserved=");
            long heap = committedAfter(out, "Java Heap (reserved=");
            return total < 0 || heap < 0 ? -1 : total - heap;
        } catch (Exception e) {
            return -1;
        }
    }

    private static long committedAfter(String out, String label) {
        int at = out.indexOf(label);
        if (at < 0) {
            return -1;
        }
        int committed = out.indexOf("committed=", at) + "committed=".length();
        int end = committed;
        while (end < out.length() && Character.isDigit(out.charAt(end))) {
            end++;
        }
        long value = Long.parseLong(out.substring(committed, end));
        return out.startsWith("KB", end) ? value * 1024 : out.startsWith("MB", end) ? value << 20 : value;
    }
}

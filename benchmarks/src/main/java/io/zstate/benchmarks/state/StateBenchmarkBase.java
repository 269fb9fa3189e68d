package io.zstate.benchmarks.state;

import static io.zstate.benchmarks.state.StateConstants.MAP_KEYS;
import static io.zstate.benchmarks.state.StateConstants.MAP_KEY_OBJECTS;
import static io.zstate.benchmarks.state.StateConstants.MAP_VALUE_OBJECTS;
import static io.zstate.benchmarks.state.StateConstants.NEW_KEYS;
import static io.zstate.benchmarks.state.StateConstants.NEW_KEY_OBJECTS;
import static io.zstate.benchmarks.state.StateConstants.RANDOM_VALUES;
import static io.zstate.benchmarks.state.StateConstants.RANDOM_VALUE_OBJECTS;
import static io.zstate.benchmarks.state.StateConstants.SETUP_KEYS;
import static io.zstate.benchmarks.state.StateConstants.SETUP_KEY_OBJECTS;

import io.zstate.flink.metrics.ZStateLocalStats;
import io.zstate.pagestore.PageStoreStats;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.state.rocksdb.RocksDBKeyedStateBackend;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The frame of the Value/List/Map state benchmarks, after flink-benchmarks'
 * {@code StateBenchmarkBase}: a keyed backend (zstate, RocksDB or HashMap, see
 * {@link BenchmarkBackend}) sized by a {@link MemoryRegime}, loaded with the 500,000 setup keys
 * once per trial, then one state operation per invocation on the key the regime's
 * {@link KeyDistribution} names next.
 *
 * <p>Setup writes freshly boxed keys and values, as records deserialized by a job would be, so
 * the HashMap backend retains them as it would in a job.
 *
 * <p>Departures from flink-benchmarks, on purpose: keys come from a precomputed stream read by a
 * cursor inside the measured method instead of a {@code Level.Invocation} setup (whose overhead
 * would be a large part of a 100 ns operation); list state is loaded once per trial, not
 * reloaded every iteration, so lists grow by the appends of earlier iterations. RocksDB is
 * compacted after every load (flink-benchmarks does so for list state).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xmx3g", "-XX:MaxDirectMemorySize=3g"})
public abstract class StateBenchmarkBase {

    private static final int STREAM_MASK = KeyDistribution.STREAM_LENGTH - 1;

    @Param({"zstate", "rocksdb", "hashmap"})
    public String backend;

    @Param({"hot", "pool", "spill", "hotspill"})
    public String regime;

    /** S of this state (see {@link StateSize}); 0: measure S and C in setup. */
    @Param({"0"})
    public long stateBytes;

    /** C of this state (see {@link StateSize}); used when {@link #stateBytes} is given. */
    @Param({"0"})
    public long compressedBytes;

    /** zstate's page size in bytes (the suite runs the default, 1 KiB). */
    @Param({"1024"})
    public int pageSize;

    protected CheckpointableKeyedStateBackend<Long> keyed;
    private BenchmarkBackend handle;
    private int[] keyStream;
    private int keyCursor;
    private int newKeyCursor;
    private int valueCursor;
    private int mapKeyCursor;

    /** Which state this benchmark loads and measures. */
    protected abstract StateSize.Kind kind();

    /** The benchmark's state. */
    protected abstract StateDescriptor<?, ?> descriptor();

    /** Creates the benchmark's state and writes the setup keys' entries. */
    protected abstract void createAndLoad() throws Exception;

    @Setup(Level.Trial)
    public void setUpBackend() throws Exception {
        MemoryRegime memory = MemoryRegime.valueOf(regime);
        StateSize.Sizes state = stateBytes > 0 || backend.equals("hashmap")
                ? new StateSize.Sizes(stateBytes, compressedBytes)
                : StateSize.measure(kind(), pageSize);
        handle = BenchmarkBackend.create(backend, memory.managedMemoryBytes(state), memory.pageCacheBytes(state),
                pageSize);
        keyed = handle.keyed;
        long start = System.nanoTime();
        createAndLoad();
        if (keyed instanceof RocksDBKeyedStateBackend<Long> rocksdb) {
            // one compacted LSM, as flink-benchmarks does and as after a restore: otherwise reads
            // pay for the L0 files the load left and for compactions running in the background
            rocksdb.compactState(descriptor());
        }
        keyStream = memory.distribution.stream(SETUP_KEYS, 42);
        System.out.printf("%n# %s %s, state %,d page bytes, %,d compressed: managed memory %,d, page cache %,d;"
                        + " loaded in %.1f s%s%n",
                backend, regime, state.pageBytes(), state.compressedBytes(), memory.managedMemoryBytes(state), memory.pageCacheBytes(state),
                (System.nanoTime() - start) / 1e9, tiers());
    }

    @TearDown(Level.Trial)
    public void tearDownBackend() throws Exception {
        System.out.printf("%n# after the trial%s%n", tiers());
        handle.close();
    }

    private String tiers() {
        PageStoreStats s = ZStateLocalStats.of(keyed);
        if (s == null) {
            return "";
        }
        return String.format("; zstate pages %,d hot / %,d pool / %,d spilled, cache hit %.3f, pool hit %.3f, "
                        + "compression %.2fx, pool frames %,d bytes; stores %,d on the task, %,d from the reaper"
                        + " (%,d races), %,d clean drops, %,d swap-ins, %,d writebacks (%,d from the reaper, %,d"
                        + " waits); entries %,d cached, %,d hits, %,d read misses, %,d admitted,"
                        + " %,d written back; writes %,d buffered, %,d waiting, %.2f per bucket applied, %,d to RocksDB"
                        + " in %,d merges, %,d to warm pages in RocksDB faulted in",
                s.hotPages(), s.poolPages(), s.spilledPages(), s.cacheHitRate(), s.poolHitRate(),
                s.compressionRatio(), s.poolBytesHeld(), s.stores(), s.backgroundCleans(), s.cleaningRaces(),
                s.cleanDrops(), s.swapIns(), s.writebacks(), s.backgroundWritebacks(), s.writebackWaits(),
                s.cachedEntries(), s.entryHits(), s.entryMisses(), s.entryAdmissions(),
                s.entryWriteBacks(), s.bufferedWrites(), s.waitingWrites(), s.writesPerApplication(),
                s.writesToRocksDb(), s.writeMergesToRocksDb(), s.warmPageWrites());
    }

    /** The next setup key in the regime's distribution. */
    protected final Long nextSetupKey() {
        int i = keyCursor;
        keyCursor = (i + 1) & STREAM_MASK;
        return SETUP_KEY_OBJECTS[keyStream[i]];
    }

    /** The next key no setup wrote (cycled uniformly, as flink-benchmarks does). */
    protected final Long nextNewKey() {
        int i = newKeyCursor;
        newKeyCursor = i + 1 == NEW_KEYS ? 0 : i + 1;
        return NEW_KEY_OBJECTS[i];
    }

    protected final Long nextValue() {
        int i = valueCursor;
        valueCursor = i + 1 == RANDOM_VALUES ? 0 : i + 1;
        return RANDOM_VALUE_OBJECTS[i];
    }

    /** Index of the next map key (and its value) in {@link StateConstants}. */
    protected final int nextMapKeyIndex() {
        int i = mapKeyCursor;
        mapKeyCursor = i + 1 == MAP_KEYS ? 0 : i + 1;
        return i;
    }

    protected static Long mapKey(int index) {
        return MAP_KEY_OBJECTS[index];
    }

    protected static Double mapValue(int index) {
        return MAP_VALUE_OBJECTS[index];
    }
}

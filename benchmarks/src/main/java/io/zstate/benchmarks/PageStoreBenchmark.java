package io.zstate.benchmarks;

import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.PageStoreConfig;
import io.zstate.pagestore.PageStoreStats;
import io.zstate.pagestore.ValueView;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
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
 * Point get, put and get+put on a page store holding 1,000,000 {@code ValueState<Long>}-like
 * entries (9-byte keys, 8-byte values, 128 key-groups), uniform over the keys, in three memory
 * regimes:
 *
 * <pre>
 *   hot      the page cache holds every page
 *   pool     the page cache holds about a tenth of the pages; the rest are compressed in the pool
 *   spilled  the same cache; the pool holds about a quarter of the compressed pages; the rest
 *            are in RocksDB
 * </pre>
 *
 * {@link RocksDbBaselineBenchmark} runs the same operations on RocksDB with Flink's default
 * options in the same JMH run. At the end of setup each trial prints the store's memory per
 * entry and its tier counters.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g", "-XX:MaxDirectMemorySize=2g"})
public class PageStoreBenchmark {

    static final int ENTRIES = 1_000_000;
    static final int KEY_GROUPS = 128;

    @Param({"hot", "pool", "spilled"})
    public String regime;

    @Param({"zsmalloc"})
    public String allocator;

    @Param({"1024"})
    public int pageSize;

    private Path directory;
    private PageStore store;
    private int table;
    private int[] order;
    private int cursor;
    private final byte[] key = new byte[StateKeys.KEY_BYTES];
    private final byte[] value = new byte[8];
    private final ValueView view = new ValueView();

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        directory = Files.createTempDirectory("zstate-bench");
        // the state is about 40 MiB of 1 KiB pages, about 25 MiB compressed
        long cacheBytes;
        long poolBytes;
        switch (regime) {
            case "hot" -> {
                cacheBytes = 128L << 20;
                poolBytes = 16L << 20;
            }
            case "pool" -> {
                cacheBytes = 4L << 20;
                poolBytes = 96L << 20;
            }
            case "spilled" -> {
                cacheBytes = 4L << 20;
                poolBytes = 6L << 20;
            }
            default -> throw new IllegalArgumentException("regime " + regime + ": use hot, pool or spilled");
        }
        PageStoreConfig config = PageStoreConfig.defaults(directory)
                .withPageSize(pageSize)
                .withPageCacheBytes(cacheBytes)
                .withPoolBytes(poolBytes)
                .withAllocator(allocator);
        store = new PageStore(config, 0, KEY_GROUPS);
        table = store.createTable("value-state");
        for (int i = 0; i < ENTRIES; i++) {
            StateKeys.write(i, key, 0);
            StateKeys.writeValue(i, value);
            store.put(table, StateKeys.keyGroup(i, KEY_GROUPS), key, 0, key.length, key.length, value, 0, 8);
        }
        order = StateKeys.uniformOrder(ENTRIES, 1 << 22, 7);
        report("after load");
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        report("after run");
        store.close();
        Files.deleteIfExists(directory);
    }

    private void report(String when) {
        PageStoreStats s = store.stats();
        long heap = store.heapBytes();
        long offHeap = store.offHeapBytes();
        long spillMemory = store.spillMemoryBytes();
        System.out.printf(
                "%n[zstate %s %s %d] %s: memory %.1f B/entry (heap %.1f, pool off-heap %.1f, RocksDB memory %.1f),"
                        + " RocksDB disk %.1f B/entry; pages hot %d, pool %d, spilled %d;"
                        + " cache hit %.3f, pool hit %.3f, compression %.2f%n",
                regime, allocator, pageSize, when,
                (double) (heap + offHeap + spillMemory) / ENTRIES,
                (double) heap / ENTRIES,
                (double) offHeap / ENTRIES,
                (double) spillMemory / ENTRIES,
                (double) store.spillDiskBytes() / ENTRIES,
                s.hotPages(), s.poolPages(), s.spilledPages(), s.cacheHitRate(), s.poolHitRate(),
                s.compressionRatio());
    }

    private int next() {
        int i = order[cursor];
        cursor = (cursor + 1) & (order.length - 1);
        StateKeys.write(i, key, 0);
        return i;
    }

    @Benchmark
    public int get() {
        int i = next();
        if (!store.get(table, StateKeys.keyGroup(i, KEY_GROUPS), key, 0, key.length, key.length, view)) {
            throw new IllegalStateException("key " + i + " is missing");
        }
        return view.length();
    }

    @Benchmark
    public void put() {
        int i = next();
        StateKeys.writeValue(cursor, value);
        store.put(table, StateKeys.keyGroup(i, KEY_GROUPS), key, 0, key.length, key.length, value, 0, 8);
    }

    /** A ValueState update: read the value, write a new one (Flink's get + update). */
    @Benchmark
    public void getAndPut() {
        int i = next();
        int keyGroup = StateKeys.keyGroup(i, KEY_GROUPS);
        store.get(table, keyGroup, key, 0, key.length, key.length, view);
        value[7] = (byte) (view.array()[view.offset() + 7] + 1);
        store.put(table, keyGroup, key, 0, key.length, key.length, value, 0, 8);
    }
}

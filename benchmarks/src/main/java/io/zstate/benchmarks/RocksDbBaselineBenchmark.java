package io.zstate.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.flink.state.rocksdb.RocksDBResourceContainer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.FlushOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * The yardstick for {@link PageStoreBenchmark}: the same 1,000,000 entries and operations on a
 * plain RocksDB with Flink's default options ({@code new RocksDBResourceContainer()}: Flink's
 * predefined DEFAULT DB and column-family options, its write options with the WAL off), keys laid
 * out as Flink's RocksDB backend lays them out (key-group (2 bytes) | key | namespace), accessed
 * the way {@code RocksDBValueState} does ({@code db.get(cf, key)}, {@code db.put(cf, wo, key,
 * value)}). After loading, the memtable is flushed and the data compacted, as after a checkpoint.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
public class RocksDbBaselineBenchmark {

    private static final int KEY = 2 + StateKeys.KEY_BYTES;

    private Path directory;
    private RocksDBResourceContainer resources;
    private RocksDB db;
    private ColumnFamilyHandle column;
    private int[] order;
    private int cursor;
    private final byte[] key = new byte[KEY];
    private final byte[] value = new byte[8];

    @Setup(Level.Trial)
    public void setUp() throws IOException, RocksDBException {
        RocksDB.loadLibrary();
        directory = Files.createTempDirectory("zstate-bench-rocksdb");
        resources = new RocksDBResourceContainer();
        db = RocksDB.open(resources.getDbOptions(), directory.toString(),
                java.util.List.of(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY)),
                new java.util.ArrayList<>());
        column = db.createColumnFamily(new ColumnFamilyDescriptor(
                "value-state".getBytes(java.nio.charset.StandardCharsets.UTF_8), resources.getColumnOptions()));
        for (int i = 0; i < PageStoreBenchmark.ENTRIES; i++) {
            writeKey(i);
            StateKeys.writeValue(i, value);
            db.put(column, resources.getWriteOptions(), key, value);
        }
        try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
            db.flush(flush, column);
        }
        db.compactRange(column);
        order = StateKeys.uniformOrder(PageStoreBenchmark.ENTRIES, 1 << 22, 7);
        System.out.printf("%n[rocksdb] after load: %.1f B/entry on disk, %.1f B/entry in memtables + block cache%n",
                (double) db.getLongProperty(column, "rocksdb.total-sst-files-size") / PageStoreBenchmark.ENTRIES,
                (double) (db.getLongProperty(column, "rocksdb.cur-size-all-mem-tables")
                        + db.getLongProperty(column, "rocksdb.block-cache-usage")) / PageStoreBenchmark.ENTRIES);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        column.close();
        db.close();
        resources.close();
        org.apache.flink.util.FileUtils.deleteDirectoryQuietly(directory.toFile());
    }

    private void writeKey(int i) {
        int keyGroup = StateKeys.keyGroup(i, PageStoreBenchmark.KEY_GROUPS);
        key[0] = (byte) (keyGroup >>> 8);
        key[1] = (byte) keyGroup;
        StateKeys.write(i, key, 2);
    }

    private void next() {
        writeKey(order[cursor]);
        cursor = (cursor + 1) & (order.length - 1);
    }

    @Benchmark
    public byte[] get() throws RocksDBException {
        next();
        return db.get(column, key);
    }

    @Benchmark
    public void put() throws RocksDBException {
        next();
        StateKeys.writeValue(cursor, value);
        db.put(column, resources.getWriteOptions(), key, value);
    }

    @Benchmark
    public void getAndPut() throws RocksDBException {
        next();
        byte[] old = db.get(column, key);
        value[7] = (byte) (old[7] + 1);
        db.put(column, resources.getWriteOptions(), key, value);
    }
}

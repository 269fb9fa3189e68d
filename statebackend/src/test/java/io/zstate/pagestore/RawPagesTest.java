package io.zstate.pagestore;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.pagestore.layout.StoredPage;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Pages kept raw in the pool while it has room (raw-pool-fill): a state that fits stays raw; one
 * that outgrows the fill line stays partly raw, all of it in the pool; a state larger than the
 * pool still spills, and reads back.
 */
class RawPagesTest {

    @TempDir
    Path dir;

    /**
     * A pool of 1,024 frames (4 MiB: large enough that zsmalloc's partly used spans of each size
     * class are a small part of it), a page cache of 64 pages of 1 KiB.
     */
    private PageStoreConfig config(String allocator, double rawFill) {
        return PageStoreConfig.defaults(dir)
                .withPageSize(1024)
                .withPageCacheBytes(64 * 1024)
                .withPoolBytes(1024 * 4096)
                .withAllocator(allocator)
                .withReclaimBatchFrames(2)
                .withRawPoolFill(rawFill);
    }

    @ParameterizedTest
    @ValueSource(strings = {"zsmalloc", "zbud"})
    void aStateThatFitsUnderTheLineStaysRaw(String allocator) {
        byte[][] model = new byte[20000][]; // about 1,200 pages
        try (PageStore store = new PageStore(config(allocator, 0.8), 0, 1)) {
            int table = store.createTable("t");
            fill(store, table, model, new Random(1), 3);
            PageStoreStats stats = store.stats();
            assertThat(stats.rawPoolPages()).as("pages raw in the pool").isPositive();
            assertThat(stats.rawStores()).isPositive();
            assertThat(stats.rawDrained()).as("nothing had to be compressed").isZero();
            assertThat(stats.compressedBytesStored()).isZero();
            assertThat(stats.spilledPages()).isZero();
            store.checkInvariants();
            assertReadsBack(store, table, model);
        }
    }

    /** Raw pool objects written back (a batch of the pool's coldest frames) reach RocksDB compressed. */
    @Test
    void rawPagesWrittenBackReachRocksDBCompressed() {
        byte[][] model = new byte[20000][];
        try (PageStore store = new PageStore(config("zsmalloc", 0.8), 0, 1)) {
            int table = store.createTable("t");
            fill(store, table, model, new Random(4), 1);
            assertThat(store.stats().rawPoolPages()).isPositive();
            assertThat(store.reclaimForSlot(64)).as("frames written back").isGreaterThanOrEqualTo(64);
            PageStoreStats stats = store.stats();
            assertThat(stats.writebacks()).isPositive();
            assertThat(store.spilledCopiesWith(StoredPage.RAW)).as("raw pages in RocksDB").isZero();
            assertThat(store.spilledCopiesWith(StoredPage.LZ4)).isEqualTo(stats.spilledPages()).isPositive();
            store.checkInvariants();
            assertReadsBack(store, table, model);
        }
    }

    @Test
    void withTheLineAtZeroEveryPageIsCompressed() {
        byte[][] model = new byte[30000][];
        try (PageStore store = new PageStore(config("zsmalloc", 0), 0, 1)) {
            int table = store.createTable("t");
            fill(store, table, model, new Random(1), 3);
            assertThat(store.stats().rawStores()).isZero();
            assertThat(store.stats().rawPoolPages()).isZero();
            assertReadsBack(store, table, model);
        }
    }

    /**
     * About 4,500 pages: too many to keep raw under the line (819 frames), few enough to fit the
     * pool compressed (they compress about 2x): a store at or over the line compresses its page, so
     * the state ends partly raw, and all of it stays in the pool. (zsmalloc: zbud keeps two
     * objects a frame whatever their size, so this state does not fit its pool compressed either.)
     */
    @Test
    void aStateThatOutgrowsTheLineStaysPartlyRawAndAllInThePool() {
        byte[][] model = new byte[76000][];
        try (PageStore store = new PageStore(config("zsmalloc", 0.8), 0, 1)) {
            int table = store.createTable("t");
            fill(store, table, model, new Random(2), 3);
            PageStoreStats stats = store.stats();
            assertThat(stats.rawStores()).as("the state started raw").isPositive();
            assertThat(stats.rawPoolPages()).as("raw copies left").isPositive().isLessThan(stats.poolPages());
            assertThat(stats.compressedBytesStored()).as("pages compressed at the line").isPositive();
            assertThat(stats.writebacks() + stats.directSpills()).as("pages written to RocksDB").isZero();
            assertThat(stats.spilledPages()).isZero();
            store.checkInvariants();
            assertReadsBack(store, table, model);
        }
    }

    /**
     * Far more than the pool holds: near the budget raw copies are compressed where they are, the
     * rest go to RocksDB with the writeback, compressed, and all reads back.
     */
    @ParameterizedTest
    @ValueSource(strings = {"zsmalloc", "zbud"})
    void aStateLargerThanThePoolSpillsAndReadsBack(String allocator) {
        byte[][] model = new byte[200000][];
        try (PageStore store = new PageStore(config(allocator, 0.9), 0, 1)) {
            int table = store.createTable("t");
            fill(store, table, model, new Random(3), 2);
            PageStoreStats stats = store.stats();
            assertThat(stats.rawStores()).isPositive();
            assertThat(stats.rawDrained()).as("raw copies compressed near the budget").isPositive();
            assertThat(stats.spilledPages()).as("pages in RocksDB").isPositive();
            assertThat(stats.rawPoolPages()).isZero();
            // a raw pool object written back reaches RocksDB compressed, as a store would have sent it
            assertThat(store.spilledCopiesWith(StoredPage.RAW)).as("raw pages in RocksDB").isZero();
            assertThat(store.spilledCopiesWith(StoredPage.LZ4)).isEqualTo(stats.spilledPages());
            store.checkInvariants();
            assertReadsBack(store, table, model);
        }
    }

    /** Values of 16 bytes, half random and half zeros: pages compress about 2x. */
    private static void fill(PageStore store, int table, byte[][] model, Random random, int rounds) {
        for (int round = 0; round < rounds; round++) {
            for (int k = 0; k < model.length; k++) {
                byte[] key = valueKey(k);
                byte[] value = new byte[16];
                random.nextBytes(value);
                java.util.Arrays.fill(value, 8, 16, (byte) 0);
                store.put(table, 0, key, 0, key.length, key.length, value, 0, value.length);
                model[k] = value;
            }
        }
    }

    /** An 8-byte key. */
    private static byte[] valueKey(int k) {
        return new byte[] {1, 0, 0, 0, (byte) (k >>> 24), (byte) (k >>> 16), (byte) (k >>> 8), (byte) k};
    }

    private static void assertReadsBack(PageStore store, int table, byte[][] model) {
        ValueView view = new ValueView();
        for (int k = 0; k < model.length; k++) {
            byte[] key = valueKey(k);
            assertThat(store.get(table, 0, key, 0, key.length, key.length, view)).as("key %d", k).isTrue();
            assertThat(view.toByteArray()).as("key %d", k).isEqualTo(model[k]);
        }
        store.checkInvariants();
    }
}

package io.zstate.pagestore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;


import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import io.zstate.pagestore.snapshot.FrozenView;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.statistics.Statistics;

/**
 * The page store against a TreeMap model, with budgets tiny enough that every path between the
 * tiers runs: store, bounce, reclaim (writeback), clean drop, swap-in, same-filled pages, large
 * values, keys longer than half a page (in blob chains), deletes and clears, large maps in map
 * indexes; for zsmalloc, zbud, z3fold, zlog and xcfmalloc. Snapshots are frozen among the steps, several
 * open at once, read while the store goes on (with reclaim, writeback and compaction of their
 * pinned copies) against the model as of their freeze, and released in any order, one of them
 * after the store closed. The background reaper's steps (collect dirty victims, compress them
 * outside the lock, install what did not change meanwhile) run among the operations, and so do the
 * slot's reaper's reclaims of a batch of the pool's coldest frames for another pool. The store's page-location checker (pins included) and the pool's
 * invariant checker run after every step.
 */
class PageStoreModelPropertyTest {

    enum Kind {
        PUT, MAP_PUT, GET, MAP_GET, DELETE, MAP_DELETE, APPEND, ITER_PREFIX, ITER_GROUP, CLEAR, DELETE_GROUP,
        MAP_BULK_PUT, MAP_CLEAR, MAP_EMPTY, MAP_ITER_BATCHES, FREEZE, CHECK_SNAPSHOT, RELEASE_SNAPSHOT, COMPACT,
        // the background reaper's three steps, interleaved with the task's operations as its thread may
        CLEAN_COLLECT, CLEAN_COMPRESS, CLEAN_INSTALL,
        // the three back to back: a batch the task did not touch meanwhile
        CLEAN_CYCLE,
        // the slot's reaper takes a batch of the pool's coldest frames for another pool of the slot
        RECLAIM_FOR_SLOT,
        // writeback off the task's thread: the task isolates the pool's coldest frames, the reaper
        // commits their pages to RocksDB, the task completes (or, completing early, commits itself)
        WRITEBACK_ISOLATE, WRITEBACK_COMMIT, WRITEBACK_COMPLETE,
        // the three with the task's writes between them
        WRITEBACK_CYCLE
    }

    record Op(Kind kind, int table, int keyGroup, int keyId, int userKey, int valueSize, int seed) {}

    static final int FIRST_KEY_GROUP = 10;
    static final int KEY_GROUPS = 3;

    @Provide
    Arbitrary<List<Op>> ops() {
        return op().list().ofMinSize(50).ofMaxSize(400);
    }

    /** One operation of the mix above (the entry-cache resize test interleaves runs of them). */
    static Arbitrary<Op> op() {
        return op(Arbitraries.frequency(
                Tuple.of(30, Kind.PUT),
                Tuple.of(14, Kind.MAP_PUT),
                Tuple.of(12, Kind.GET),
                Tuple.of(6, Kind.MAP_GET),
                Tuple.of(8, Kind.DELETE),
                Tuple.of(4, Kind.MAP_DELETE),
                Tuple.of(8, Kind.APPEND),
                Tuple.of(5, Kind.ITER_PREFIX),
                Tuple.of(3, Kind.ITER_GROUP),
                Tuple.of(1, Kind.CLEAR),
                Tuple.of(2, Kind.DELETE_GROUP),
                Tuple.of(3, Kind.MAP_BULK_PUT),
                Tuple.of(1, Kind.MAP_CLEAR),
                Tuple.of(2, Kind.MAP_EMPTY),
                Tuple.of(3, Kind.MAP_ITER_BATCHES),
                Tuple.of(3, Kind.FREEZE),
                Tuple.of(3, Kind.CHECK_SNAPSHOT),
                Tuple.of(2, Kind.RELEASE_SNAPSHOT),
                Tuple.of(2, Kind.COMPACT),
                Tuple.of(3, Kind.CLEAN_COLLECT),
                Tuple.of(3, Kind.CLEAN_COMPRESS),
                Tuple.of(3, Kind.CLEAN_INSTALL),
                Tuple.of(3, Kind.CLEAN_CYCLE),
                Tuple.of(2, Kind.RECLAIM_FOR_SLOT),
                Tuple.of(2, Kind.WRITEBACK_ISOLATE),
                Tuple.of(2, Kind.WRITEBACK_COMMIT),
                Tuple.of(2, Kind.WRITEBACK_COMPLETE),
                Tuple.of(3, Kind.WRITEBACK_CYCLE)));
    }

    /** An operation of kinds drawn from {@code kinds}, on keys, key-groups and value sizes as above. */
    static Arbitrary<Op> op(Arbitrary<Kind> kinds) {
        return op(kinds, Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.integers().between(1, 24)),
                Tuple.of(3, Arbitraries.integers().between(25, 240)),
                Tuple.of(2, Arbitraries.integers().between(241, 3000)), // blobs from ~490 B with 1 KiB pages
                Tuple.of(1, Arbitraries.integers().between(3001, 40000))),
                Arbitraries.integers().between(0, 150), Arbitraries.integers().between(0, 255));
    }

    /** An operation of kinds drawn from {@code kinds}, of values of {@code valueSizes}, on these keys. */
    static Arbitrary<Op> op(Arbitrary<Kind> kinds, Arbitrary<Integer> valueSizes, Arbitrary<Integer> keyIds,
            Arbitrary<Integer> userKeys) {
        return Combinators.combine(
                        kinds,
                        Arbitraries.integers().between(0, 1),
                        Arbitraries.integers().between(FIRST_KEY_GROUP, FIRST_KEY_GROUP + KEY_GROUPS - 1),
                        keyIds,
                        userKeys,
                        valueSizes,
                        Arbitraries.integers())
                .as(Op::new);
    }

    @Provide
    Arbitrary<String> allocators() {
        return Arbitraries.of("zsmalloc", "zbud", "z3fold", "zlog", "xcfmalloc");
    }

    /** No entry cache, or a small one (4-16 KiB: records leave it often, so write-backs are many). */
    @Provide
    Arbitrary<Long> entryCaches() {
        return Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.just(0L)),
                Tuple.of(2, Arbitraries.longs().between(4096, 16384)));
    }

    /** No write buffer, or a small one (4-16 KiB: buckets are applied for room often). */
    @Provide
    Arbitrary<Long> writeBuffers() {
        return Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.just(0L)),
                Tuple.of(2, Arbitraries.longs().between(4096, 16384)));
    }

    /** Which writes wait: those of pages in RocksDB (the default) or of any page not cached. */
    @Provide
    Arbitrary<String> waitsFor() {
        return Arbitraries.of(PageStoreConfig.WAITS_FOR);
    }

    /** {@code config} with an entry cache and a write buffer, the page cache grown by both: the pages keep {@code cachePages}. */
    static PageStoreConfig withCaches(PageStoreConfig config, int cachePages, long entryCacheBytes,
            long writeBufferBytes) {
        return config.withPageCacheBytes(cachePages * 1024L + entryCacheBytes + writeBufferBytes)
                .withEntryCacheBytes(entryCacheBytes).withWriteBufferBytes(writeBufferBytes);
    }

    /** The pool's fill line for raw pages: 0 (every page compressed), half, most. */
    @Provide
    Arbitrary<Double> rawFills() {
        return Arbitraries.of(0.0, 0.5, 0.9);
    }

    @Provide
    Arbitrary<Double> bouncerRatios() {
        return Arbitraries.of(1.0, 1.2, 2.5);
    }

    @Property(tries = 60)
    void behavesLikeASortedMapThroughEveryTier(
            @ForAll("ops") List<Op> ops,
            @ForAll("allocators") String allocator,
            @ForAll("bouncerRatios") double bouncerRatio,
            @ForAll @IntRange(min = 8, max = 24) int cachePages,
            @ForAll boolean evictionsCleanAhead,
            @ForAll("entryCaches") long entryCacheBytes,
            @ForAll("writeBuffers") long writeBufferBytes,
            @ForAll("waitsFor") String waitsFor,
            @ForAll boolean zstd,
            @ForAll("rawFills") double rawFill)
            throws IOException {
        Path dir = Files.createTempDirectory("zstate-pagestore-test");
        PageStoreConfig config = compressed(withCaches(tiny(dir, allocator, cachePages).withBouncerMinRatio(bouncerRatio),
                cachePages, entryCacheBytes, writeBufferBytes), zstd).withRawPoolFill(rawFill)
                .withWriteBufferWaitsFor(waitsFor);
        PageStore store = new PageStore(config, FIRST_KEY_GROUP, KEY_GROUPS);
        if (evictionsCleanAhead) {
            // as with a reaper registered: evictions install and submit, isolate and complete; the
            // CLEAN_* steps compress, the WRITEBACK_* steps commit
            store.cleanInBackground(() -> {});
            store.writeBackInBackground(() -> {});
        }
        Path spillDir = store.spillDirectory();
        OpenSnapshots snapshots = new OpenSnapshots(true);
        try {
            synchronized (store) { // the store's lock, which frozen views read under
                createTables(store);
                TreeMap<String, byte[]> model = new TreeMap<>();
                ValueView view = new ValueView();
                for (Op op : ops) {
                    step(store, model, view, op, snapshots);
                    store.checkInvariants();
                }
                verifyAll(store, model, view);
                snapshots.checkAll();
                PageStoreStats stats = store.stats();
                Statistics.label("pin copies").collect(stats.pinCopies() > 0);
                Statistics.label("pin writebacks").collect(stats.pinWritebacks() > 0);
                Statistics.label("snapshots checked").collect(snapshots.checked > 0);
                // release in random order, one kept open across the store's close
                Random random = new Random(ops.size());
                snapshots.keepOneOpen = random.nextBoolean();
                snapshots.releaseAllButMaybeOne(random);
                store.checkInvariants();
                if (!snapshots.keepOneOpen || snapshots.views.isEmpty()) {
                    assertThat(store.stats().pinnedPoolObjects()).as("pinned objects after every release").isZero();
                    assertThat(store.stats().pinnedSpilled()).as("pinned RocksDB copies after every release").isZero();
                }
                Statistics.label("pool stores").collect(stats.poolPages() > 0 || stats.poolHits() > 0);
                Statistics.label("writebacks").collect(stats.writebacks() > 0);
                Statistics.label("reclaimed for the slot").collect(stats.framesReclaimedForSlot() > 0);
                Statistics.label("background writebacks").collect(stats.backgroundWritebacks() > 0);
                Statistics.label("writeback waits").collect(stats.writebackWaits() > 0);
                Statistics.label("background cleans").collect(stats.backgroundCleans() > 0);
                Statistics.label("cleaning races").collect(stats.cleaningRaces() > 0);
                Statistics.label("swap-ins").collect(stats.swapIns() > 0);
                Statistics.label("clean drops").collect(stats.cleanDrops() > 0);
                Statistics.label("bounced").collect(stats.bounced() > 0);
                Statistics.label("same-filled").collect(stats.sameFilledStores() > 0);
                Statistics.label("pool hits").collect(stats.poolHits() > 0);
                Statistics.label("long keys").collect(model.keySet().stream().anyMatch(k -> k.length() > 1200));
                Statistics.label("map indexes").collect(store.mapIndexes() > 0);
                Statistics.label("entry hits").collect(stats.entryHits() > 0);
                Statistics.label("entry write-backs").collect(stats.entryWriteBacks() > 0);
                Statistics.label("zstd stores").collect(stats.dictionaryStores() > 0);
                Statistics.label("raw stores").collect(stats.rawStores() > 0);
                Statistics.label("raw copies drained").collect(stats.rawDrained() > 0);
                Statistics.label("zstd recompressions").collect(stats.recompressions() > 0);
                Statistics.label("buffered writes").collect(stats.bufferedWrites() > 0);
                Statistics.label("buckets applied with several writes").collect(stats.writesPerApplication() > 1);
            }
        } finally {
            store.close();
        }
        if (!snapshots.views.isEmpty()) {
            assertThat(spillDir).as("a snapshot open across the close keeps the spill store").exists();
            snapshots.checkAll(); // reads as of its freeze, from a closed store
            snapshots.releaseAllButMaybeOne(null);
        }
        assertReleased(store, spillDir, dir);
        for (String label : List.of("pool stores", "writebacks", "swap-ins", "clean drops", "bounced",
                "same-filled", "pool hits", "long keys", "map indexes", "pin copies", "pin writebacks",
                "snapshots checked", "background cleans", "cleaning races", "entry hits", "entry write-backs",
                "buffered writes", "buckets applied with several writes", "background writebacks",
                "writeback waits")) {
            Statistics.label(label).coverage(c -> c.check(true).count(n -> n > 0));
        }
        // half the tries are zstd; of those, the ones that store the 32 pages a dictionary needs
        Statistics.label("zstd stores").coverage(c -> c.check(true).percentage(p -> p >= 15));
        Statistics.label("zstd recompressions").coverage(c -> c.check(true).count(n -> n > 0));
    }

    /**
     * Blind writes under a write buffer, most pages in RocksDB (those that compress less than 2.5x
     * go there when stored): the buckets of pages in RocksDB send their waiting writes
     * there, and the store still behaves like the model through reads, walks, snapshots, table
     * clears and key-group deletes, which apply them first.
     */
    @Property(tries = 30)
    void writesWaitingInRocksDbComeBackInOrder(
            @ForAll("blindWrites") List<Op> ops,
            @ForAll("allocators") String allocator,
            @ForAll @IntRange(min = 8, max = 12) int cachePages)
            throws IOException {
        Path dir = Files.createTempDirectory("zstate-pagestore-test");
        // pages that do not compress 2.5x (most, with random values) go to RocksDB when stored
        PageStoreConfig config = withCaches(tiny(dir, allocator, cachePages).withBouncerMinRatio(2.5),
                cachePages, 0, 4096);
        PageStoreStats stats = runAgainstTheModel(config, ops, dir);
        Statistics.label("writes sent to RocksDB").collect(stats.writesToRocksDb() > 0);
        Statistics.label("several writes a merge").collect(stats.writesToRocksDb() > stats.writeMergesToRocksDb());
        Statistics.label("writes sent to RocksDB").coverage(c -> c.check(true).percentage(p -> p >= 50));
        Statistics.label("several writes a merge").coverage(c -> c.check(true).count(n -> n > 0));
    }

    /**
     * Hot keys through the entry cache: reads and writes of few value keys (and of map entries,
     * which go to the pages beside them), values of two lengths (so a write often overwrites a
     * cached record in place, leaving it dirty), walks, clears and snapshots in between, which
     * must see every cached write. Against the model.
     */
    @Property(tries = 40)
    void hotKeysThroughTheEntryCacheBehaveLikeAMap(
            @ForAll("hotKeys") List<Op> ops,
            @ForAll("allocators") String allocator,
            @ForAll @IntRange(min = 8, max = 12) int cachePages,
            @ForAll("writeBuffers") long writeBufferBytes)
            throws IOException {
        Path dir = Files.createTempDirectory("zstate-pagestore-test");
        PageStoreConfig config = withCaches(tiny(dir, allocator, cachePages), cachePages, 16 * 1024, writeBufferBytes);
        Statistics.label("entry hits").collect(runAgainstTheModel(config, ops, dir).entryHits() > 0);
        Statistics.label("entry hits").coverage(c -> c.check(true).percentage(p -> p >= 90));
    }

    /**
     * Runs {@code ops} on a new store and the model, checking the store's invariants after each;
     * then every key against the model, every open snapshot, and that the store's memory and
     * files are released once it is closed.
     *
     * @return the store's statistics right after the operations
     */
    private static PageStoreStats runAgainstTheModel(PageStoreConfig config, List<Op> ops, Path dir)
            throws IOException {
        PageStore store = new PageStore(config, FIRST_KEY_GROUP, KEY_GROUPS);
        Path spillDir = store.spillDirectory();
        OpenSnapshots snapshots = new OpenSnapshots(true);
        PageStoreStats stats;
        try {
            synchronized (store) { // the store's lock, which frozen views read under
                createTables(store);
                TreeMap<String, byte[]> model = new TreeMap<>();
                ValueView view = new ValueView();
                for (Op op : ops) {
                    step(store, model, view, op, snapshots);
                    store.checkInvariants();
                }
                stats = store.stats();
                verifyAll(store, model, view);
                snapshots.checkAll();
                snapshots.releaseAllButMaybeOne(null);
                store.checkInvariants();
            }
        } finally {
            store.close();
        }
        assertReleased(store, spillDir, dir);
        return stats;
    }

    /** Reads and writes of few keys (value lengths 8 and 9), some deletes, walks, clears and snapshots. */
    @Provide
    Arbitrary<List<Op>> hotKeys() {
        return op(Arbitraries.frequency(
                Tuple.of(200, Kind.GET),
                Tuple.of(200, Kind.MAP_GET),
                Tuple.of(80, Kind.PUT),
                Tuple.of(80, Kind.MAP_PUT),
                Tuple.of(12, Kind.DELETE),
                Tuple.of(12, Kind.MAP_DELETE),
                Tuple.of(8, Kind.APPEND),
                Tuple.of(4, Kind.ITER_PREFIX),
                Tuple.of(2, Kind.MAP_CLEAR),
                Tuple.of(3, Kind.MAP_EMPTY),
                Tuple.of(1, Kind.ITER_GROUP),
                Tuple.of(3, Kind.FREEZE),
                Tuple.of(3, Kind.CHECK_SNAPSHOT),
                Tuple.of(3, Kind.RELEASE_SNAPSHOT)), Arbitraries.integers().between(7, 8),
                Arbitraries.integers().between(0, 30), Arbitraries.integers().between(0, 11))
                .list().ofMinSize(500).ofMaxSize(1500);
    }

    /**
     * Mostly blind writes of small values over many short keys (they wait in the buffer: more
     * buckets than the page cache holds), some reads, walks and snapshots.
     */
    @Provide
    Arbitrary<List<Op>> blindWrites() {
        return op(Arbitraries.frequency(
                Tuple.of(360, Kind.PUT),
                Tuple.of(270, Kind.MAP_PUT),
                Tuple.of(60, Kind.DELETE),
                Tuple.of(60, Kind.MAP_DELETE),
                Tuple.of(45, Kind.APPEND),
                Tuple.of(30, Kind.GET),
                Tuple.of(30, Kind.MAP_GET),
                Tuple.of(1, Kind.ITER_GROUP),
                Tuple.of(1, Kind.CLEAR),
                Tuple.of(1, Kind.DELETE_GROUP),
                Tuple.of(3, Kind.FREEZE),
                Tuple.of(3, Kind.CHECK_SNAPSHOT),
                Tuple.of(3, Kind.RELEASE_SNAPSHOT)), Arbitraries.integers().between(1, 120),
                Arbitraries.integers().between(0, 3000).filter(k -> valueKey(k).length < 100),
                Arbitraries.integers().between(0, 255).filter(u -> mapKey(0, u).length < 100))
                .list().ofMinSize(1500).ofMaxSize(3000);
    }

    // ==== with faults ==============================================================================

    /** Per seam: failures injected, and of those, how many the store absorbed and how many failed it. */
    private static final Map<Faults.Seam, long[]> OUTCOMES = new EnumMap<>(Faults.Seam.class);

    /** Fails a seam at random, at a rate per seam; counts what it injects. */
    static final class RandomFaults implements Faults {
        final Random random;
        final double[] rates;
        boolean armed;
        final List<Faults.Seam> injected = new ArrayList<>();

        RandomFaults(long seed) {
            this.random = new Random(seed);
            this.rates = new double[Faults.Seam.values().length];
            rates[Faults.Seam.ARENA.ordinal()] = 0.5;
            rates[Faults.Seam.COMPRESS.ordinal()] = 0.05;
            // the seams that fail the store: rare enough that many sequences get deep before one fires
            rates[Faults.Seam.DECOMPRESS.ordinal()] = random.nextDouble() * 0.1;
            rates[Faults.Seam.SPILL_WRITE.ordinal()] = random.nextDouble() * 0.1;
            rates[Faults.Seam.SPILL_READ.ordinal()] = random.nextDouble() * 0.15;
        }

        @Override
        public boolean fail(Faults.Seam seam) {
            if (armed && random.nextDouble() < rates[seam.ordinal()]) {
                injected.add(seam);
                return true;
            }
            return false;
        }
    }

    /**
     * The same model test with failures injected at every seam where the store meets the outside
     * (arena memory, codec, spill-store reads and writes). After each operation either it
     * completed and the model still matches (an arena refusal or a failing compressor is absorbed:
     * the page spills), or it threw, and then the store is failed and every later call throws
     * PageStoreFailedException. Close returns every byte whatever happened.
     */
    @Property(tries = 100)
    void failsCleanlyWhereverTheOutsideFails(
            @ForAll("ops") List<Op> ops,
            @ForAll("allocators") String allocator,
            @ForAll @IntRange(min = 8, max = 24) int cachePages,
            @ForAll long seed,
            @ForAll("entryCaches") long entryCacheBytes,
            @ForAll("writeBuffers") long writeBufferBytes,
            @ForAll("waitsFor") String waitsFor,
            @ForAll boolean zstd)
            throws IOException {
        Path dir = Files.createTempDirectory("zstate-pagestore-faults");
        PageStoreConfig config = compressed(withCaches(tiny(dir, allocator, cachePages), cachePages, entryCacheBytes,
                writeBufferBytes), zstd).withWriteBufferWaitsFor(waitsFor);
        RandomFaults faults = new RandomFaults(seed);
        PageStore store = new PageStore(config, FIRST_KEY_GROUP, KEY_GROUPS, (io.zstate.allocator.MemoryBudget) null, faults);
        Path spillDir = store.spillDirectory();
        OpenSnapshots snapshots = new OpenSnapshots(false); // read unarmed, below
        String outcome = "completed";
        try {
            synchronized (store) { // the store's lock, which frozen views read under
                createTables(store);
                TreeMap<String, byte[]> model = new TreeMap<>();
                ValueView view = new ValueView();
                for (Op op : ops) {
                    if (op.kind() == Kind.CHECK_SNAPSHOT) {
                        snapshots.check(op.seed()); // a snapshot read that fails fails the checkpoint, not the store
                        continue;
                    }
                    faults.injected.clear();
                    faults.armed = true;
                    RuntimeException thrown = null;
                    try {
                        step(store, model, view, op, snapshots);
                    } catch (RuntimeException e) {
                        thrown = e;
                    } finally {
                        faults.armed = false;
                    }
                    if (thrown != null) {
                        assertThat(faults.injected).as("a failure with nothing injected: %s", thrown).isNotEmpty();
                        Faults.Seam cause = faults.injected.get(faults.injected.size() - 1);
                        assertThat(cause).as("the seam that failed the store").isIn(
                                Faults.Seam.DECOMPRESS, Faults.Seam.SPILL_WRITE, Faults.Seam.SPILL_READ);
                        assertThat(store.isFailed()).as("an operation threw %s but the store is not failed", thrown)
                                .isTrue();
                        assertThat(thrown).isInstanceOf(PageStoreFailedException.class);
                        count(faults.injected.subList(0, faults.injected.size() - 1), false);
                        count(List.of(cause), true);
                        assertEveryCallThrows(store, view);
                        outcome = "failed";
                        break;
                    }
                    count(faults.injected, false);
                    store.checkInvariants();
                }
                if (!store.isFailed()) {
                    verifyAll(store, model, view);
                    snapshots.checkAll();
                }
                snapshots.releaseAllButMaybeOne(new Random(seed));
            }
        } finally {
            store.close();
        }
        assertReleased(store, spillDir, dir);
        Statistics.label("outcome").collect(outcome);
        Statistics.label("outcome").coverage(c -> {
            c.check("completed").count(n -> n > 0);
            c.check("failed").count(n -> n > 0);
        });
    }

    private static void count(List<Faults.Seam> seams, boolean failedTheStore) {
        synchronized (OUTCOMES) {
            for (Faults.Seam seam : seams) {
                long[] counts = OUTCOMES.computeIfAbsent(seam, s -> new long[2]);
                counts[failedTheStore ? 1 : 0]++;
            }
        }
    }

    static void assertEveryCallThrows(PageStore store, ValueView view) {
        byte[] key = valueKey(1);
        for (Runnable call : List.<Runnable>of(
                () -> store.get(0, FIRST_KEY_GROUP, key, 0, key.length, key.length, view),
                () -> store.put(0, FIRST_KEY_GROUP, key, 0, key.length, key.length, key, 0, key.length),
                () -> store.delete(0, FIRST_KEY_GROUP, key, 0, key.length, key.length),
                () -> store.forEachInKeyGroup(0, FIRST_KEY_GROUP, (k, ko, kl, v, vo, vl) -> {}),
                () -> store.clear(0),
                store::freeze)) {
            assertThatThrownBy(call::run).isInstanceOf(PageStoreFailedException.class)
                    .hasMessageContaining("The zstate page store failed while")
                    .hasMessageContaining("restore from its last checkpoint");
        }
    }

    /** Every seam was injected, the absorbed ones never failed the store, the others always did. */
    @AfterContainer
    static void everySeamWasHit() {
        System.out.println("page store fault injection, per seam: injected = absorbed + failed the store");
        for (Faults.Seam seam : Faults.Seam.values()) {
            long[] counts = OUTCOMES.getOrDefault(seam, new long[2]);
            System.out.printf("  %-12s %6d = %6d + %6d%n", seam, counts[0] + counts[1], counts[0], counts[1]);
        }
        for (Faults.Seam seam : Faults.Seam.values()) {
            assertThat(OUTCOMES).as("seam %s was never hit", seam).containsKey(seam);
        }
        assertThat(OUTCOMES.get(Faults.Seam.ARENA)[1]).as("an arena refusal failed the store").isZero();
        assertThat(OUTCOMES.get(Faults.Seam.COMPRESS)[1]).as("a compressor failure failed the store").isZero();
        assertThat(OUTCOMES.get(Faults.Seam.ARENA)[0]).isPositive();
        assertThat(OUTCOMES.get(Faults.Seam.COMPRESS)[0]).isPositive();
        for (Faults.Seam fatal : List.of(Faults.Seam.DECOMPRESS, Faults.Seam.SPILL_WRITE, Faults.Seam.SPILL_READ)) {
            assertThat(OUTCOMES.get(fatal)[1]).as("%s failed the store at least once", fatal).isPositive();
        }
    }

    /** 1 KiB pages, a cache of {@code cachePages}, a 16-frame pool reclaimed two frames at a time. */
    /** After close: no frame, arena or spill directory is left; removes the test's directory. */
    static void assertReleased(PageStore store, Path spillDir, Path dir) throws IOException {
        assertThat(store.framesInUse()).as("off-heap frames after close").isZero();
        assertThat(store.liveArenas()).as("arenas after close").isZero();
        assertThat(spillDir).doesNotExist();
        Files.deleteIfExists(dir);
    }

    /**
     * {@code config} with zstd and a dictionary trained on the 16 pages after the first 16 (on the
     * encoding thread: runs repeat), the pool grown by the zstd contexts' reserve; or as it is.
     */
    static PageStoreConfig compressed(PageStoreConfig config, boolean zstd) {
        return zstd ? config.withPoolBytes(config.poolBytes() + io.zstate.pagestore.tier.PageCodec.ZSTD_NATIVE_RESERVE)
                .withPageCompression(PageStoreConfig.ZSTD, 16) : config;
    }

    static PageStoreConfig tiny(Path dir, String allocator, int cachePages) {
        return PageStoreConfig.defaults(dir)
                .withPageSize(1024)
                .withPageCacheBytes(cachePages * 1024L)
                .withPoolBytes(16 * 4096)
                .withAllocator(allocator)
                .withReclaimBatchFrames(2);
    }

    /** A few puts near {@code op}'s key, so the page cache holds dirty pages for the reaper's steps. */
    private static void writeAFew(PageStore store, TreeMap<String, byte[]> model, ValueView view, Op op,
            OpenSnapshots snapshots) {
        for (int i = 0; i < 4; i++) {
            step(store, model, view, new Op(i % 2 == 0 ? Kind.PUT : Kind.MAP_PUT, op.table(), op.keyGroup(),
                    (op.keyId() + 37 * i) % 151, (op.userKey() + i) % 256, 1 + (op.valueSize() + i) % 200,
                    op.seed() + i), snapshots);
        }
    }

    /** Half the deletes say whether the key existed (reading its page); the others may wait in the write buffer. */
    private static void delete(PageStore store, TreeMap<String, byte[]> model, Op op, byte[] key, int prefixLength) {
        boolean existed = model.remove(name(op.table(), op.keyGroup(), key)) != null;
        if ((op.seed() & 1) == 0) {
            store.remove(op.table(), op.keyGroup(), key, 0, key.length, prefixLength);
        } else {
            assertThat(store.delete(op.table(), op.keyGroup(), key, 0, key.length, prefixLength)).isEqualTo(existed);
        }
    }

    static void step(PageStore store, TreeMap<String, byte[]> model, ValueView view, Op op,
            OpenSnapshots snapshots) {
        Random random = new Random(op.seed());
        byte[] valueKey = valueKey(op.keyId());
        // maps live under few keys, so they grow past a page and buckets grow overflow chains
        byte[] mapKey = mapKey(op.keyId() % 5, op.userKey());
        switch (op.kind()) {
            case PUT -> {
                byte[] value = value(random, op.valueSize());
                store.put(op.table(), op.keyGroup(), valueKey, 0, valueKey.length, valueKey.length, value, 0,
                        value.length);
                model.put(name(op.table(), op.keyGroup(), valueKey), value);
            }
            case MAP_PUT -> {
                byte[] value = value(random, op.valueSize() > 3000 ? op.valueSize() : op.valueSize() % 40 + 1);
                store.put(op.table(), op.keyGroup(), mapKey, 0, mapKey.length, 6, value, 0, value.length);
                model.put(name(op.table(), op.keyGroup(), mapKey), value);
            }
            case GET -> assertGet(store, model, view, op.table(), op.keyGroup(), valueKey, valueKey.length);
            case MAP_GET -> assertGet(store, model, view, op.table(), op.keyGroup(), mapKey, 6);
            case DELETE -> delete(store, model, op, valueKey, valueKey.length);
            case MAP_DELETE -> delete(store, model, op, mapKey, 6);
            case APPEND -> {
                byte[] more = value(random, Math.min(op.valueSize(), 5000));
                store.append(op.table(), op.keyGroup(), valueKey, 0, valueKey.length, valueKey.length, more, 0,
                        more.length);
                model.compute(name(op.table(), op.keyGroup(), valueKey), (k, old) -> AppendModel.appended(old, more));
            }
            case ITER_PREFIX -> {
                byte[] prefix = Arrays.copyOf(mapKey, 6);
                TreeMap<String, byte[]> seen = new TreeMap<>();
                store.forEachWithPrefix(op.table(), op.keyGroup(), prefix, 0, prefix.length,
                        (k, ko, kl, v, vo, vl) -> seen.put(
                                name(op.table(), op.keyGroup(), Arrays.copyOfRange(k, ko, ko + kl)),
                                Arrays.copyOfRange(v, vo, vo + vl)));
                String from = name(op.table(), op.keyGroup(), prefix);
                assertSameEntries(seen, model.subMap(from, true, from + "\uffff", true));
            }
            case ITER_GROUP -> {
                TreeMap<String, byte[]> seen = new TreeMap<>();
                store.forEachInKeyGroup(op.table(), op.keyGroup(),
                        (k, ko, kl, v, vo, vl) -> {
                            String name = name(op.table(), op.keyGroup(), Arrays.copyOfRange(k, ko, ko + kl));
                            assertThat(seen).as("an entry is visited once").doesNotContainKey(name);
                            seen.put(name, Arrays.copyOfRange(v, vo, vo + vl));
                        });
                String from = op.table() + "/" + op.keyGroup() + "/";
                assertSameEntries(seen, model.subMap(from, true, from + "\uffff", true));
            }
            case CLEAR -> {
                store.clear(op.table());
                model.keySet().removeIf(k -> k.startsWith(op.table() + "/"));
            }
            case MAP_BULK_PUT -> {
                // one map grows by up to 300 entries: it moves into a map index, which splits
                int n = 10 + Math.floorMod(op.seed(), 290);
                for (int i = 0; i < n; i++) {
                    byte[] key = mapKey(op.keyId() % 5, random.nextInt(4096));
                    byte[] value = value(random, 1 + random.nextInt(30));
                    store.put(op.table(), op.keyGroup(), key, 0, key.length, 6, value, 0, value.length);
                    model.put(name(op.table(), op.keyGroup(), key), value);
                }
            }
            case MAP_CLEAR -> {
                byte[] prefix = Arrays.copyOf(mapKey, 6);
                store.deletePrefix(op.table(), op.keyGroup(), prefix, 0, prefix.length);
                String from = name(op.table(), op.keyGroup(), prefix);
                model.subMap(from, true, from + "\uffff", true).clear();
            }
            case MAP_EMPTY -> {
                byte[] prefix = Arrays.copyOf(mapKey, 6);
                String from = name(op.table(), op.keyGroup(), prefix);
                assertThat(store.hasPrefix(op.table(), op.keyGroup(), prefix, 0, prefix.length))
                        .isEqualTo(!model.subMap(from, true, from + "\uffff", true).isEmpty());
            }
            case MAP_ITER_BATCHES -> iterateInBatches(store, model, op, random);
            case FREEZE -> snapshots.freeze(store, model);
            case CHECK_SNAPSHOT -> snapshots.check(op.seed());
            case RELEASE_SNAPSHOT -> snapshots.release(op.seed());
            case COMPACT -> store.compactPool();
            case CLEAN_COLLECT -> {
                writeAFew(store, model, view, op, snapshots); // dirty pages (the invariant check's walk left clean ones)
                store.submitForCleaning();
            }
            case CLEAN_COMPRESS -> store.compressForCleaning();
            case CLEAN_INSTALL -> {
                writeAFew(store, model, view, op, snapshots); // may change or evict what was collected
                store.compressForCleaning(); // (the reaper's thread compresses while the task goes on)
                store.installCleaned();
            }
            case CLEAN_CYCLE -> {
                writeAFew(store, model, view, op, snapshots);
                store.submitForCleaning();
                store.compressForCleaning();
                store.installCleaned();
            }
            case RECLAIM_FOR_SLOT -> store.reclaimForSlot(1 + (op.seed() & 31));
            case WRITEBACK_ISOLATE -> {
                writeAFew(store, model, view, op, snapshots);
                store.isolateForWriteback(1 + (op.seed() & 7));
            }
            case WRITEBACK_COMMIT -> store.commitWriteback();
            case WRITEBACK_COMPLETE -> {
                writeAFew(store, model, view, op, snapshots); // may change, free or write pages of the batch
                store.completeWriteback();
            }
            case WRITEBACK_CYCLE -> {
                writeAFew(store, model, view, op, snapshots);
                store.isolateForWriteback(1 + (op.seed() & 7));
                writeAFew(store, model, view, op, snapshots);
                store.commitWriteback();
                writeAFew(store, model, view, op, snapshots);
                store.completeWriteback();
            }
            case DELETE_GROUP -> {
                // delete every value key of the key-group one by one: buckets empty out
                String from = op.table() + "/" + op.keyGroup() + "/";
                for (String name : model.subMap(from, true, from + "\uffff", true).keySet().toArray(new String[0])) {
                    byte[] key = HexFormat.of().parseHex(name.substring(from.length()));
                    assertThat(store.delete(op.table(), op.keyGroup(), key, 0, key.length, prefixOf(key))).isTrue();
                    model.remove(name);
                }
            }
        }
    }

    /** The two tables every sequence writes to: 0 (values and maps) and 1. */
    static void createTables(PageStore store) {
        store.createTable("values-and-maps");
        store.createTable("other");
    }

    /**
     * Snapshots open on the store, each with the model as it was when it froze (the model's
     * values are never modified in place, so a shallow copy keeps them).
     */
    static final class OpenSnapshots {
        final boolean checkContents;
        final List<FrozenView> views = new ArrayList<>();
        final List<TreeMap<String, byte[]>> models = new ArrayList<>();
        int checked;
        boolean keepOneOpen;

        OpenSnapshots(boolean checkContents) {
            this.checkContents = checkContents;
        }

        void freeze(PageStore store, TreeMap<String, byte[]> model) {
            views.add(store.freeze());
            models.add(new TreeMap<>(model));
        }

        /** Reads one open snapshot whole and compares it with the model as of its freeze. */
        void check(int pick) {
            if (views.isEmpty()) {
                return;
            }
            int i = Math.floorMod(pick, views.size());
            TreeMap<String, byte[]> seen = new TreeMap<>();
            for (int table = 0; table < 2; table++) {
                for (int kg = FIRST_KEY_GROUP; kg < FIRST_KEY_GROUP + KEY_GROUPS; kg++) {
                    int t = table;
                    int g = kg;
                    views.get(i).forEachInKeyGroup(table, kg, (k, ko, kl, v, vo, vl) -> {
                        String name = name(t, g, Arrays.copyOfRange(k, ko, ko + kl));
                        assertThat(seen.put(name, Arrays.copyOfRange(v, vo, vo + vl)))
                                .as("a snapshot visits %s twice", name).isNull();
                    });
                }
            }
            if (checkContents) {
                assertSameEntries(seen, models.get(i));
            }
            checked++;
        }

        void checkAll() {
            for (int i = 0; i < views.size(); i++) {
                check(i);
            }
        }

        void release(int pick) {
            if (!views.isEmpty()) {
                int i = Math.floorMod(pick, views.size());
                views.remove(i).close();
                models.remove(i);
            }
        }

        /** Releases the snapshots in random order, all but one if {@link #keepOneOpen} (and random is given). */
        void releaseAllButMaybeOne(Random random) {
            while (views.size() > (keepOneOpen && random != null ? 1 : 0)) {
                release(random == null ? 0 : random.nextInt(views.size()));
            }
        }
    }

    /**
     * Iterates one map in batches, writing to it between batches (new entries, which may split its
     * index, and deletes): every entry present from start to end is visited exactly once, and
     * nothing is visited that was never in the map.
     */
    private static void iterateInBatches(PageStore store, TreeMap<String, byte[]> model, Op op, Random random) {
        byte[] prefix = Arrays.copyOf(mapKey(op.keyId() % 5, 0), 6);
        String start = name(op.table(), op.keyGroup(), prefix);
        java.util.Set<String> throughout = new java.util.HashSet<>(model.subMap(start, true, start + "\uffff", true).keySet());
        java.util.Set<String> ever = new java.util.HashSet<>(throughout);
        java.util.Set<String> seen = new java.util.HashSet<>();
        byte[] from = new byte[0];
        do {
            byte[] batchFrom = from;
            List<byte[]> userKeys = new ArrayList<>();
            from = store.forEachWithPrefix(op.table(), op.keyGroup(), prefix, 0, prefix.length, from,
                    (k, ko, kl, v, vo, vl) -> {
                        String name = name(op.table(), op.keyGroup(), Arrays.copyOfRange(k, ko, ko + kl));
                        assertThat(seen.add(name)).as("visited twice: %s", name).isTrue();
                        assertThat(ever).as("visited but never in the map").contains(name);
                        userKeys.add(Arrays.copyOfRange(k, ko + 6, ko + kl));
                    });
            for (byte[] userKey : userKeys) { // batches come in key order
                assertThat(Arrays.compareUnsigned(userKey, batchFrom)).isNotNegative();
                if (from != null) {
                    assertThat(Arrays.compareUnsigned(userKey, from)).isNegative();
                }
            }
            for (int i = random.nextInt(40); i > 0; i--) {
                byte[] key = mapKey(op.keyId() % 5, random.nextInt(4096));
                String name = name(op.table(), op.keyGroup(), key);
                if (random.nextInt(4) == 0) {
                    store.delete(op.table(), op.keyGroup(), key, 0, key.length, 6);
                    model.remove(name);
                    throughout.remove(name);
                } else {
                    byte[] value = value(random, 1 + random.nextInt(30));
                    store.put(op.table(), op.keyGroup(), key, 0, key.length, 6, value, 0, value.length);
                    model.put(name, value);
                    ever.add(name);
                }
            }
        } while (from != null);
        assertThat(seen).containsAll(throughout);
    }

    private static void assertGet(PageStore store, TreeMap<String, byte[]> model, ValueView view, int table,
            int keyGroup, byte[] key, int prefixLength) {
        boolean found = store.get(table, keyGroup, key, 0, key.length, prefixLength, view);
        byte[] expected = model.get(name(table, keyGroup, key));
        assertThat(found).isEqualTo(expected != null);
        if (found) {
            assertThat(view.toByteArray()).isEqualTo(expected);
        }
    }

    static void verifyAll(PageStore store, TreeMap<String, byte[]> model, ValueView view) {
        for (Map.Entry<String, byte[]> e : model.entrySet()) {
            String[] parts = e.getKey().split("/");
            byte[] key = HexFormat.of().parseHex(parts[2]);
            boolean found = store.get(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]), key, 0, key.length,
                    prefixOf(key), view);
            assertThat(found).as("key %s", e.getKey()).isTrue();
            assertThat(view.toByteArray()).isEqualTo(e.getValue());
        }
    }

    private static void assertSameEntries(Map<String, byte[]> seen, Map<String, byte[]> expected) {
        assertThat(seen.keySet()).isEqualTo(expected.keySet());
        for (Map.Entry<String, byte[]> e : expected.entrySet()) {
            assertThat(seen.get(e.getKey())).isEqualTo(e.getValue());
        }
    }

    /**
     * A value key: 6 bytes, or for every seventh key id a long one (600 to 4,600 bytes, longer
     * than half a 1 KiB page: kept in a blob chain), the whole key its prefix.
     */
    static byte[] valueKey(int keyId) {
        byte[] key = new byte[keyId % 7 == 3 ? 600 + keyId * 37 % 4000 : 6];
        key[0] = 1;
        key[3] = (byte) (keyId >>> 8);
        key[4] = (byte) keyId;
        key[5] = 7;
        for (int i = 6; i < key.length; i++) {
            key[i] = (byte) (keyId + i);
        }
        return key;
    }

    /** A map key: a 6-byte prefix and a user key of 2 bytes, or for every fifth a long one (700+ bytes); user keys below 65,536. */
    static byte[] mapKey(int keyId, int userKey) {
        byte[] key = new byte[userKey % 5 == 2 ? 700 + userKey % 256 * 13 : 8];
        key[0] = 2;
        key[3] = (byte) (keyId >>> 8);
        key[4] = (byte) keyId;
        key[5] = 7;
        key[6] = (byte) (userKey >>> 8);
        key[7] = (byte) userKey;
        for (int i = 8; i < key.length; i++) {
            key[i] = (byte) (userKey * 31 + i);
        }
        return key;
    }

    /** The prefix length a key was written with: the whole key for value keys, 6 bytes for map keys. */
    static int prefixOf(byte[] key) {
        return key[0] == 1 ? key.length : 6;
    }

    static String name(int table, int keyGroup, byte[] key) {
        return table + "/" + keyGroup + "/" + HexFormat.of().formatHex(key);
    }

    /** Values half compressible (runs), half random, so some pages compress and some bounce. */
    static byte[] value(Random random, int size) {
        byte[] value = new byte[size];
        if (random.nextBoolean()) {
            random.nextBytes(value);
        } else {
            byte b = (byte) random.nextInt(4);
            for (int i = 0; i < size; i++) {
                value[i] = i % 16 == 0 ? (byte) random.nextInt() : b;
            }
        }
        return value;
    }
}

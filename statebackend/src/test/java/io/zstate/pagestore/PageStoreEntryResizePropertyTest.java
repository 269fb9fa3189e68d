package io.zstate.pagestore;

import static io.zstate.pagestore.PageStoreModelPropertyTest.FIRST_KEY_GROUP;
import static io.zstate.pagestore.PageStoreModelPropertyTest.KEY_GROUPS;
import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.pagestore.PageStoreModelPropertyTest.Kind;
import io.zstate.pagestore.PageStoreModelPropertyTest.Op;
import io.zstate.pagestore.PageStoreModelPropertyTest.OpenSnapshots;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
import net.jqwik.api.statistics.Statistics;

/**
 * The page store's entry cache resizing inside the model test (issue 16): with an admission
 * window of {@value #WINDOW} accesses instead of 4,096, runs of skewed reads over a warm set
 * larger than the cache make it ask for more memory (taken from the page cache) and runs of
 * written-once keys make it give the memory back (its dirty records written into the pages),
 * while runs of the model test's mixed operations (snapshots, iterations, map operations,
 * appends, clears) go on in between. The store agrees with a TreeMap model after every
 * operation, its invariants (the page cache's limit and the entry cache's size add up to the
 * page cache's heap, among the rest) hold after every step, and close returns every off-heap byte.
 */
class PageStoreEntryResizePropertyTest {

    /** Hits and second misses per admission window: a resize can come every few dozen operations. */
    static final int WINDOW = 8;

    /** A run of operations: the model test's mix, skewed reads of a warm set, or written-once keys. */
    enum Phase { MIXED, HOT, COLD }

    record Run(Phase phase, int length, int keys, int seed, List<Op> mixed) {}

    /**
     * One or two rounds, each a run of skewed reads (the cache asks to grow) then a run of
     * written-once keys (it asks to shrink), with runs of the model test's mix before, between
     * and after.
     */
    @Provide
    Arbitrary<List<Run>> runs() {
        Arbitrary<Run> mixed = PageStoreModelPropertyTest.op().list().ofMinSize(0).ofMaxSize(40)
                .map(ops -> new Run(Phase.MIXED, ops.size(), 0, 0, ops));
        Arbitrary<Run> hot = Combinators.combine(Arbitraries.integers().between(500, 1200),
                        Arbitraries.integers().between(150, 500), Arbitraries.integers())
                .as((length, keys, seed) -> new Run(Phase.HOT, length, keys, seed, List.of()));
        Arbitrary<Run> cold = Combinators.combine(Arbitraries.integers().between(300, 800), Arbitraries.integers())
                .as((length, seed) -> new Run(Phase.COLD, length, 0, seed, List.of()));
        return Combinators.combine(mixed, hot, mixed, cold).as(List::of).list().ofMinSize(1).ofMaxSize(2)
                .flatMap(rounds -> mixed.map(last -> {
                    List<Run> runs = new ArrayList<>();
                    rounds.forEach(runs::addAll);
                    runs.add(last);
                    return runs;
                }));
    }

    /**
     * Resizes both ways within a run, the model agreeing and the invariants holding after every
     * operation; the statistics say how many tries resized (asserted: at least half grew, at
     * least 30% shrank, and some shrink wrote dirty records back).
     */
    @Property(tries = 40)
    void theEntryCacheGrowsAndShrinksWhileTheStoreBehavesLikeASortedMap(
            @ForAll("runs") List<Run> runs,
            @ForAll("allocators") String allocator,
            @ForAll @IntRange(min = 8, max = 16) int cachePages,
            @ForAll("entryCacheMost") long entryCacheBytes)
            throws IOException {
        Path dir = Files.createTempDirectory("zstate-pagestore-resize");
        PageStoreConfig config = PageStoreModelPropertyTest.tiny(dir, allocator, cachePages)
                .withPageCacheBytes(cachePages * 1024L + entryCacheBytes).withEntryCacheBytes(entryCacheBytes);
        PageStore store = new PageStore(config, FIRST_KEY_GROUP, KEY_GROUPS, Faults.NONE, WINDOW);
        Path spillDir = store.spillDirectory();
        OpenSnapshots snapshots = new OpenSnapshots(true);
        int grew = 0;
        int shrank = 0;
        boolean shrankWritingBack = false;
        try {
            synchronized (store) { // the store's lock, which frozen views read under
                PageStoreModelPropertyTest.createTables(store);
                TreeMap<String, byte[]> model = new TreeMap<>();
                ValueView view = new ValueView();
                for (Run run : runs) {
                    for (Op op : expand(run)) {
                        long before = store.entryCacheBytesNow();
                        long writeBacksBefore = store.stats().entryWriteBacks();
                        PageStoreModelPropertyTest.step(store, model, view, op, snapshots);
                        store.checkInvariants();
                        long after = store.entryCacheBytesNow();
                        if (before != 0 && after > before) {
                            grew++;
                        } else if (after < before) {
                            shrank++;
                            shrankWritingBack |= store.stats().entryWriteBacks() > writeBacksBefore;
                        }
                    }
                }
                PageStoreModelPropertyTest.verifyAll(store, model, view);
                snapshots.checkAll();
                snapshots.releaseAllButMaybeOne(null);
                store.checkInvariants();
            }
        } finally {
            store.close();
        }
        PageStoreModelPropertyTest.assertReleased(store, spillDir, dir);
        Statistics.label("entry cache grew").collect(grew > 0);
        Statistics.label("entry cache shrank").collect(shrank > 0);
        Statistics.label("resizes").collect(grew + shrank == 0 ? "0" : grew + shrank < 4 ? "1-3" : "4+");
        Statistics.label("a shrink wrote dirty records back").collect(shrankWritingBack);
        PageStoreStats last = store.stats(); // the final counters, after close
        Statistics.label("the entry cache slept").collect(last.entrySleeps() > 0);
        Statistics.label("a sleeping entry cache woke").collect(last.entryWakes() > 0);
        // measured at 400 tries: 92% grew, 82% shrank, 61% had a shrink that wrote dirty records back
        Statistics.label("entry cache grew").coverage(c -> c.check(true).percentage(p -> p >= 50));
        Statistics.label("entry cache shrank").coverage(c -> c.check(true).percentage(p -> p >= 30));
        Statistics.label("a shrink wrote dirty records back").coverage(c -> c.check(true).count(n -> n > 0));
        // at its least size, a cache that still asks for less sleeps; a later hot run wakes it
        Statistics.label("the entry cache slept").coverage(c -> c.check(true).percentage(p -> p >= 20));
        Statistics.label("a sleeping entry cache woke").coverage(c -> c.check(true).count(n -> n > 0));
    }

    /**
     * The same runs with failures injected only while the store resizes its entry cache: the
     * shrink's write-backs fault pages in (a page that does not decompress, a spill read that
     * fails) and both directions evict pages from the page cache (the arena refuses, the
     * compressor fails, a spill write fails). After each operation either it completed and the
     * model still matches (an arena refusal or a compressor failure is absorbed; rare inside a
     * resize, whose page evictions are mostly of clean pages), or it threw
     * PageStoreFailedException naming the resize, and then every later call throws it, every
     * snapshot frozen before still reads its instant, and close returns every byte.
     */
    @Property(tries = 60)
    void aFailureWhileResizingFailsTheStoreCleanly(
            @ForAll("runs") List<Run> runs,
            @ForAll("allocators") String allocator,
            @ForAll @IntRange(min = 8, max = 16) int cachePages,
            @ForAll("entryCacheMost") long entryCacheBytes,
            @ForAll long seed)
            throws IOException {
        Path dir = Files.createTempDirectory("zstate-pagestore-resize-faults");
        PageStoreConfig config = PageStoreModelPropertyTest.tiny(dir, allocator, cachePages)
                .withPageCacheBytes(cachePages * 1024L + entryCacheBytes).withEntryCacheBytes(entryCacheBytes);
        FaultsWhileResizing faults = new FaultsWhileResizing(seed);
        PageStore store = new PageStore(config, FIRST_KEY_GROUP, KEY_GROUPS, faults, WINDOW);
        Path spillDir = store.spillDirectory();
        OpenSnapshots snapshots = new OpenSnapshots(true);
        String outcome = "completed";
        try {
            synchronized (store) {
                PageStoreModelPropertyTest.createTables(store);
                TreeMap<String, byte[]> model = new TreeMap<>();
                ValueView view = new ValueView();
                preload(store, model, view);
                run:
                for (Run run : runs) {
                    for (Op op : expand(run)) {
                        faults.injected.clear();
                        faults.armed = true;
                        RuntimeException thrown = null;
                        try {
                            PageStoreModelPropertyTest.step(store, model, view, op, snapshots);
                        } catch (RuntimeException e) {
                            thrown = e;
                        } finally {
                            faults.armed = false;
                        }
                        if (thrown == null) {
                            store.checkInvariants();
                            continue;
                        }
                        assertThat(faults.injected).as("a failure with nothing injected: %s", thrown).isNotEmpty();
                        Faults.Seam cause = faults.injected.get(faults.injected.size() - 1);
                        assertThat(cause).as("the seam that failed the store").isIn(
                                Faults.Seam.DECOMPRESS, Faults.Seam.SPILL_WRITE, Faults.Seam.SPILL_READ);
                        assertThat(thrown).isInstanceOf(PageStoreFailedException.class)
                                .hasMessageContaining("resizing the entry cache");
                        assertThat(store.isFailed()).isTrue();
                        PageStoreModelPropertyTest.assertEveryCallThrows(store, view);
                        snapshots.checkAll(); // frozen before the failure: as of their freeze
                        outcome = "failed: " + cause;
                        break run;
                    }
                }
                if (!store.isFailed()) {
                    PageStoreModelPropertyTest.verifyAll(store, model, view);
                    snapshots.checkAll();
                }
                snapshots.releaseAllButMaybeOne(null);
            }
        } finally {
            store.close();
        }
        PageStoreModelPropertyTest.assertReleased(store, spillDir, dir);
        Statistics.label("outcome").collect(outcome);
        // a fault-in inside a resize is a shrink's write-back
        Statistics.label("a shrink's write-back failed")
                .collect(outcome.equals("failed: DECOMPRESS") || outcome.equals("failed: SPILL_READ"));
        Statistics.label("outcome").coverage(c -> c.check("completed").count(n -> n > 0));
        // measured at 250 tries (2026-12-03): 25% failed in a shrink's write-back (13% a spill read, 12% a
        // decompression), 75% completed; another 50 tries: 16%. At least 3 of 60 tries: fails by chance once in
        // 5,000 runs at a 20% rate
        // (the earlier 15% of 25 tries, set when the rate was 58%, failed a clean-clone run with 3 of 25)
        Statistics.label("a shrink's write-back failed").coverage(c -> c.check(true).count(n -> n >= 3));
    }

    /** Fails a seam at random, at a rate per seam, only inside PageStore.resizeEntries (while armed). */
    static final class FaultsWhileResizing implements Faults {
        final Random random;
        final double[] rates = new double[Faults.Seam.values().length];
        final List<Faults.Seam> injected = new ArrayList<>();
        boolean armed;

        FaultsWhileResizing(long seed) {
            random = new Random(seed);
            rates[Faults.Seam.ARENA.ordinal()] = 0.5;
            rates[Faults.Seam.COMPRESS.ordinal()] = 0.2;
            // a write-back's fault-in fails often; a spill write (a grow's page evictions too) seldom,
            // so that many runs get as far as a shrink
            rates[Faults.Seam.DECOMPRESS.ordinal()] = 0.3 + random.nextDouble() * 0.7;
            rates[Faults.Seam.SPILL_READ.ordinal()] = 0.3 + random.nextDouble() * 0.7;
            rates[Faults.Seam.SPILL_WRITE.ordinal()] = random.nextDouble() * 0.05;
        }

        @Override
        public boolean fail(Faults.Seam seam) {
            if (armed && random.nextDouble() < rates[seam.ordinal()] && resizing()) {
                injected.add(seam);
                return true;
            }
            return false;
        }

        private static boolean resizing() {
            return StackWalker.getInstance().walk(frames -> frames.anyMatch(
                    f -> f.getClassName().equals(PageStore.class.getName()) && f.getMethodName().equals("resizeEntries")));
        }
    }

    @Provide
    Arbitrary<String> allocators() {
        return Arbitraries.of("zsmalloc", "zbud", "z3fold", "zlog", "xcfmalloc");
    }

    /** The most the entry cache may take: 16 to 64 KiB; it starts at 4 KiB, so it can double two to four times. */
    @Provide
    Arbitrary<Long> entryCacheMost() {
        return Arbitraries.of(16384L, 32768L, 65536L);
    }

    /**
     * Writes {@value #PRELOADED} keys of table 1 before the runs (about 50 pages): the pages
     * outnumber the page cache's, so a dirty record's write-back often faults its page in.
     */
    static void preload(PageStore store, TreeMap<String, byte[]> model, ValueView view) {
        for (int i = 0; i < PRELOADED; i++) {
            PageStoreModelPropertyTest.step(store, model, view, new Op(Kind.PUT, 1, FIRST_KEY_GROUP + i % KEY_GROUPS,
                    shortKeyId(1000 + i), 0, 8 + i % 32, i), null);
        }
    }

    static final int PRELOADED = 1500;

    /** A run's operations: the mixed ones as generated; the others drawn from the run's seed. */
    static List<Op> expand(Run run) {
        if (run.phase() == Phase.MIXED) {
            return run.mixed();
        }
        Random random = new Random(run.seed());
        List<Op> ops = new ArrayList<>();
        java.util.BitSet written = new java.util.BitSet();
        while (ops.size() < run.length()) {
            if (run.phase() == Phase.HOT) {
                // skewed reads of table 0's warm keys (key i at about i^(-2/3)); a key's first access
                // in the run writes it, and one in ten after
                double u = random.nextDouble();
                int i = (int) (u * u * u * run.keys());
                Kind kind = !written.get(i) || random.nextInt(10) == 0 ? Kind.PUT : Kind.GET;
                written.set(i);
                ops.add(new Op(kind, 0, FIRST_KEY_GROUP + i % KEY_GROUPS, shortKeyId(i), 0, 1 + i % 24,
                        random.nextInt()));
            } else {
                // table 1's keys written twice and never read (a quarter of them deleted after): admissions that never pay
                int keyId = shortKeyId(1000 + random.nextInt(8000));
                int keyGroup = FIRST_KEY_GROUP + random.nextInt(KEY_GROUPS);
                int size = 1 + random.nextInt(24);
                ops.add(new Op(Kind.PUT, 1, keyGroup, keyId, 0, size, random.nextInt()));
                ops.add(new Op(Kind.PUT, 1, keyGroup, keyId, 0, size, random.nextInt()));
                if (random.nextInt(4) == 0) {
                    ops.add(new Op(Kind.DELETE, 1, keyGroup, keyId, 0, size, 0));
                }
            }
        }
        return ops;
    }

    /** The i-th key id whose value key is short (every seventh is a long blob key: it never enters the entry cache). */
    private static int shortKeyId(int i) {
        return i / 6 * 7 + new int[] {0, 1, 2, 4, 5, 6}[i % 6];
    }
}

package io.zstate.benchmarks;

import io.zstate.allocator.FrameSource;
import io.zstate.allocator.ZPool;
import io.zstate.allocator.ZPools;
import java.util.Arrays;
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
 * Single-threaded malloc+free throughput of zbud, z3fold, zlog, xcfmalloc and zsmalloc (chain size 8) in steady state: a
 * 64 MiB pool is pre-filled to half its budget with corpus-sized objects; each operation frees a
 * live handle picked by a xorshift sequence and mallocs the next corpus size into its place, so
 * the live set and its size mix stay constant. {@link #mallocWriteFree} also writes the page's
 * compressed bytes into the new object; {@link #read} reads a random live object. No allocation or
 * boxing per operation.
 *
 * <p>The corpus pages are 4 KiB by default; {@code -p pageSize=1024} (or {@code
 * -p pageSize=1024,4096}) runs on the page store's 1 KiB pages instead.
 *
 * <p>A pool within {@link #CLEANER_RESERVE} frames of its budget compacts before the next malloc
 * ({@link #mallocOrCompact}); the count is printed at tear-down. Only zlog needs it: a log frame
 * returns to the source when its last record dies, and under random frees a frame of k records
 * lives until the last of k random lifetimes ends (about H(k) = 1 + 1/2 + ... + 1/k mean
 * lifetimes), so its frames in steady state are about H(k) times the live data's: with 1 KiB pages
 * (k about 8, H = 2.7) more than the 64 MiB budget pre-filled to half, with 4 KiB pages (k about 2,
 * H = 1.5) not. Its cleaner copies live records into the open frame or a fresh one, so it frees
 * nothing once the budget is all used: like a log-structured file system's cleaner it needs free
 * frames in reserve, hence compaction before the budget runs out, not after a malloc failed. The
 * page store reclaims instead, which a steady-state loop cannot model.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class AllocatorBenchmark {

    static final long BUDGET_BYTES = 64L << 20;
    static final long SEED = 42;

    /** Free frames below which a pool compacts before a malloc: the cleaner's room to copy into. */
    static final int CLEANER_RESERVE = 64;

    @Param({"zbud", "z3fold", "zlog", "xcfmalloc", "zsmalloc"})
    public String allocator;

    /** Uncompressed bytes of a corpus page; 4096 keeps the historical figures, 1024 is the page store's. */
    @Param({"4096"})
    public int pageSize;

    private FrameSource source;
    private ZPool pool;
    private long[] live;
    private int liveCount;
    private int[] sizes;
    private int[] offsets;
    private byte[] data;
    private int nextPage;
    private long rng = 0x9E3779B97F4A7C15L;
    private long compactions;
    private final byte[] readBuffer = new byte[64 * 1024];

    @Setup(Level.Trial)
    public void setUp() {
        StatePageCorpus corpus = StatePageCorpus.generate(SEED, StatePageCorpus.DEFAULT_PAGES, pageSize);
        sizes = corpus.sizes();
        offsets = new int[corpus.pages()];
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = corpus.offset(i);
        }
        data = corpus.data();
        source = new FrameSource(BUDGET_BYTES);
        pool = ZPools.create(allocator, source);
        live = new long[1024];
        while (source.framesInUse() < source.maxFrames() / 2) {
            long handle = pool.malloc(sizes[nextPage]);
            if (handle == ZPool.NO_SPACE) {
                throw new IllegalStateException(allocator + " ran out of space while pre-filling");
            }
            pool.write(handle, data, offsets[nextPage], sizes[nextPage]);
            if (liveCount == live.length) {
                live = Arrays.copyOf(live, liveCount * 2);
            }
            live[liveCount++] = handle;
            advancePage();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (compactions > 0) {
            System.out.printf("%s: %,d compactions in steady state (within %d frames of the budget)%n", allocator,
                    compactions, CLEANER_RESERVE);
        }
        pool.checkInvariants();
        pool.close();
        int leaked = source.framesInUse();
        source.close();
        if (leaked != 0) {
            throw new IllegalStateException(allocator + " leaked " + leaked + " frames");
        }
    }

    /** Frees a random live object and mallocs the next corpus size in its place. */
    @Benchmark
    public long mallocFree() {
        int victim = nextVictim();
        pool.free(live[victim]);
        long handle = mallocOrCompact(sizes[nextPage]);
        live[victim] = handle;
        advancePage();
        return handle;
    }

    /** As {@link #mallocFree}, and writes the page's compressed bytes into the new object. */
    @Benchmark
    public long mallocWriteFree() {
        int victim = nextVictim();
        pool.free(live[victim]);
        int page = nextPage;
        long handle = mallocOrCompact(sizes[page]);
        pool.write(handle, data, offsets[page], sizes[page]);
        live[victim] = handle;
        advancePage();
        return handle;
    }

    /**
     * Reads a random live object whole into a buffer: what a fault from the pool does before it
     * decodes (the handle's location, the object's size, its bytes), over 32 MiB of objects.
     */
    @Benchmark
    public int read() {
        return pool.read(live[nextVictim()], readBuffer, 0);
    }

    /** malloc; a pool within the cleaner's reserve of its budget compacts first (zlog's log cleaner). */
    private long mallocOrCompact(int size) {
        if (source.maxFrames() - source.framesInUse() < CLEANER_RESERVE) {
            compactions++;
            pool.compact();
        }
        long handle = pool.malloc(size);
        if (handle == ZPool.NO_SPACE) {
            throw new IllegalStateException(allocator + " ran out of space in steady state (" + compactions
                    + " compactions so far)");
        }
        return handle;
    }

    /** xorshift64, scaled to [0, liveCount) by a multiply-shift. */
    private int nextVictim() {
        long x = rng;
        x ^= x << 13;
        x ^= x >>> 7;
        x ^= x << 17;
        rng = x;
        return (int) (((x >>> 32) * liveCount) >>> 32);
    }

    private void advancePage() {
        nextPage = nextPage + 1 == sizes.length ? 0 : nextPage + 1;
    }
}

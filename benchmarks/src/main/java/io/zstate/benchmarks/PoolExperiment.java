package io.zstate.benchmarks;

import io.zstate.allocator.FrameSource;
import io.zstate.allocator.ZPool;
import io.zstate.allocator.ZPools;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The report's phases for one allocator, each ending in the pool's and the frame source's
 * invariant checks:
 *
 * <pre>
 *   a  fill     malloc corpus sizes (cycling through the pages) until NO_SPACE, writing each
 *               page's compressed bytes into its object
 *   b  free     free a seeded random half of the objects
 *   c  compact  compact(); the frame source must lose exactly the frames it returns; every
 *               surviving object is read back and compared with its page (the read counters:
 *               copies per read, reads of objects in pieces)
 *   d  reclaim  on a freshly filled pool, reclaim(1, evictor) until the pool is empty; every
 *               call must drop the frame source's frames in use by exactly its return value,
 *               and the evictor checks every object's bytes
 * </pre>
 *
 * Pools and frame sources are closed after use; a frame still in use after the pool's close is a
 * leak and fails the run.
 */
final class PoolExperiment {

    private final PoolConfig config;
    private final StatePageCorpus corpus;
    private final long budgetBytes;
    private final long seed;

    PoolExperiment(PoolConfig config, StatePageCorpus corpus, long budgetBytes, long seed) {
        this.config = config;
        this.corpus = corpus;
        this.budgetBytes = budgetBytes;
        this.seed = seed;
    }

    /** The handles of a fill, in malloc order; a freed one is set to {@link ZPool#NO_SPACE}. */
    private static final class Fill {
        long[] handles = new long[1 << 16];
        int[] pages = new int[1 << 16];
        int[] framesAfter = new int[1 << 16];
        int count;

        void add(long handle, int page, int frames) {
            if (count == handles.length) {
                handles = Arrays.copyOf(handles, count * 2);
                pages = Arrays.copyOf(pages, count * 2);
                framesAfter = Arrays.copyOf(framesAfter, count * 2);
            }
            handles[count] = handle;
            pages[count] = page;
            framesAfter[count] = frames;
            count++;
        }
    }

    PoolResult run(boolean describe) {
        FrameSource source = new FrameSource(budgetBytes);
        ZPool pool = config.create(source);
        int leaked;
        PhaseStats filled;
        PhaseStats freed;
        PhaseStats compacted;
        PhaseStats read;
        int released;
        long verified;
        long moved;
        String classTable = null;
        Fill fill;
        try {
            long t = System.nanoTime();
            fill = fill(pool, source);
            check(pool, source);
            filled = PhaseStats.of(pool.stats(), millisSince(t));

            t = System.nanoTime();
            freeHalf(pool, fill);
            check(pool, source);
            freed = PhaseStats.of(pool.stats(), millisSince(t));

            t = System.nanoTime();
            int before = source.framesInUse();
            released = pool.compact();
            if (before - source.framesInUse() != released) {
                throw new IllegalStateException(config.label() + ": compact() returned " + released
                        + " frames but the frame source lost " + (before - source.framesInUse()));
            }
            check(pool, source);
            compacted = PhaseStats.of(pool.stats(), millisSince(t));
            moved = pool.stats().movedObjects();
            t = System.nanoTime();
            verified = verify(pool, fill);
            read = PhaseStats.of(pool.stats(), millisSince(t));
            if (describe && config.isZsmalloc()) {
                classTable = ZPools.describe(pool);
            }
        } finally {
            pool.close();
            leaked = source.framesInUse();
            source.close();
        }
        checkNoLeak(leaked, "compaction");
        ReclaimResult reclaim = reclaimAll();
        return new PoolResult(config, filled, freed, compacted, read, released, moved, verified,
                Arrays.copyOf(fill.framesAfter, fill.count), reclaim, classTable);
    }

    /** Phase a: malloc and write corpus pages, cycling through them, until NO_SPACE. */
    private Fill fill(ZPool pool, FrameSource source) {
        Fill fill = new Fill();
        byte[] data = corpus.data();
        int pages = corpus.pages();
        for (int page = 0; ; page = page + 1 == pages ? 0 : page + 1) {
            int size = corpus.size(page);
            if (size > pool.maxObjectSize()) {
                throw new IllegalStateException("corpus page " + page + " compresses to " + size
                        + " bytes, more than " + config.label() + " stores (" + pool.maxObjectSize() + ")");
            }
            long handle = pool.malloc(size);
            if (handle == ZPool.NO_SPACE) {
                return fill;
            }
            pool.write(handle, data, corpus.offset(page), size);
            fill.add(handle, page, source.framesInUse());
        }
    }

    /** Phase b: frees exactly half of the objects (rounded down), chosen by a seeded shuffle. */
    private void freeHalf(ZPool pool, Fill fill) {
        int[] order = new int[fill.count];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x5DEECE66DL);
        int half = fill.count / 2;
        for (int i = 0; i < half; i++) {
            int j = i + rnd.nextInt(order.length - i);
            int victim = order[j];
            order[j] = order[i];
            order[i] = victim;
            pool.free(fill.handles[victim]);
            fill.handles[victim] = ZPool.NO_SPACE;
        }
    }

    /** Reads back every live object and compares it with its page; returns how many. */
    private long verify(ZPool pool, Fill fill) {
        byte[] buf = new byte[corpus.maxSize()];
        byte[] data = corpus.data();
        long checked = 0;
        for (int i = 0; i < fill.count; i++) {
            long handle = fill.handles[i];
            if (handle == ZPool.NO_SPACE) {
                continue;
            }
            int page = fill.pages[i];
            int size = pool.read(handle, buf, 0);
            int from = corpus.offset(page);
            if (size != corpus.size(page) || pool.size(handle) != size
                    || !Arrays.equals(buf, 0, size, data, from, from + size)) {
                throw new IllegalStateException(config.label() + ": object " + i + " (handle 0x"
                        + Long.toHexString(handle) + ", page " + page + ") reads back " + size
                        + " bytes that differ from the " + corpus.size(page) + " written");
            }
            checked++;
        }
        return checked;
    }

    /** Phase d: a fresh full pool, emptied by reclaim(1, evictor) calls. */
    private ReclaimResult reclaimAll() {
        FrameSource source = new FrameSource(budgetBytes);
        ZPool pool = config.create(source);
        int leaked;
        ReclaimResult result;
        try {
            Fill fill = fill(pool, source);
            HandleIndex index = new HandleIndex(fill.count);
            for (int i = 0; i < fill.count; i++) {
                index.put(fill.handles[i], fill.pages[i]);
            }
            CheckingEvictor evictor = new CheckingEvictor(corpus, index);
            long t = System.nanoTime();
            long calls = 0;
            long framesReleased = 0;
            int maxPerCall = 0;
            long overMax = 0;
            boolean whole = true;
            long maxCalls = source.maxFrames() + 1L;
            while (source.framesInUse() > 0 && calls < maxCalls) {
                int before = source.framesInUse();
                int got = pool.reclaim(1, evictor);
                calls++;
                if (before - source.framesInUse() != got) {
                    whole = false;
                }
                if (got == 0) {
                    break; // an evictor that takes everything must free something
                }
                framesReleased += got;
                maxPerCall = Math.max(maxPerCall, got);
                if (got > 1) {
                    overMax++;
                }
            }
            long millis = millisSince(t);
            check(pool, source);
            var stats = pool.stats();
            if (evictor.evicted() != stats.evictedObjects() || stats.reclaimedFrames() != framesReleased) {
                throw new IllegalStateException(config.label() + ": evictor saw " + evictor.evicted()
                        + " objects and the calls returned " + framesReleased + " frames; the pool counts "
                        + stats.evictedObjects() + " evicted and " + stats.reclaimedFrames() + " reclaimed");
            }
            boolean emptied = stats.objects() == 0 && stats.framesHeld() == 0 && source.framesInUse() == 0
                    && evictor.evicted() == fill.count;
            result = new ReclaimResult(calls, framesReleased, evictor.evicted(), maxPerCall, overMax, whole,
                    emptied, millis);
        } finally {
            pool.close();
            leaked = source.framesInUse();
            source.close();
        }
        checkNoLeak(leaked, "reclaim");
        return result;
    }

    private void check(ZPool pool, FrameSource source) {
        pool.checkInvariants();
        source.checkInvariants();
        if (pool.stats().framesHeld() != source.framesInUse()) {
            throw new IllegalStateException(config.label() + ": pool holds " + pool.stats().framesHeld()
                    + " frames, its frame source has " + source.framesInUse() + " in use");
        }
    }

    private void checkNoLeak(int framesInUse, String phase) {
        if (framesInUse != 0) {
            throw new IllegalStateException(config.label() + " leaked " + framesInUse
                    + " frames: still in use at the frame source after the pool of the " + phase
                    + " phase was closed");
        }
    }

    private static long millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }
}

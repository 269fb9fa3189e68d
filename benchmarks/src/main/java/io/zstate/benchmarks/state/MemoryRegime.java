package io.zstate.benchmarks.state;

/**
 * The memory regimes of the state suite, each a key distribution plus memory sizes
 * derived from the state's sizes (see {@link StateSize}): S, its uncompressed pages, and C, the
 * pool bytes those pages need once compressed.
 *
 * <pre>
 *   regime  keys     zstate page cache  managed memory: zstate's pool and RocksDB's cache
 *   hot     zipf     S / 10             max(1.5 C, 32 MiB): the whole state fits the pool
 *   pool    uniform  S / 10             max(1.5 C, 32 MiB): the whole state fits the pool
 *   spill   uniform  S / 10             C / 4: the state is four times the pool, so about
 *                                       three quarters of it lives in RocksDB
 *   hotspill zipf    S / 10             C / 4: a hot set in a state four times the pool (which
 *                                       of the warm pages stay in the pool and which go to
 *                                       RocksDB is what the pool's reclaim decides)
 * </pre>
 *
 * HashMap keeps everything on the heap whatever the regime; only the distribution applies.
 */
public enum MemoryRegime {
    hot(KeyDistribution.zipf),
    pool(KeyDistribution.uniform),
    spill(KeyDistribution.uniform),
    hotspill(KeyDistribution.zipf);

    private static final long MIN_FITTING_POOL = 32L << 20;
    private static final long MIN_PAGE_CACHE = 64L << 10;

    public final KeyDistribution distribution;

    MemoryRegime(KeyDistribution distribution) {
        this.distribution = distribution;
    }

    /** Whether the state is larger than memory (HashMap, which holds it all on the heap, is left out). */
    public boolean spills() {
        return this == spill || this == hotspill;
    }

    /** zstate's page cache: a tenth of the uncompressed state. */
    public long pageCacheBytes(StateSize.Sizes state) {
        return Math.max(MIN_PAGE_CACHE, state.pageBytes() / 10);
    }

    /** Managed memory of the slot: zstate's pool, RocksDB's block cache and write buffers. */
    public long managedMemoryBytes(StateSize.Sizes state) {
        long c = state.compressedBytes();
        long bytes = spills() ? c / 4 : Math.max(c + c / 2, MIN_FITTING_POOL);
        return (bytes + (1 << 20) - 1) & -(1L << 20);
    }
}

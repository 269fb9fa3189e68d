package io.zstate.benchmarks;

/**
 * Everything the report measured for one allocator.
 *
 * @param config the allocator
 * @param fill after malloc until NO_SPACE
 * @param afterFree after freeing a random half of the objects
 * @param afterCompact after compact()
 * @param afterVerify after every survivor of the compaction was read once (the read counters)
 * @param compactedFrames frames compact() released
 * @param movedObjects objects compaction moved
 * @param verifiedObjects objects read back and compared after compaction
 * @param framesAfterMalloc frames in use after each successful malloc of the fill, by malloc
 *     count (entry i: after i + 1 objects); the basis of the same-data memory comparison
 * @param reclaim the reclaim phase, on a freshly filled pool
 * @param classTable ZPools.describe(pool) after compaction, or null when not asked for
 */
public record PoolResult(PoolConfig config, PhaseStats fill, PhaseStats afterFree, PhaseStats afterCompact,
        PhaseStats afterVerify, long compactedFrames, long movedObjects, long verifiedObjects, int[] framesAfterMalloc,
        ReclaimResult reclaim, String classTable) {

    /** Frames this pool needed for the first {@code objects} objects of the fill sequence. */
    public int framesFor(int objects) {
        return framesAfterMalloc[objects - 1];
    }
}

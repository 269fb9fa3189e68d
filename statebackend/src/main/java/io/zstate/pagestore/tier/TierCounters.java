package io.zstate.pagestore.tier;

import io.zstate.allocator.ZPoolStats;
import io.zstate.pagestore.PageStoreStats;

/**
 * What moved between the tiers since the pager was made: plain counters, bumped on the paths of
 * {@link Pager} and read, with where the pages are now, as {@link PageStoreStats}.
 */
public final class TierCounters {

    /** Page accesses served by the page cache. */
    long cacheHits;
    /** Page accesses that faulted a page in. */
    long cacheMisses;
    /** Faults served from the pool (decompress). */
    long poolHits;
    /** Faults served from RocksDB. */
    long swapIns;
    /** Faults served from a same-filled tag. */
    long sameFilledHits;
    /** Dirty pages that left the page cache, stored on the task's thread. */
    long stores;
    /** Clean pages dropped from the page cache without a write. */
    long cleanDrops;
    /** Stores kept as a same-filled tag. */
    long sameFilledStores;
    /** Stores sent to RocksDB uncompressed (worse than the bouncer ratio, or the compressor failed). */
    long bounced;
    /** Of which the compressor failed. */
    long compressFailures;
    /** Stores that went to RocksDB because the pool had no room even after reclaim. */
    long directSpills;
    /** Pages moved from the pool to RocksDB by the reaper. */
    long writebacks;
    /** Pool frames the reaper released. */
    long framesReclaimed;
    /** Copies of dirty pages saved for open snapshots before the task changed them (copy on write). */
    long pinCopies;
    /** Snapshots' pinned pool objects the reaper wrote back to RocksDB. */
    long pinWritebacks;
    /** Page bytes that were compressed on store. */
    long uncompressedBytesStored;
    /** The compressed bytes they became. */
    long compressedBytesStored;
    /** Pages a restore placed from a checkpoint. */
    long pagesPlaced;
    /** Dirty pages the background reaper stored ahead of their eviction (their slot made clean). */
    long backgroundCleans;
    /** Pages the reaper copied but did not store: the task changed or evicted them meanwhile. */
    long cleaningRaces;
    /** Stores compressed with the store's zstd dictionary. */
    long dictionaryStores;
    /** LZ4 pool copies re-encoded with the dictionary once it was trained. */
    long recompressions;
    long slotShortfalls;
    long framesReclaimedForSlot;
    /** Stores that kept a page raw in the pool (it had room). */
    long rawStores;
    /** Raw pool copies compressed later, where they were (the pool near its budget). */
    long rawDrained;

    /** Pages the background reaper wrote back to RocksDB (off the task's thread). */
    long backgroundWritebacks;
    /** Pool frames those writebacks released. */
    long framesWrittenBackInBackground;
    /** Times the task finished a background writeback itself, or waited for it (it could not go on without). */
    long writebackWaits;
    /** The time those took, in nanoseconds. */
    long writebackWaitNanos;
    /** Time the pool spent under the low mark (with a reaper), in nanoseconds, up to its last crossing. */
    long underLowMarkNanos;

    TierCounters() {}

    /** The counters with where the pages are now, as the store's public statistics. */
    PageStoreStats stats(PagePlacement pages, Pins pins, ZPoolStats pool, int pageSize, long spillMemoryBytes,
            long spillDiskBytes, long arenaRefusals, long dictionaryBytes, long slotPoolFrames, long rawPoolPages,
            long underLowMarkNow) {
        return new PageStoreStats(
                pages.hot(),
                pages.dirty(),
                pages.inPool(),
                pages.spilled(),
                pages.sameFilled(),
                pages.live(),
                pool.framesHeld(),
                pool.bytesHeld(),
                pool.payloadBytes(),
                pages.hot() * pageSize,
                spillMemoryBytes,
                spillDiskBytes,
                cacheHits,
                cacheMisses,
                poolHits,
                swapIns,
                sameFilledHits,
                stores,
                cleanDrops,
                sameFilledStores,
                bounced,
                compressFailures,
                directSpills,
                writebacks,
                framesReclaimed,
                uncompressedBytesStored,
                compressedBytesStored,
                arenaRefusals,
                0,
                pins.openSnapshots(),
                pins.poolObjects(),
                pins.poolBytes(),
                pins.spilled(),
                pins.saves(),
                pinCopies,
                pinWritebacks,
                pagesPlaced,
                backgroundCleans,
                cleaningRaces,
                0, // the entry cache's seven: the facade's, added by the store
                0,
                0,
                0,
                0,
                0,
                0,
                dictionaryStores,
                recompressions,
                dictionaryBytes,
                0, // the write buffer's three: the index's, added by the store
                0,
                0,
                slotShortfalls,
                framesReclaimedForSlot,
                slotPoolFrames,
                rawPoolPages,
                rawStores,
                rawDrained, 0, 0, 0, // the index adds its own (withIndex)
                backgroundWritebacks,
                framesWrittenBackInBackground,
                writebackWaits,
                writebackWaitNanos,
                underLowMarkNanos + underLowMarkNow);
    }

    /** What open snapshots hold: pinned pool objects (count and bytes) and pinned copies in RocksDB. */
    record Pins(long openSnapshots, long poolObjects, long poolBytes, long spilled, long saves) {}

    /** How many pages are in each place. */
    record PagePlacement(long hot, long dirty, long inPool, long spilled, long sameFilled, long live) {}
}

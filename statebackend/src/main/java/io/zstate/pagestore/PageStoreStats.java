package io.zstate.pagestore;

/**
 * Counters of one page store at one moment; these become Flink metrics.
 *
 * @param hotPages pages in the page cache
 * @param dirtyPages of which dirty
 * @param poolPages pages whose current copy is compressed in the pool
 * @param spilledPages pages whose current copy is in RocksDB
 * @param sameFilledPages pages kept as one repeated word
 * @param livePages all pages
 * @param poolFramesHeld frames the pool holds
 * @param poolBytesHeld bytes of those frames
 * @param poolPayloadBytes compressed bytes stored in the pool
 * @param hotBytes bytes of the pages in the page cache
 * @param spillMemoryBytes memory RocksDB spends on the spill store (memtables, block cache)
 * @param spillDiskBytes bytes of spilled pages on disk (SST files)
 * @param cacheHits page accesses served by the page cache
 * @param cacheMisses page accesses that faulted a page in
 * @param poolHits faults served from the pool (decompress)
 * @param swapIns faults served from RocksDB
 * @param sameFilledHits faults served from a same-filled tag
 * @param stores dirty pages that left the page cache, stored on the task's thread
 * @param cleanDrops clean pages dropped from the page cache without a write
 * @param sameFilledStores stores kept as a tag
 * @param bounced stores sent to RocksDB uncompressed: they compressed worse than the bouncer ratio,
 *     or the compressor failed
 * @param compressFailures of the bounced stores, those whose compressor failed
 * @param directSpills stores that went to RocksDB because the pool had no room even after reclaim
 * @param writebacks pages moved from the pool to RocksDB by the reaper
 * @param framesReclaimed pool frames the reaper released
 * @param uncompressedBytesStored page bytes that were compressed on store
 * @param compressedBytesStored the compressed bytes they became
 * @param arenaRefusals pool arenas the off-heap memory refused (each answered as a full pool)
 * @param mapIndexes maps large enough to live in a map index of their own (a B+tree in pages)
 * @param openSnapshots snapshots frozen and not yet released (checkpoints being written)
 * @param pinnedPoolObjects pool objects that only open snapshots hold (old copies of changed pages)
 * @param pinnedPoolBytes their bytes, part of the pool's budget
 * @param pinnedSpilled copies that only open snapshots hold, in RocksDB (written back, or no room)
 * @param pinSaves pages saved for open snapshots before the task changed or freed them (a pool
 *     object pinned, a RocksDB record kept by a view, a dirty page copied, a word kept)
 * @param pinCopies of which dirty pages copied (compressed into the pool, or into RocksDB)
 * @param pinWritebacks pinned pool objects the reaper wrote back to RocksDB
 * @param pagesPlaced pages a restore placed as a checkpoint stored them (no entry re-put)
 * @param backgroundCleans dirty pages stored before their eviction from a copy the background
 *     reaper compressed off the task's thread (their eviction then only drops them)
 * @param cleaningRaces pages handed to the reaper but not stored: changed or evicted before their
 *     compressed copy came back
 * @param entryHits point reads and writes the entry cache answered without a page
 * @param entryMisses point reads the entry cache missed (the pages answered)
 * @param entryWriteBacks dirty cached entries written into the pages (when they left the cache, or
 *     before an iteration or snapshot)
 * @param cachedEntries entries in the entry cache now
 * @param entryAdmissions keys the entry cache admitted (at their second miss, while admissions
 *     pay for themselves; see {@code EntryCache})
 * @param entrySleeps times the entry cache went to sleep (at its least size, paying for nothing:
 *     point accesses then pass it by but for samples)
 * @param entryWakes times a sleeping entry cache woke (its samples showed a hot set)
 * @param dictionaryStores pages stored compressed with the store's zstd dictionary
 *     (page-compression zstd, once the dictionary is trained; the other compressed stores are LZ4)
 * @param recompressions LZ4 pool copies re-encoded with the dictionary once it was trained (pages
 *     stored before it, or placed by a restore meanwhile), one at an eviction until none is left
 * @param dictionaryBytes bytes of the store's trained zstd dictionary (0 before it, or without one)
 * @param bufferedWrites writes that waited in the write buffer (their bucket's page was not in the
 *     cache) rather than reading their page
 * @param bufferApplications buckets whose waiting writes were applied together: the faults (at
 *     most) the buffered writes cost
 * @param waitingWrites writes waiting in the write buffer now
 * @param slotShortfalls times the pool wanted a frame within its budget while the other pools of
 *     its slot held the rest (each wakes the slot's reaper to balance the pools)
 * @param framesReclaimedForSlot pool frames the slot's reaper wrote back from this store for a
 *     hotter pool of the slot (a part of {@code framesReclaimed})
 * @param slotPoolFrames the frames of the slot's pool that this store's pool shares with the other
 *     keyed backends of its slot; 0 for a pool of its own budget (the largest in a sum)
 * @param rawPoolPages pages whose pool copy is uncompressed now (kept raw while the pool had room)
 * @param rawStores stores that kept a page raw in the pool
 * @param rawDrained raw pool copies compressed later, where they were (the pool near its budget)
 * @param writesToRocksDb waiting writes the write buffer sent to RocksDB unapplied (their bucket's
 *     page was there too): writes that read nothing until their bucket is next read
 * @param writeMergesToRocksDb the RocksDB merges that carried them (one per bucket sent)
 * @param warmPageWrites writes to a page in RocksDB alone that faulted it in rather than wait, the
 *     page having been used again soon twice in a row (its refault distance short of an eighth of
 *     the pages in memory: see {@code Pager.writeMayWait})
 * @param backgroundWritebacks pages the background reaper wrote back from the pool to RocksDB
 *     (its writebacks off the task's thread; {@code writebacks} counts the task's direct ones)
 * @param framesWrittenBackInBackground pool frames those writebacks released
 * @param writebackWaits times the task could not wait for the reaper's writeback (the pool out of
 *     frames, or a page of the batch written or freed meanwhile) and committed it itself, or waited
 *     for the reaper's commit to end
 * @param writebackWaitNanos the time those took, in nanoseconds
 * @param underLowMarkNanos time the pool spent under the low mark (its free frames under two reclaim
 *     batches, with a background reaper), in nanoseconds
 */
public record PageStoreStats(
        long hotPages,
        long dirtyPages,
        long poolPages,
        long spilledPages,
        long sameFilledPages,
        long livePages,
        long poolFramesHeld,
        long poolBytesHeld,
        long poolPayloadBytes,
        long hotBytes,
        long spillMemoryBytes,
        long spillDiskBytes,
        long cacheHits,
        long cacheMisses,
        long poolHits,
        long swapIns,
        long sameFilledHits,
        long stores,
        long cleanDrops,
        long sameFilledStores,
        long bounced,
        long compressFailures,
        long directSpills,
        long writebacks,
        long framesReclaimed,
        long uncompressedBytesStored,
        long compressedBytesStored,
        long arenaRefusals,
        long mapIndexes,
        long openSnapshots,
        long pinnedPoolObjects,
        long pinnedPoolBytes,
        long pinnedSpilled,
        long pinSaves,
        long pinCopies,
        long pinWritebacks,
        long pagesPlaced,
        long backgroundCleans,
        long cleaningRaces,
        long entryHits,
        long entryMisses,
        long entryWriteBacks,
        long cachedEntries,
        long entryAdmissions,
        long entrySleeps,
        long entryWakes,
        long dictionaryStores,
        long recompressions,
        long dictionaryBytes,
        long bufferedWrites,
        long bufferApplications,
        long waitingWrites,
        long slotShortfalls,
        long framesReclaimedForSlot,
        long slotPoolFrames,
        long rawPoolPages,
        long rawStores,
        long rawDrained,
        long writesToRocksDb,
        long writeMergesToRocksDb,
        long warmPageWrites,
        long backgroundWritebacks,
        long framesWrittenBackInBackground,
        long writebackWaits,
        long writebackWaitNanos,
        long underLowMarkNanos) {

    /**
     * These counters with the index layer's (added by the store): map indexes, and the write
     * buffer's buffered writes, bucket applications, waiting writes and writes to warm pages.
     */
    public PageStoreStats withIndex(long count, long buffered, long applications, long waiting, long toRocksDb,
            long mergesToRocksDb, long warmWrites) {
        return new PageStoreStats(hotPages, dirtyPages, poolPages, spilledPages, sameFilledPages, livePages,
                poolFramesHeld, poolBytesHeld, poolPayloadBytes, hotBytes, spillMemoryBytes, spillDiskBytes,
                cacheHits, cacheMisses, poolHits, swapIns, sameFilledHits, stores, cleanDrops, sameFilledStores,
                bounced, compressFailures, directSpills, writebacks, framesReclaimed, uncompressedBytesStored,
                compressedBytesStored, arenaRefusals, count, openSnapshots, pinnedPoolObjects, pinnedPoolBytes,
                pinnedSpilled, pinSaves, pinCopies, pinWritebacks, pagesPlaced, backgroundCleans, cleaningRaces,
                entryHits, entryMisses, entryWriteBacks, cachedEntries, entryAdmissions, entrySleeps, entryWakes,
                dictionaryStores, recompressions, dictionaryBytes, buffered, applications, waiting, slotShortfalls,
                framesReclaimedForSlot, slotPoolFrames, rawPoolPages, rawStores, rawDrained, toRocksDb,
                mergesToRocksDb, warmWrites, backgroundWritebacks, framesWrittenBackInBackground, writebackWaits,
                writebackWaitNanos, underLowMarkNanos);
    }

    /** These counters with the entry cache's (the facade's, added by the store). */
    public PageStoreStats withEntryCache(long hits, long misses, long writeBacks, long entries, long admissions,
            long sleeps, long wakes) {
        return new PageStoreStats(hotPages, dirtyPages, poolPages, spilledPages, sameFilledPages, livePages,
                poolFramesHeld, poolBytesHeld, poolPayloadBytes, hotBytes, spillMemoryBytes, spillDiskBytes,
                cacheHits, cacheMisses, poolHits, swapIns, sameFilledHits, stores, cleanDrops, sameFilledStores,
                bounced, compressFailures, directSpills, writebacks, framesReclaimed, uncompressedBytesStored,
                compressedBytesStored, arenaRefusals, mapIndexes, openSnapshots, pinnedPoolObjects, pinnedPoolBytes,
                pinnedSpilled, pinSaves, pinCopies, pinWritebacks, pagesPlaced, backgroundCleans, cleaningRaces,
                hits, misses, writeBacks, entries, admissions, sleeps, wakes, dictionaryStores, recompressions,
                dictionaryBytes, bufferedWrites, bufferApplications, waitingWrites, slotShortfalls,
                framesReclaimedForSlot, slotPoolFrames, rawPoolPages, rawStores, rawDrained, writesToRocksDb,
                writeMergesToRocksDb, warmPageWrites, backgroundWritebacks, framesWrittenBackInBackground,
                writebackWaits, writebackWaitNanos, underLowMarkNanos);
    }

    /** The counters of two stores added up (for totals over the backends of a job). */
    public PageStoreStats plus(PageStoreStats o) {
        return new PageStoreStats(
                hotPages + o.hotPages,
                dirtyPages + o.dirtyPages,
                poolPages + o.poolPages,
                spilledPages + o.spilledPages,
                sameFilledPages + o.sameFilledPages,
                livePages + o.livePages,
                poolFramesHeld + o.poolFramesHeld,
                poolBytesHeld + o.poolBytesHeld,
                poolPayloadBytes + o.poolPayloadBytes,
                hotBytes + o.hotBytes,
                spillMemoryBytes + o.spillMemoryBytes,
                spillDiskBytes + o.spillDiskBytes,
                cacheHits + o.cacheHits,
                cacheMisses + o.cacheMisses,
                poolHits + o.poolHits,
                swapIns + o.swapIns,
                sameFilledHits + o.sameFilledHits,
                stores + o.stores,
                cleanDrops + o.cleanDrops,
                sameFilledStores + o.sameFilledStores,
                bounced + o.bounced,
                compressFailures + o.compressFailures,
                directSpills + o.directSpills,
                writebacks + o.writebacks,
                framesReclaimed + o.framesReclaimed,
                uncompressedBytesStored + o.uncompressedBytesStored,
                compressedBytesStored + o.compressedBytesStored,
                arenaRefusals + o.arenaRefusals,
                mapIndexes + o.mapIndexes,
                openSnapshots + o.openSnapshots,
                pinnedPoolObjects + o.pinnedPoolObjects,
                pinnedPoolBytes + o.pinnedPoolBytes,
                pinnedSpilled + o.pinnedSpilled,
                pinSaves + o.pinSaves,
                pinCopies + o.pinCopies,
                pinWritebacks + o.pinWritebacks,
                pagesPlaced + o.pagesPlaced,
                backgroundCleans + o.backgroundCleans,
                cleaningRaces + o.cleaningRaces,
                entryHits + o.entryHits,
                entryMisses + o.entryMisses,
                entryWriteBacks + o.entryWriteBacks,
                cachedEntries + o.cachedEntries,
                entryAdmissions + o.entryAdmissions,
                entrySleeps + o.entrySleeps,
                entryWakes + o.entryWakes,
                dictionaryStores + o.dictionaryStores,
                recompressions + o.recompressions,
                dictionaryBytes + o.dictionaryBytes,
                bufferedWrites + o.bufferedWrites,
                bufferApplications + o.bufferApplications,
                waitingWrites + o.waitingWrites,
                slotShortfalls + o.slotShortfalls,
                framesReclaimedForSlot + o.framesReclaimedForSlot,
                Math.max(slotPoolFrames, o.slotPoolFrames),
                rawPoolPages + o.rawPoolPages,
                rawStores + o.rawStores,
                rawDrained + o.rawDrained,
                writesToRocksDb + o.writesToRocksDb,
                writeMergesToRocksDb + o.writeMergesToRocksDb,
                warmPageWrites + o.warmPageWrites,
                backgroundWritebacks + o.backgroundWritebacks,
                framesWrittenBackInBackground + o.framesWrittenBackInBackground,
                writebackWaits + o.writebackWaits,
                writebackWaitNanos + o.writebackWaitNanos,
                underLowMarkNanos + o.underLowMarkNanos);
    }

    /** Uncompressed / compressed bytes over all stores; 0 before the first. */
    public double compressionRatio() {
        return compressedBytesStored == 0 ? 0 : (double) uncompressedBytesStored / compressedBytesStored;
    }

    /** Fraction of page accesses served by the page cache. */
    public double cacheHitRate() {
        long all = cacheHits + cacheMisses;
        return all == 0 ? 0 : (double) cacheHits / all;
    }

    /** Fraction of faults served by the pool rather than RocksDB or a tag. */
    public double poolHitRate() {
        return cacheMisses == 0 ? 0 : (double) poolHits / cacheMisses;
    }

    /** Buffered writes applied per bucket application (per fault at most); 0 before the first. */
    public double writesPerApplication() {
        return bufferApplications == 0 ? 0 : (double) (bufferedWrites - waitingWrites) / bufferApplications;
    }

    /** The fraction of its slot's pool this store's pool holds; 0 for a pool of its own budget. */
    public double slotPoolShare() {
        return slotPoolFrames == 0 ? 0 : (double) poolFramesHeld / slotPoolFrames;
    }

    /** Frames the reaper released per page it wrote back; 0 before the first writeback. */
    public double framesReleasedPerWriteback() {
        return writebacks == 0 ? 0 : (double) framesReclaimed / writebacks;
    }
}

package io.zstate.pagestore.tier;

import io.zstate.pagestore.Faults;
import io.zstate.allocator.ArenaMemory;
import io.zstate.allocator.Evictor;
import io.zstate.allocator.FrameSource;
import io.zstate.allocator.MemoryBudget;
import io.zstate.allocator.ZPool;
import io.zstate.allocator.ZPools;
import io.zstate.pagestore.PageStoreConfig;
import io.zstate.pagestore.PageStoreStats;
import io.zstate.pagestore.layout.SameFilled;
import io.zstate.pagestore.layout.StoredPage;
import java.nio.ByteBuffer;
import org.apache.flink.util.IOUtils;
import net.jpountz.lz4.LZ4Exception;

/**
 * The pager: where every page is, and the paths that move it between the tiers. The index above
 * asks for pages by id ({@link #load}) and says when it changes one ({@link #markDirty}); it never
 * learns where a page was. The zswap path, inside a stream job.
 *
 * <pre>
 * Tiers:
 *   hot      PageCache: decompressed pages on the heap, CLOCK, dirty bit, pins
 *   pool     compressed pages (StoredPage: page id | codec | LZ4 bytes) in a ZPool (zsmalloc,
 *            zbud, z3fold or zlog) over a FrameSource budget of unsafe off-heap arenas
 *   spilled  stored pages in RocksDB (SpillStore), the swap device
 *   same     a page of one repeated word, kept as that word in the page table
 *
 * The states of a page (PageTable holds where its current copy is):
 *
 *                 markDirty                        markDirty (drops the pool copy)
 *     +------------+   +-------------------------------------------------------------+
 *     v            |   |                                                             |
 *   HOT DIRTY -----+   |   store: same-filled ------------> SAME ----fault---> HOT CLEAN(same)
 *     |                |   store: bounced (ratio) --------> SPILLED --fault--> HOT CLEAN(spilled)
 *     | store          |   store: compressed, pool room --> POOL -----fault--> HOT CLEAN(pool)
 *     | (eviction)     |   store: pool full, reclaim,            |
 *     |                |          still no room ----------> SPILLED
 *     +----------------+                                       ^   |
 *                                                writeback ----+   | (POOL -> SPILLED: the reaper)
 *   HOT CLEAN(x) --clean drop (eviction, no write)--> x
 *   any state --freePage--> gone (every copy released: cache slot, pool object, RocksDB record)
 *
 *   fault-in  a page not in the cache is decoded from its copy; the copy stays current until the
 *             page is first modified (zswap's non-exclusive load), so re-evicting it costs nothing
 *   reclaim   the pool is full: it hands the objects of its coldest frames to the writeback; they
 *             are put into one RocksDB write batch, the batch is committed, and only then do the
 *             page table say SPILLED and the pool free the objects (Evictor.flush)
 * </pre>
 *
 * <pre>
 * Invariants (checkInvariants): a dirty cached page has no other current copy; every other page
 * has exactly one (pool handle, SPILLED or SAME); cache and page table agree; no slot is pinned
 * between operations.
 *
 * Failure: every path either completes or leaves the pager as it was, except where RocksDB or
 * the codec fails midway through an operation of the index; the store above then fails. Running
 * short is not a failure: no frame (budget, or the memory refused an arena) or an incompressible
 * page (or a compressor that fails) completes by spilling.
 *
 * Threads and lock order (the whole backend):
 *   1. the keyed backend's lock (the PageStore object): held by the task thread, and by any other
 *      thread that reads state (queryable state), for a whole state access; the pager, the
 *      index, the pool and the frame source are touched only under it
 *   2. SpillStore's monitor: view creation and release, close, and the gauges' RocksDB
 *      properties; a snapshot thread takes it alone when it closes its frozen view
 *   The snapshot thread reads only its frozen view (FrozenPages: heap copies and a RocksDB
 *   snapshot), never the cache, page table or pool. A background reaper (a later issue) will take
 *   lock 1 per batch of frames. Never take 1 while holding 2.
 *
 * Touches: the page cache, page table, codec, pool, frame source and spill store. Knows no keys,
 * tables or buckets.
 * </pre>
 */
public final class Pager implements AutoCloseable {

    /** Arenas drawn from a shared budget are small, so stores sharing it grow in step. */
    private static final int SHARED_ARENA_BYTES = 1 << 20;

    private final int pageSize;
    private final double bouncerMinRatio;
    private final int reclaimBatchFrames;
    private final UnsafeArenaMemory arenaMemory;
    private final FrameSource frames;
    private final ZPool pool;
    private final SpillStore spill;
    private final PageCodec codec;
    private final PageTable table = new PageTable();
    private final PageCache cache;
    private final TierCounters counters = new TierCounters();
    private final Writeback writeback;
    private final int maxStored;
    /** A stored page on its way to the pool or RocksDB: StoredPage layout. */
    private final byte[] storeScratch;
    /** A stored page on its way in from the pool or RocksDB. */
    private final byte[] loadScratch;

    /**
     * A pager for {@code config}, whose pool frames are also drawn from {@code shared} (the
     * budget of a Flink slot's backends) unless it is {@code null}.
     */
    public Pager(PageStoreConfig config, MemoryBudget shared, Faults faults) {
        this.pageSize = config.pageSize();
        this.bouncerMinRatio = config.bouncerMinRatio();
        this.reclaimBatchFrames = config.reclaimBatchFrames();
        this.codec = new PageCodec(pageSize, faults);
        this.cache = new PageCache((int) Math.min(Integer.MAX_VALUE, config.pageCacheBytes() / pageSize), pageSize);
        this.arenaMemory = new UnsafeArenaMemory();
        ArenaMemory memory = faults == Faults.NONE ? arenaMemory : new FaultyArenaMemory(arenaMemory, faults);
        this.frames = shared == null
                ? new FrameSource(config.poolBytes(), config.frameSize(), FrameSource.DEFAULT_ARENA_BYTES, null, memory)
                : new FrameSource(config.poolBytes(), config.frameSize(), SHARED_ARENA_BYTES, shared, memory);
        try {
            this.pool = traced(ZPools.create(config.allocator(), frames), config);
        } catch (RuntimeException e) {
            frames.close();
            throw e;
        }
        this.maxStored = Math.max(codec.maxCompressedLength(), pageSize) + StoredPage.HEADER;
        this.storeScratch = new byte[maxStored];
        this.loadScratch = new byte[maxStored];
        this.writeback = new Writeback();
        try {
            this.spill = new SpillStore(config.spillDirectory(), config.spillBlockCacheBytes(),
                    config.spillWriteBufferBytes(), faults);
        } catch (RuntimeException e) {
            pool.close();
            frames.close();
            throw e;
        }
    }

    public int pageSize() {
        return pageSize;
    }

    /**
     * The pool, recording its requests into a new file of the trace directory if the config names
     * one (a measuring tool: the allocator replay reads these files).
     */
    private static ZPool traced(ZPool pool, PageStoreConfig config) {
        if (config.poolTraceDirectory() == null) {
            return pool;
        }
        java.io.OutputStream out = null;
        try {
            java.nio.file.Files.createDirectories(config.poolTraceDirectory());
            java.nio.file.Path file = config.poolTraceDirectory().resolve(
                    "pool-" + java.util.UUID.randomUUID() + ".trace.gz");
            out = java.nio.file.Files.newOutputStream(file);
            return ZPools.tracing(pool, new io.zstate.allocator.PoolTrace.Writer(out, config.frameSize()));
        } catch (java.io.IOException e) {
            IOUtils.closeQuietly(out);
            pool.close();
            throw new java.io.UncheckedIOException("Could not open a pool trace in " + config.poolTraceDirectory()
                    + " (the setting that asks for pool traces): check that the directory is writable", e);
        }
    }

    // ==== pages ====================================================================================

    /** The cache slot of a live page, faulting it in if needed. */
    public int load(int pageId) {
        int slot = table.cacheSlot(pageId);
        if (slot != PageTable.NOT_CACHED) {
            cache.touch(slot);
            counters.cacheHits++;
            return slot;
        }
        counters.cacheMisses++;
        slot = obtainSlot(); // a free slot; it stays free if the fault-in below throws
        byte[] page = cache.page(slot);
        long handle = table.poolHandle(pageId);
        if (table.isSame(pageId)) {
            SameFilled.fill(page, table.sameWord(pageId));
            counters.sameFilledHits++;
        } else if (handle != 0) {
            int stored = pool.read(handle, loadScratch, 0);
            codec.decode(loadScratch, StoredPage.PAGE_ID, stored - StoredPage.PAGE_ID, page);
            counters.poolHits++;
        } else if (table.isSpilled(pageId)) {
            int n = spill.get(pageId, loadScratch);
            if (n < 1) {
                throw new IllegalStateException(
                        "page " + pageId + " is marked spilled but RocksDB has no copy: the spill store is corrupt");
            }
            codec.decode(loadScratch, 0, n, page);
            counters.swapIns++;
        } else {
            throw new IllegalStateException("page " + pageId + " has no copy in any tier: the page store is corrupt");
        }
        cache.occupy(slot, pageId, false);
        table.cacheSlot(pageId, slot);
        return slot;
    }

    /** The bytes of the page in a cache slot. */
    public byte[] page(int slot) {
        return cache.page(slot);
    }

    /** The cache slot of a page that is in the cache (loaded by the current operation). */
    public int cachedSlot(int pageId) {
        return table.cacheSlot(pageId);
    }

    /** Keeps a slot's page in the cache until {@link #unpin}: loading others cannot evict it. */
    public void pin(int slot) {
        cache.pin(slot);
    }

    public void unpin(int slot) {
        cache.unpin(slot);
    }

    /**
     * A new page of {@code localDepth} (a bucket's extendible-hashing depth; 0 for blobs), dirty
     * and pinned in the cache, its bytes to be initialised by the caller. The cache slot is
     * obtained before the page id, so a failed eviction leaves no page behind.
     */
    public int newPage(int localDepth) {
        int slot = obtainSlot();
        int pageId = table.allocate();
        table.depth(pageId, localDepth);
        cache.occupy(slot, pageId, true);
        table.cacheSlot(pageId, slot);
        cache.pin(slot);
        return pageId;
    }

    /** A page in the cache is about to change: copies elsewhere stop being current. */
    public void markDirty(int slot) {
        if (cache.isDirty(slot)) {
            return;
        }
        int pageId = cache.pageId(slot);
        long handle = table.poolHandle(pageId);
        if (handle != 0) {
            pool.free(handle);
            table.poolHandle(pageId, 0);
        }
        // a stale RocksDB copy stays until the page is spilled again or freed
        table.spilled(pageId, false);
        table.clearSame(pageId);
        cache.dirty(slot, true);
    }

    /** Frees a page in every tier (its RocksDB record first: the step that can fail). */
    public void freePage(int pageId) {
        if (table.isOnDisk(pageId)) {
            spill.delete(pageId);
        }
        int slot = table.cacheSlot(pageId);
        if (slot != PageTable.NOT_CACHED) {
            cache.vacate(slot);
        }
        long handle = table.poolHandle(pageId);
        if (handle != 0) {
            pool.free(handle);
        }
        table.release(pageId);
    }

    public boolean isLive(int pageId) {
        return table.isLive(pageId);
    }

    /** A bucket page's extendible-hashing depth. */
    public int depth(int pageId) {
        return table.depth(pageId);
    }

    public void depth(int pageId, int depth) {
        table.depth(pageId, depth);
    }

    // ==== eviction and the store path ==============================================================

    /** A free cache slot, evicting the CLOCK victim if the cache is full. */
    private int obtainSlot() {
        int slot = cache.freeSlot();
        if (slot != PageCache.FREE) {
            return slot;
        }
        slot = cache.victim();
        int pageId = cache.pageId(slot);
        if (cache.isDirty(slot)) {
            store(pageId, cache.page(slot)); // the victim stays dirty in the cache if this throws
        } else {
            counters.cleanDrops++;
        }
        table.cacheSlot(pageId, PageTable.NOT_CACHED);
        cache.vacate(slot);
        return slot;
    }

    /** The store path: a dirty page leaves the cache. Changes the page table only once done. */
    private void store(int pageId, byte[] page) {
        counters.stores++;
        if (SameFilled.is(page)) {
            table.same(pageId, SameFilled.word(page));
            counters.sameFilledStores++;
            return;
        }
        int length;
        try {
            length = codec.compress(page, storeScratch, StoredPage.HEADER);
        } catch (LZ4Exception e) {
            length = Integer.MAX_VALUE; // stored as it is, like a page that does not compress
            counters.compressFailures++;
        }
        if (length != Integer.MAX_VALUE) {
            counters.uncompressedBytesStored += pageSize;
            counters.compressedBytesStored += length;
        }
        if (length == Integer.MAX_VALUE || length * bouncerMinRatio > pageSize) {
            StoredPage.writeHeader(storeScratch, pageId, StoredPage.RAW);
            System.arraycopy(page, 0, storeScratch, StoredPage.HEADER, pageSize);
            spill.put(pageId, storeScratch, StoredPage.spillValue(), pageSize + 1);
            table.spilled(pageId, true);
            counters.bounced++;
            return;
        }
        StoredPage.writeHeader(storeScratch, pageId, StoredPage.LZ4);
        int objectSize = StoredPage.HEADER + length;
        long handle = objectSize <= pool.maxObjectSize() ? pool.malloc(objectSize) : ZPool.NO_SPACE;
        if (handle == ZPool.NO_SPACE && objectSize <= pool.maxObjectSize()) {
            reclaim();
            handle = pool.malloc(objectSize);
        }
        if (handle == ZPool.NO_SPACE) {
            spill.put(pageId, storeScratch, StoredPage.spillValue(), objectSize - StoredPage.PAGE_ID);
            table.spilled(pageId, true);
            counters.directSpills++;
            return;
        }
        pool.write(handle, storeScratch, 0, objectSize);
        table.poolHandle(pageId, handle);
    }

    /** Direct reclaim: the pool's coldest frames go to RocksDB in one committed write batch. */
    private void reclaim() {
        spill.beginBatch();
        try {
            counters.framesReclaimed += pool.reclaim(reclaimBatchFrames, writeback);
        } finally {
            spill.discardBatch(); // nothing left after a commit; unwritten puts after a failure
            writeback.pending = 0;
        }
    }

    /**
     * The reaper's evictor: a pool object goes to RocksDB; it never goes back into the pool. The
     * page table changes only after the batch is committed ({@link #flush}), and the pool frees
     * the objects only after that.
     */
    private final class Writeback implements Evictor {
        private final byte[] object = new byte[maxStored];
        private int[] pages = new int[64];
        private int pending;

        @Override
        public boolean evict(long handle, ByteBuffer data) {
            int length = data.remaining();
            data.get(object, 0, length);
            int pageId = StoredPage.pageId(object);
            if (!table.isLive(pageId) || table.poolHandle(pageId) != handle) {
                throw new IllegalStateException("pool object " + Long.toHexString(handle) + " names page " + pageId
                        + ", which does not own it: the page store is corrupt");
            }
            spill.put(pageId, object, StoredPage.spillValue(), length - StoredPage.PAGE_ID);
            if (pending == pages.length) {
                pages = java.util.Arrays.copyOf(pages, pending * 2);
            }
            pages[pending++] = pageId;
            return true;
        }

        @Override
        public void flush() {
            spill.commitBatch();
            for (int i = 0; i < pending; i++) {
                table.poolHandle(pages[i], 0);
                table.spilled(pages[i], true);
            }
            counters.writebacks += pending;
            pending = 0;
        }
    }

    // ==== snapshots, observability, checks, lifecycle =============================================

    /**
     * The authoritative copy of every live page as it is now, for a snapshot: hot pages and pool
     * pages copied (pool pages as their stored bytes), same-filled pages as their word, spilled
     * pages through a RocksDB snapshot.
     */
    public FrozenPages freeze() {
        ZPools.snapshotReads(pool, true); // a pool trace tells a checkpoint's copies from page faults
        try {
            return FrozenPages.capture(table, cache, pool, spill, pageSize, maxStored);
        } finally {
            ZPools.snapshotReads(pool, false);
        }
    }

    /** Where the pages are and what moved, now; {@code spillProperties} asks RocksDB for its sizes. */
    public PageStoreStats stats(boolean spillProperties) {
        long dirty = 0;
        for (int s = 0; s < cache.slots(); s++) {
            if (cache.pageId(s) != PageCache.FREE && cache.isDirty(s)) {
                dirty++;
            }
        }
        long inPool = 0;
        long spilled = 0;
        long same = 0;
        for (int id = 0; id < table.idsUsed(); id++) {
            if (!table.isLive(id)) {
                continue;
            }
            if (table.poolHandle(id) != 0) {
                inPool++;
            } else if (table.isSpilled(id)) {
                spilled++;
            } else if (table.isSame(id)) {
                same++;
            }
        }
        TierCounters.PagePlacement pages =
                new TierCounters.PagePlacement(cache.used(), dirty, inPool, spilled, same, table.live());
        return counters.stats(pages, pool.stats(), pageSize, spillProperties ? spill.memoryBytes() : 0,
                spillProperties ? spill.diskBytes() : 0, frames.arenaRefusals());
    }

    /** Heap bytes of the page cache, page table, pool metadata and frame bookkeeping. */
    public long heapBytes() {
        return cache.heapBytes() + table.metadataBytes() + pool.stats().metadataBytes() + frames.metadataBytes();
    }

    /** Off-heap bytes the pool's frames hold. */
    public long offHeapBytes() {
        return frames.bytesInUse();
    }

    public long spillMemoryBytes() {
        return spill.memoryBytes();
    }

    public long spillDiskBytes() {
        return spill.diskBytes();
    }

    public int framesInUse() {
        return frames.framesInUse();
    }

    /** Off-heap arenas still allocated (0 once closed); for leak checks. */
    public int liveArenas() {
        return arenaMemory.liveArenas();
    }

    public java.nio.file.Path spillDirectory() {
        return spill.directory();
    }

    /** Whether frozen views still read the spill store (which then outlives {@link #close()}). */
    public boolean hasOpenSnapshots() {
        return spill.hasOpenViews();
    }

    /** See the class header's invariants; also the pool's own. */
    public void checkInvariants() {
        for (int s = 0; s < cache.slots(); s++) {
            int id = cache.pageId(s);
            if (id == PageCache.FREE) {
                continue;
            }
            if (!table.isLive(id) || table.cacheSlot(id) != s) {
                throw new IllegalStateException("cache slot " + s + " holds page " + id + ", which does not point back");
            }
            if (cache.isPinned(s)) {
                throw new IllegalStateException("cache slot " + s + " is still pinned between operations");
            }
        }
        for (int id = 0; id < table.idsUsed(); id++) {
            if (!table.isLive(id)) {
                continue;
            }
            int slot = table.cacheSlot(id);
            boolean dirty = slot != PageTable.NOT_CACHED && cache.isDirty(slot);
            int copies = (table.poolHandle(id) != 0 ? 1 : 0) + (table.isSpilled(id) ? 1 : 0)
                    + (table.isSame(id) ? 1 : 0);
            if (dirty ? copies != 0 : copies != 1) {
                throw new IllegalStateException("page " + id + " is " + (dirty ? "dirty in the cache" : "clean")
                        + " with " + copies + " other current copies; a page has exactly one authoritative place");
            }
            if (slot != PageTable.NOT_CACHED && cache.pageId(slot) != id) {
                throw new IllegalStateException("page " + id + " points at cache slot " + slot + ", which holds another");
            }
        }
        pool.checkInvariants();
    }

    /**
     * Releases every off-heap byte (pool, frames and their arenas) and the spill store with its
     * directory, each even if an earlier step throws; the first failure is rethrown afterwards.
     */
    @Override
    public void close() {
        closeAll("the pager", pool, frames, spill);
    }

    /**
     * Closes every step even if an earlier one throws (Flink's {@link IOUtils#closeAll}); the first
     * failure is rethrown afterwards with the others suppressed.
     */
    static void closeAll(String what, AutoCloseable... steps) {
        try {
            IOUtils.closeAll(steps);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("could not close " + what, e);
        }
    }
}

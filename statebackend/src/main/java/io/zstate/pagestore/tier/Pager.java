package io.zstate.pagestore.tier;

import io.zstate.pagestore.Faults;
import io.zstate.allocator.ArenaFrames;
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

/**
 * The pager: where every page is, and the paths that move it between the tiers. The index above
 * asks for pages by id ({@link #load}) and says when it changes one ({@link #markDirty}); it never
 * learns where a page was. The zswap path, inside a stream job.
 *
 * <pre>
 * Tiers:
 *   hot      PageCache: decompressed pages on the heap, CLOCK, dirty bit, pins
 *   pool     compressed pages (StoredPage: page id | codec | LZ4 or zstd bytes) in a ZPool (zsmalloc,
 *            zbud, z3fold, zlog or xcfmalloc) over a FrameSource budget of unsafe off-heap arenas
 *   spilled  stored pages in RocksDB (SpillStore), the swap device
 *   same     a page of one repeated word, kept as that word in the page table
 *
 * The states of a page (PageTable holds where its current copy is):
 *
 *                 markDirty                        markDirty (drops the pool copy, or hands it
 *                                                  to a snapshot's pin: see Snapshots below)
 *     +------------+   +-------------------------------------------------------------+
 *     v            |   |                                                             |
 *   HOT DIRTY -----+   |   store: same-filled ------------> SAME ----fault---> HOT CLEAN(same)
 *     |                |   store: bounced (ratio) --------> SPILLED --fault--> HOT CLEAN(spilled)
 *     | store          |   store: compressed, pool room --> POOL -----fault--> HOT CLEAN(pool)
 *     | (eviction)     |   store: raw, pool under fill ---> POOL(raw) --drain--> POOL
 *     |                |   store: pool full, reclaim,            |
 *     |                |          still no room ----------> SPILLED
 *     +----------------+                                       ^   |
 *                                                writeback ----+   | (POOL -> SPILLED: the reaper)
 *   HOT CLEAN(x) --clean drop (eviction, no write)--> x
 *   any state --freePage--> gone (every copy released: cache slot, pool object, RocksDB record;
 *                           an open snapshot's copy is saved first, as a pin)
 *
 *   place     a restore's page from a checkpoint, under the id it had, goes where the store path
 *             keeps an evicted page (pool, RocksDB, a word), never into the cache (place)
 *   clean     with a background reaper: a dirty page ahead of the CLOCK hand is copied out, the
 *             reaper compresses the copy, and at a later eviction the task keeps it as the store
 *             path would (HOT DIRTY -> HOT CLEAN(x)) if the page did not change meanwhile
 *   fault-in  a page not in the cache is decoded from its copy; the copy stays current until the
 *             page is first modified (zswap's non-exclusive load), so re-evicting it costs nothing
 *   reclaim   the pool is full: it hands the objects of its coldest frames to the writeback; they
 *             are put into one RocksDB write batch, the batch is committed, and only then do the
 *             page table say SPILLED and the pool free the objects (Evictor.flush). A raw object
 *             is compressed on its way: RocksDB holds raw only the pages that do not compress
 *   writeback with a background reaper, the same in three steps (WritebackBatch): under the low
 *             mark an eviction isolates the pool's coldest frames and copies their pages; the
 *             reaper commits the copies to RocksDB without the lock; a later eviction completes:
 *             a page whose object is unchanged since its copy becomes SPILLED and the pool frees
 *             the object; a page changed meanwhile keeps its newer copy (the record is stale)
 *   raw       while the pool's frames in use stay under its fill line (raw-pool-fill of its
 *             budget), a stored page is kept in the pool as it is (codec RAW), the way the
 *             kernel's page cache takes free memory: a fault is then a copy, and a store costs
 *             no compression. At or above the line a store compresses; near the budget it also
 *             compresses raw copies in place (drainRaw: the new object written before the raw
 *             one is freed) before anything is written back to RocksDB
 * </pre>
 *
 * <pre>
 * Invariants (checkInvariants): a dirty cached page has no other current copy; every other page
 * has exactly one (pool handle, SPILLED or SAME); cache and page table agree; no slot is pinned
 * between operations; every pool object is a page's or a snapshot's pin, never both; pins are
 * counted once per open snapshot that holds them.
 *
 * Failure: every path either completes or leaves the pager as it was, except where RocksDB or
 * the codec fails midway through an operation of the index; the store above then fails. Running
 * short is not a failure: no frame (budget, or the memory refused an arena) or an incompressible
 * page (or a compressor that fails) completes by spilling.
 *
 * Snapshots (SnapshotPins, FrozenPages): a freeze copies nothing; it opens an epoch.
 *   markDirty, freePage and a depth change save a page's current copy first when an open
 *   snapshot still needs it (one compare on the write path): a pool object passes to a pin, a
 *   RocksDB record is kept by a view, a dirty cached page is compressed into a pinned copy (pool
 *   or RocksDB). Pinned pool objects are pool objects: in the budget, moved by compaction,
 *   written back by reclaim (the pin follows them to RocksDB under a key of its own).
 *
 * Threads and lock order (the whole backend):
 *   1. the keyed backend's lock (the PageStore object): held by the task thread, and by any other
 *      thread that reads state (queryable state), for a whole state access; the pager, the
 *      index, the pool and the frame source are touched only under it
 *   2. SpillStore's monitor: view creation and release, close, and the gauges' RocksDB
 *      properties, which a metrics thread may take alone
 *   2'. the incremental snapshot strategy's monitor (its chains of checkpoint files): taken
 *      under 1 by the task thread, alone by a checkpoint's asynchronous part; never with 2
 *   The snapshot thread (a checkpoint's asynchronous part) takes lock 1 for each page it reads
 *   (copyFrozen: a copy of the page's stored bytes from the cache, a pin or the pool, or a
 *   reference to where it is in RocksDB: a view or a pin's own key, which stay until the
 *   snapshot lets go of them; it reads RocksDB and decodes after releasing the lock, and takes
 *   lock 1 again to drop a view it took for the read) and to release its snapshot (release:
 *   pins freed; if the store was closed meanwhile, the last release frees its memory and runs
 *   the backend's whenReleased actions, which return the managed memory to Flink's
 *   MemoryManager). It touches nothing else of the pager; without the lock it reads only
 *   RocksDB records that nothing changes while it holds them (a view's snapshot, a pin's own
 *   key), so it never sees an object half-moved by compaction or a page half-written.
 *   The background reaper's thread (Reaper) takes no lock of the store to compress: at each
 *   eviction the task (holding 1) installs what the reaper compressed and submits copies of the
 *   next dirty victims to a CleaningRing, which the reaper compresses; volatile indices hand each
 *   entry over. An installed copy counts only if the slot still holds the page at the write stamp
 *   it was copied at (markDirty and occupy stamp a slot). To balance a slot's pools
 *   (PoolBalancer) it takes 1 of one store at a time for a reclaim of that store's coldest frames
 *   (reclaimForSlot), holding nothing else; a task thread never takes another store's 1. The
 *   slot's ArenaFrames monitor is a leaf, taken under 1 by whoever takes or gives back a frame.
 *   Never take 1 while holding 2.
 *   3. a PageCodec's monitor (page-compression zstd): the reaper holds its ring's codec for a
 *   batch and a snapshot's thread its view's codec for a decode; closing either (under 1) waits
 *   for them; neither takes another lock while holding it. PageDictionary's monitor is a leaf.
 *   3'. the WritebackBatch's monitor: held for a commit of the pool's coldest pages to RocksDB, by
 *   the reaper (alone) or by the task (under 1) when it cannot go on without it (the pool out of
 *   frames, or a page of the batch written to RocksDB or freed meanwhile: the reaper's older copy
 *   must land first); close takes it (under 1), so nothing is written after. It takes no other
 *   lock: the commit writes RocksDB without 2 (RocksDB writes are thread-safe).
 *
 * Touches: the page cache, page table, codec, pool, frame source and spill store. Knows no keys,
 * tables or buckets.
 * </pre>
 */
public final class Pager implements AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Pager.class);

    /** Arenas drawn from a shared budget are small, so that a slot takes its managed memory as it grows. */
    private static final int SHARED_ARENA_BYTES = 1 << 20;

    private final int pageSize;
    private final double bouncerMinRatio;
    private final int reclaimBatchFrames;
    private final UnsafeArenaMemory arenaMemory;
    private final FrameSource frames;
    private final ZPool pool;
    private final SpillStore spill;
    private final PageCodec codec;
    /** The store's zstd dictionary (page-compression zstd), or null for LZ4 alone. */
    private final PageDictionary dictionary;
    /** Native bytes taken from the shared budget for the zstd contexts (0 if none or own budget). */
    private final long codecReserveShared;
    private final MemoryBudget shared;
    private final PageTable table = new PageTable();
    private final PageCache cache;
    private final TierCounters counters = new TierCounters();
    /**
     * Pages that left memory for RocksDB alone (written back, stored there directly, or a clean
     * copy dropped from the cache), and writes that waited rather than fault their page in: the
     * clock of refault distances ({@link #writeMayWait}). Wraps harmlessly: distances are
     * differences.
     */
    private int leaveClock;
    /**
     * A refault distance is short below the pages in memory over this ({@link #writeMayWait}):
     * memory an eighth larger would have kept the page. The state suite's spill rows kept 60-75%
     * of the gain of letting every such write wait with a quarter, 90-100% with an eighth, no more
     * with a sixteenth (one short distance bringing a page back; two in a row since).
     */
    private static final int WORKING_SET_MARGIN = 8;
    private final Writeback writeback;
    private final SnapshotPins pins = new SnapshotPins();
    /** Closed while snapshots were open: the memory goes when the last one is released. */
    private boolean closing;
    /** Every off-heap byte and the spill store released. */
    private boolean released;
    private final java.util.List<Runnable> onRelease = new java.util.ArrayList<>();
    private final int maxStored;
    private final Faults faults;
    /** A stored page on its way to the pool or RocksDB: StoredPage layout. */
    private final byte[] storeScratch;
    /** A stored page on its way in from the pool or RocksDB. */
    private final byte[] loadScratch;
    /** Pool frames in use under which stored pages are kept raw (the fill line); 0: never raw. */
    private final int rawFillFrames;
    /** The next page id {@link #drainRaw} looks at. */
    private int drainCursor;
    /**
     * A page on its way from one stored form to another: recompressed with the dictionary, or a raw
     * copy compressed by a drain or a writeback (allocated by the first; never two at once).
     */
    private byte[] recodePage;
    /** Frames left in the budget under which a store compresses the raw copies it finds and compacts the pool. */
    private static final int DRAIN_RESERVE_FRAMES = 16;
    /** Page ids a drain looks at, at most. */
    private static final int DRAIN_SCAN = 256;

    /**
     * A pager for {@code config}, whose pool frames are also drawn from {@code shared} (the
     * budget of a Flink slot's backends) unless it is {@code null}.
     */
    public Pager(PageStoreConfig config, MemoryBudget shared, Faults faults) {
        this(config, shared, null, faults);
    }

    /**
     * A pager whose pool draws from the pool share of {@code slot} and whose spill store uses
     * the slot's shared RocksDB memory (a Flink slot's zstate backends share both).
     */
    public Pager(PageStoreConfig config, io.zstate.pagestore.SlotMemory slot, Faults faults) {
        this(config, slot.pool(), slot, faults);
    }

    private Pager(PageStoreConfig config, MemoryBudget shared, io.zstate.pagestore.SlotMemory slot, Faults faults) {
        this.pageSize = config.pageSize();
        this.bouncerMinRatio = config.bouncerMinRatio();
        this.reclaimBatchFrames = config.reclaimBatchFrames();
        PageDictionary wanted = config.zstd() ? config.newDictionary() : null;
        long reserve = wanted == null ? 0 : PageCodec.ZSTD_NATIVE_RESERVE;
        if (shared != null && reserve > 0 && !shared.tryReserve(reserve)) {
            LOG.warn("The slot's managed memory has no {} bytes left for the zstd contexts of page-compression 'zstd';"
                    + " this keyed backend compresses its pages with LZ4. Give the TaskManager more managed memory.",
                    reserve);
            wanted = null;
            reserve = 0;
        }
        this.dictionary = wanted;
        this.recompressing = wanted != null;
        this.codec = new PageCodec(pageSize, faults, dictionary);
        this.faults = faults;
        this.shared = shared;
        this.codecReserveShared = shared == null ? 0 : reserve;
        try { // the reserve goes back if anything below fails
            this.cache = new PageCache((int) Math.min(Integer.MAX_VALUE, config.pageCacheBytes() / pageSize), pageSize);
            this.arenaMemory = new UnsafeArenaMemory();
            ArenaMemory memory = faults == Faults.NONE ? arenaMemory : new FaultyArenaMemory(arenaMemory, faults);
            if (slot != null) { // the slot's frames, passed between its pools (not arena faults: the slot's)
                this.frames = new FrameSource(config.poolBytes(), slot.frames(config.frameSize(),
                        frameSize -> ArenaFrames.shared(slot.pool().capacity(), frameSize, SHARED_ARENA_BYTES,
                                slot.pool(), new UnsafeArenaMemory())));
            } else {
                this.frames = shared == null // an own budget keeps the zstd contexts' bytes out of the frames'
                        ? new FrameSource(config.poolBytes() - reserve, config.frameSize(),
                                FrameSource.DEFAULT_ARENA_BYTES, null, memory)
                        : new FrameSource(config.poolBytes(), config.frameSize(), SHARED_ARENA_BYTES, shared, memory);
            }
            try {
                this.pool = traced(ZPools.create(config.allocator(), frames, config.zsmallocChainSize()), config);
            } catch (RuntimeException | Error e) {
                frames.close();
                throw e;
            }
            this.maxStored = Math.max(codec.maxCompressedLength(), pageSize) + StoredPage.HEADER;
            this.rawFillFrames = StoredPage.HEADER + pageSize <= pool.maxObjectSize()
                    ? (int) (frames.budgetFrames() * config.rawPoolFill()) : 0;
            this.storeScratch = new byte[maxStored];
            this.loadScratch = new byte[maxStored];
            this.writeback = new Writeback();
            try {
                this.spill = new SpillStore(config.spillDirectory(), config.spillBlockCacheBytes(),
                        config.spillWriteBufferBytes(), slot, faults);
            } catch (RuntimeException | Error e) {
                pool.close();
                frames.close();
                throw e;
            }
        } catch (RuntimeException | Error e) {
            releaseCodecReserve();
            throw e;
        }
    }

    private void releaseCodecReserve() {
        if (codecReserveShared > 0) {
            shared.release(codecReserveShared);
        }
    }

    private long dictionaryBytes() {
        byte[] trained = dictionary == null ? null : dictionary.dictionary();
        return trained == null ? 0 : trained.length;
    }

    /** The store's zstd dictionary, or null without page-compression zstd. */
    public PageDictionary dictionary() {
        return dictionary;
    }

    public int pageSize() {
        return pageSize;
    }

    /** The pool's zsmalloc chain size (the most frames a span holds); 0 for other allocators. */
    public int poolChainSize() {
        return ZPools.chainSize(pool);
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
        } else if (handle != 0 && table.isRaw(pageId)) { // straight into the page: no scratch, no codec
            pool.read(handle, StoredPage.HEADER, page, 0, pageSize);
            counters.poolHits++;
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

    /** Page-cache pages that {@code bytes} of heap are worth (what the entry cache and write buffer take). */
    public int pagesFor(long bytes) {
        return (int) ((bytes + pageSize - 1) / pageSize);
    }

    /** Whether a page is in the cache (so loading it costs no fault). */
    public boolean isCached(int pageId) {
        return table.cacheSlot(pageId) != PageTable.NOT_CACHED;
    }

    /**
     * Whether a page's current copy is in RocksDB alone (not in the cache or the pool): loading it
     * would read RocksDB.
     */
    public boolean isInRocksDbOnly(int pageId) {
        return table.isSpilled(pageId) && table.cacheSlot(pageId) == PageTable.NOT_CACHED;
    }

    /**
     * Decides whether a write to a page in RocksDB alone ({@link #isInRocksDbOnly}) waits instead
     * of faulting the page in (the write buffer asks, and lets it wait on true: the wait is recorded
     * here as a use of the page): it waits unless the page has been used out of memory twice in a
     * row soon after its last use there. Its refault distance, the pages that left memory for
     * RocksDB since it was last used out of memory (it left, or a write to it waited), is
     * compared with an eighth of the pages memory holds, as the kernel's workingset
     * detection compares a refault's distance with its LRU lists; a first short distance marks the
     * page warm (the write still waits), a second one in a row brings it back (the kernel's
     * activation of a page that was in the workingset), a long one clears the mark. So a page
     * written again and again soon comes back into memory, as without the buffer, and waiting
     * writes cannot keep the written pages out while the read ones stay (the counter example's
     * loss, design.md); under uniform writes to a state several times memory a short distance is
     * rare and two in a row rarer, so nearly every write waits.
     *
     * <p>The clock counts departures, and a write that waits counts as the departure its fault would
     * have caused (it ticks the clock and stamps the page): the clock runs as without the buffer,
     * so the waits do not change the signal they are judged by (a clock of real departures alone
     * slowed as writes waited, and turned them back into faults).
     */
    public boolean writeMayWait(int pageId) {
        int inMemory = table.live() - table.spilledPages();
        boolean shortDistance = leaveClock - table.lastUsedOut(pageId) < inMemory / WORKING_SET_MARGIN;
        if (shortDistance && table.isWarmOut(pageId)) {
            return false; // the second short distance in a row: the page comes back
        }
        table.warmOut(pageId, shortDistance);
        table.usedOut(pageId, ++leaveClock);
        return true;
    }

    /**
     * Where a page may have left memory: if it is now in RocksDB alone, the leave clock ticks and
     * the page is stamped, not warm.
     */
    private void leftMemoryIfOut(int pageId) {
        if (isInRocksDbOnly(pageId)) {
            table.usedOut(pageId, ++leaveClock);
            table.warmOut(pageId, false);
        }
    }

    /**
     * Appends the index's waiting writes for a live page to what RocksDB keeps for it (a merge:
     * nothing is read; see {@link SpillStore#mergeWrites}), once {@link #commitWaitingWrites}. The index deletes them ({@link
     * #dropWaitingWrites}) before it frees the page.
     */
    public void spillWaitingWrites(int pageId, byte[] records, int offset, int length) {
        spill.mergeWrites(pageId, records, offset, length);
    }

    /**
     * Writes the waiting writes spilled since the last call to RocksDB, in one write batch (a read
     * or delete of waiting writes commits them first).
     */
    public void commitWaitingWrites() {
        spill.commitWrites();
    }

    /**
     * Reads the waiting writes RocksDB keeps for a page into {@code dst}: their length, larger than
     * {@code dst} if it had too little room (ask again), or -1 if there are none.
     */
    public int readWaitingWrites(int pageId, byte[] dst) {
        return spill.getWrites(pageId, dst);
    }

    /**
     * The waiting writes RocksDB keeps, as they are now (the write batch committed first), for
     * another thread to read while the store goes on; close it when done.
     */
    public WaitingWritesView waitingWritesView() {
        spill.commitWrites();
        return new WaitingWritesView(spill.sharedView());
    }

    /** Deletes the waiting writes RocksDB keeps for a page. */
    public void dropWaitingWrites(int pageId) {
        spill.deleteWrites(pageId);
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
        int pageId = table.allocate(pins.epoch());
        table.depth(pageId, localDepth);
        cache.occupy(slot, pageId, true);
        table.cacheSlot(pageId, slot);
        cache.pin(slot);
        return pageId;
    }

    /**
     * A page in the cache is about to change: copies elsewhere stop being current, and an open
     * snapshot that still needs its contents gets them saved first (copy on write).
     */
    public void markDirty(int slot) {
        int pageId = cache.pageId(slot);
        if (pins.needsSave(table.version(pageId))) {
            save(pageId);
        }
        cache.stamp(slot); // a copy the background reaper took of this page is stale from now
        if (cache.isDirty(slot)) {
            return;
        }
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

    /**
     * Frees a page in every tier. The steps that can fail come first: saving an open snapshot's
     * copy, then deleting its RocksDB record; if the delete fails after a pool page's object
     * passed to a pin, the page has no copy left, and the store above fails (as for any failure
     * midway through an operation).
     */
    public void freePage(int pageId) {
        beforePageRecordWrite(pageId); // before anything reads where its copy is
        if (pins.needsSave(table.version(pageId))) {
            save(pageId);
        }
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

    /**
     * Sets a bucket page's depth (a split). The page is dirtied first: an open snapshot that
     * still reads it gets it saved with its old depth (the split rewrites the page next anyway).
     */
    public void depth(int pageId, int depth) {
        if (pins.needsSave(table.version(pageId))) {
            markDirty(load(pageId));
        }
        table.depth(pageId, depth);
    }

    // ==== background cleaning (the reaper's thread compresses) ======================================

    /** Pages in flight between the task and the reaper. */
    private static final int CLEANING_RING = 64;
    /** How far ahead of the CLOCK hand pages are cleaned, in slots. */
    private static final int CLEANING_WINDOW = 256;
    /** Slots the cleaner's hand looks at per eviction. */
    private static final int CLEANING_SCAN = 8;
    /**
     * Pages waiting in the ring before an eviction wakes the reaper: a wake-up per page cost the
     * task more than the compression it moved (a futex wake: a fifth of pool mapUpdate's task time).
     */
    public static final int CLEANING_WAKE_BATCH = CLEANING_RING / 4;

    /** Pages on their way to and from the reaper (made when first asked for). */
    private CleaningRing cleaning;
    /** A reaper compresses this pager's submissions: evictions submit and install. */
    private Runnable cleaningWanted;

    /**
     * Hands compression to a background reaper: from now on each eviction also installs the
     * pages the reaper compressed and submits the next dirty victims ahead of the CLOCK hand,
     * calling {@code wanted} (under the store's lock; it must only wake the reaper) when it did.
     * Returns the ring the reaper compresses from.
     */
    public CleaningRing cleanInBackground(Runnable wanted) {
        this.cleaningWanted = wanted;
        return cleaningRing();
    }

    /** The ring between this pager and a reaper (made when first asked for). */
    public CleaningRing cleaningRing() {
        if (cleaning == null) {
            cleaning = new CleaningRing(CLEANING_RING, pageSize, maxStored, bouncerMinRatio,
                    new PageCodec(pageSize, faults, dictionary));
        }
        return cleaning;
    }

    /**
     * Under the store's lock: copies the next dirty victims ahead of the CLOCK hand (dirty,
     * unreferenced, unpinned, not taken at their current stamp) into the ring, as many as it has
     * room for among the slots the cleaner's hand scans now; returns how many.
     */
    public int submitForCleaning() {
        CleaningRing ring = cleaningRing();
        int n = 0;
        while (ring.hasRoom()) {
            int slot = cache.nextToClean(CLEANING_WINDOW, CLEANING_SCAN);
            if (slot == PageCache.FREE) {
                break;
            }
            ring.submit(slot, cache.pageId(slot), cache.stampOf(slot), cache.page(slot));
            n++;
        }
        return n;
    }

    /**
     * Under the store's lock: each page the reaper compressed whose slot still holds it unchanged
     * (same write stamp, still dirty, not pinned) gets the stored copy the store path would have
     * made (reclaiming if the pool is full), and its slot becomes clean: its eviction then costs
     * nothing. Pages changed or evicted meanwhile are dropped from the ring (counted as races).
     * Returns how many pages were cleaned.
     */
    public int installCleaned() {
        if (cleaning == null) {
            return 0;
        }
        int cleaned = 0;
        for (int n = cleaning.readyToInstall(); n > 0; n--) {
            int i = cleaning.next();
            int slot = cleaning.slot(i);
            int pageId = cleaning.pageId(i);
            try {
                // the stamp says whether markDirty ran since the copy; the bytes are compared too, so a
                // write that no markDirty announced (inside an operation) can never be lost
                if (cache.pageId(slot) != pageId || !cache.isDirty(slot) || cache.isPinned(slot)
                        || cache.stampOf(slot) != cleaning.stamp(i) || !cleaning.sameAsCopy(i, cache.page(slot))) {
                    counters.cleaningRaces++;
                } else {
                    installOne(i, pageId); // throws only with the store failing
                    cache.dirty(slot, false);
                    counters.backgroundCleans++;
                    cleaned++;
                }
            } finally {
                cleaning.installedOne();
            }
        }
        return cleaned;
    }

    /** Keeps entry {@code i} of the ring as the store path would; the table changes last. */
    private void installOne(int i, int pageId) {
        if (cleaning.codec(i) == CleaningRing.SAME) {
            stored = cleaning.word(i);
            keptAt(pageId, SAME_FILLED);
            return;
        }
        int length = cleaning.length(i);
        int bytes = cleaning.codec(i) == StoredPage.RAW ? pageSize : length;
        System.arraycopy(cleaning.stored(i), StoredPage.HEADER, storeScratch, StoredPage.HEADER, bytes);
        keptAt(pageId, keepEncoded(pageId, -1, length, cleaning.codec(i)));
    }

    // ==== writeback off the task's thread (the reaper commits, the task isolates and completes) =======

    /** Pool copies on their way to RocksDB through the reaper (null until a reaper asks for them). */
    private WritebackBatch writebackBatch;
    /** A reaper commits this pager's writebacks: evictions isolate and complete. */
    private Runnable writebackWanted;
    /** Evictions before the next isolation is tried, after the pool isolated nothing. */
    private int isolationBackoff;
    /** Evictions an isolation that found nothing waits before the next try. */
    private static final int ISOLATION_BACKOFF = 64;

    /**
     * Hands writeback to a background reaper: from now on each eviction completes a writeback the
     * reaper committed, and when the pool's free frames fall under the low mark ({@link
     * #isUnderLowMark}) isolates the pool's coldest frames into the returned batch, calling {@code
     * wanted} (under the store's lock; it must only wake the reaper). The reaper commits the batch
     * without the lock ({@link WritebackBatch#commitIfCopied}).
     */
    public WritebackBatch writeBackInBackground(Runnable wanted) {
        this.writebackWanted = wanted;
        return writebackBatch();
    }

    /** The batch between this pager and a reaper (made when first asked for). */
    public WritebackBatch writebackBatch() {
        if (writebackBatch == null) {
            // LZ4 for the raw copies it meets (no zstd contexts beyond the reserve's; the codec byte says which)
            writebackBatch = new WritebackBatch(spill, new PageCodec(pageSize, faults, null), pageSize, maxStored,
                    bouncerMinRatio);
        }
        return writebackBatch;
    }

    /**
     * The low mark: fewer free frames in the budget than two reclaim batches; while raw copies are
     * left, no more than the drain's reserve (under it a store compresses raw copies in place,
     * drainRaw, which keeps in memory pages that a writeback would send to RocksDB).
     */
    private boolean isUnderLowMark() {
        int low = 2 * reclaimBatchFrames;
        if (table.rawCopies() > 0) {
            low = Math.min(low, DRAIN_RESERVE_FRAMES);
        }
        return frames.framesAvailable() < low;
    }

    /** Whether the pool was under the low mark at the last eviction, and since when (System.nanoTime). */
    private boolean underLowMark;
    private long underLowMarkSince;

    /** At an eviction, with a reaper: completes a committed writeback, and isolates the next one under the low mark. */
    private void writeBackAhead() {
        WritebackBatch batch = writebackBatch;
        if (batch.isDone()) {
            completeWriteback();
        }
        boolean under = isUnderLowMark();
        if (under != underLowMark) { // the clock is read only when the pool crosses the mark
            long now = System.nanoTime();
            if (under) {
                underLowMarkSince = now;
            } else {
                counters.underLowMarkNanos += now - underLowMarkSince;
            }
            underLowMark = under;
        }
        if (!batch.isIdle()) {
            return;
        }
        if (isolationBackoff > 0) {
            isolationBackoff--;
        } else if (under && isolateForWriteback(reclaimBatchFrames) > 0) {
            writebackWanted.run(); // wakes the reaper
        }
    }

    /**
     * Under the store's lock: the pool isolates its coldest frames, at least {@code maxFrames} if
     * it has them, and every object in them that is a page's current copy is copied into the
     * batch (a snapshot's pinned copy is not: its frame stays in the pool). Returns the pages
     * copied; the batch is then COPIED, for the reaper to commit (or done at once, with none).
     */
    public int isolateForWriteback(int maxFrames) {
        WritebackBatch batch = writebackBatch();
        if (!batch.isIdle()) {
            return 0;
        }
        int isolated;
        try {
            isolated = pool.isolateColdest(maxFrames, copyForWriteback);
        } catch (RuntimeException | Error e) {
            batch.completed(); // the pool put every victim back
            throw e;
        }
        if (isolated == 0) {
            isolationBackoff = ISOLATION_BACKOFF; // nothing cold, or a pool that cannot isolate
            return 0;
        }
        batch.copied();
        if (batch.count() == 0) { // every object pinned: nothing to write
            completeWriteback();
            return 0;
        }
        return batch.count();
    }

    /**
     * Under the store's lock, once the batch is committed (or failed): the pool frees each copied
     * object whose page still names it (the page is then in RocksDB, where the batch put it), and
     * puts the rest back; a page changed meanwhile keeps a stale RocksDB copy (deleted when it is
     * freed, as any). A failed commit frees nothing and fails the store.
     */
    private void completeWriteback() {
        WritebackBatch batch = writebackBatch;
        if (batch.failure() != null) {
            Throwable failure = batch.failure();
            try {
                pool.completeIsolated(handle -> false);
            } finally {
                batch.completed();
            }
            throw new IllegalStateException("The background reaper could not write pages back to RocksDB: "
                    + failure.getMessage(), failure);
        }
        spill.forgetView(); // views taken from now on see the batch's records
        int released;
        try {
            released = pool.completeIsolated(writtenBack);
        } finally {
            for (int i = 0; i < batch.count(); i++) { // records of pages changed meanwhile are stale copies
                int pageId = batch.pageId(i);
                if (table.isLive(pageId)) {
                    table.onDisk(pageId);
                }
            }
            batch.completed();
        }
        counters.framesWrittenBackInBackground += released;
    }

    /** The isolation's copier: a page's current copy goes into the batch, a snapshot's pin does not. */
    private final ZPool.ObjectCopier copyForWriteback = (handle, object) -> {
        WritebackBatch batch = writebackBatch;
        int pageId = batch.pageId(batch.add(handle, object));
        if (!table.isLive(pageId) || table.poolHandle(pageId) != handle) {
            if (pins.pinnedObject(handle) == null) {
                throw new IllegalStateException("pool object " + Long.toHexString(handle) + " names page " + pageId
                        + ", which does not own it, and no snapshot pins it: the page store is corrupt");
            }
            batch.dropLast(handle); // a snapshot's pinned copy stays where it is
        }
    };

    /**
     * The completion's question for each live object of the isolated frames: free it if the batch
     * copied it and its page still names it; the page is then in RocksDB.
     */
    private final java.util.function.LongPredicate writtenBack = handle -> {
        WritebackBatch batch = writebackBatch;
        int i = batch.indexOf(handle);
        if (i < 0) {
            return false;
        }
        int pageId = batch.pageId(i);
        if (!table.isLive(pageId) || table.poolHandle(pageId) != handle) {
            return false; // changed meanwhile: its object was freed or passed to a pin
        }
        table.poolHandle(pageId, 0);
        table.spilled(pageId, true);
        leftMemoryIfOut(pageId);
        counters.backgroundWritebacks++;
        return true;
    };

    /**
     * Before the task writes or deletes a page's own RocksDB record: if the batch on its way
     * holds a copy of that page, the batch is committed first (by the task if the reaper has not
     * begun, else after the reaper's commit) and completed, so that the reaper's older copy never
     * lands after the task's write.
     */
    private void beforePageRecordWrite(int pageId) {
        WritebackBatch batch = writebackBatch;
        if (batch != null && !batch.isIdle() && batch.holds(pageId)) {
            finishWriteback();
        }
    }

    /**
     * Commits (or waits for) and completes the writeback on its way, if there is one; returns
     * whether there was (the pool may have frames again). The tests call it as a step of its own.
     */
    public boolean finishWriteback() {
        WritebackBatch batch = writebackBatch;
        if (batch == null || batch.isIdle()) {
            return false;
        }
        if (!batch.isDone()) {
            long start = System.nanoTime();
            batch.commitOrWait();
            counters.writebackWaitNanos += System.nanoTime() - start;
            counters.writebackWaits++;
        }
        completeWriteback();
        return true;
    }

    // ==== placing pages from a checkpoint ==========================================================

    /**
     * Places a page restored from a checkpoint ({@code length} bytes of {@code stored} from
     * {@code offset}, the codec byte first: {@link StoredPage}'s spill record) under the id its
     * pages refer to it by, where the store path would keep it: a raw page is stored as any
     * evicted page is (same-filled word, compressed into the pool, RocksDB when the pool has no
     * room after reclaim, or bounced); an LZ4 page goes into the pool as it is. Not into the page
     * cache. Only into a pager that allocated no page yet, until {@link #finishPlacing}.
     *
     * @throws IllegalStateException if the bytes are not a stored page or the id is taken
     */
    public void place(int pageId, int depth, byte[] stored, int offset, int length) {
        byte codec = StoredPage.codec(stored, offset);
        if (codec == StoredPage.ZSTD) {
            throw new IllegalStateException("a zstd page (codec " + codec + ") in a checkpoint, which holds raw or LZ4"
                    + " pages only (zstd pages need the dictionary of the store that wrote them): the checkpoint is"
                    + " corrupt");
        }
        int pageBytes = length - 1;
        if (pageBytes < 1 || StoredPage.HEADER + pageBytes > storeScratch.length
                || (codec == StoredPage.RAW && pageBytes != pageSize)) {
            throw new IllegalStateException("a stored page of " + length + " bytes (codec " + codec
                    + ") cannot be a page of " + pageSize + " bytes: the checkpoint is corrupt");
        }
        table.place(pageId, pins.epoch()); // before the copy is kept: a failure leaves the id live, the store failed
        table.depth(pageId, depth);
        counters.pagesPlaced++;
        if (codec == StoredPage.RAW) {
            if (placeScratch == null) {
                placeScratch = new byte[pageSize];
            }
            System.arraycopy(stored, offset + 1, placeScratch, 0, pageSize);
            store(pageId, placeScratch);
            return;
        }
        StoredPage.writeHeader(storeScratch, pageId, codec);
        System.arraycopy(stored, offset + 1, storeScratch, StoredPage.HEADER, pageBytes);
        keptAt(pageId, keepStored(pageId, -1, codec, pageBytes));
    }

    /** A raw page being placed (allocated by the first placement). */
    private byte[] placeScratch;

    /** Places a page of one repeated word (see {@link #place}). */
    public void placeSame(int pageId, int depth, long word) {
        table.place(pageId, pins.epoch());
        table.depth(pageId, depth);
        table.same(pageId, word);
        counters.pagesPlaced++;
    }

    /** Whether pages can be placed: this pager allocated none yet (or is placing). */
    public boolean canPlace() {
        return table.canPlace();
    }

    /** Placing is done: the ids between placed pages become free, and pages can be allocated again. */
    public void finishPlacing() {
        table.finishPlacing();
    }

    // ==== eviction and the store path ==============================================================

    /** A free cache slot, evicting the CLOCK victim if the cache is full. */
    private int obtainSlot() {
        int slot = cache.freeSlot();
        if (slot != PageCache.FREE) {
            return slot;
        }
        if (cleaningWanted != null) {
            installCleaned(); // first: a victim the reaper compressed is then clean, and dropped
        }
        slot = evictVictim();
        // while pages are kept raw a store is a copy: nothing for the reaper to compress ahead
        if (cleaningWanted != null && !hasRoomForRaw() && submitForCleaning() > 0
                && cleaning.waiting() >= CLEANING_WAKE_BATCH) {
            cleaningWanted.run(); // wakes the reaper
        }
        if (writebackWanted != null) {
            writeBackAhead();
        }
        return slot;
    }

    /**
     * Gives up page-cache slots so that at most {@code slots} hold pages (their heap goes to the
     * entry cache): the excess pages leave as at any eviction (dirty ones stored, clean ones
     * dropped) and their arrays are freed.
     */
    public void limitCache(int slots) {
        cache.limit(slots);
        while (cache.overLimit()) {
            cache.release(evictVictim());
        }
        // arrays of free slots beyond the limit's need go too: only `slots` arrays are ever in use again
        int keep = slots - cache.used();
        for (int s = 0; s < cache.slots(); s++) {
            if (cache.pageId(s) == PageCache.FREE) {
                if (keep > 0) {
                    keep--;
                } else {
                    cache.release(s);
                }
            }
        }
    }

    /** Page-cache slots that may hold pages. */
    public int cacheLimit() {
        return cache.limit();
    }

    /**
     * The CLOCK victim leaves the cache (a dirty page stored, a clean one dropped); returns its
     * slot, vacated. The victim stays dirty in the cache if the store throws.
     */
    private int evictVictim() {
        int slot = cache.victim();
        int pageId = cache.pageId(slot);
        if (cache.isDirty(slot)) {
            store(pageId, cache.page(slot));
        } else {
            counters.cleanDrops++;
        }
        table.cacheSlot(pageId, PageTable.NOT_CACHED);
        leftMemoryIfOut(pageId);
        cache.vacate(slot);
        if (recompressing) {
            recompressOne();
        }
        return slot;
    }

    /** Whether LZ4 pool copies may still wait for the dictionary (zstd, until one pass is done). */
    private boolean recompressing;
    /** The next page id the recompression looks at. */
    private int recompressCursor;
    /** Page ids an eviction looks at for an LZ4 copy to recompress. */
    private static final int RECOMPRESS_SCAN = 16;

    /**
     * With page-compression zstd, once the dictionary is trained: re-encodes the next LZ4 pool
     * copy (stored before the dictionary, or placed by a restore meanwhile) with it, one per
     * eviction among the next {@link #RECOMPRESS_SCAN} page ids, in one pass over the ids (pages
     * stored later are zstd already); zram's recompression of idle pages, on the task's thread a
     * page at a time. The new object is written before the old one is freed and the table
     * changes last; a pool without room, or a page zstd does not shrink, is left as it is. Not
     * while snapshots are open (their pages are read from where they are).
     */
    private void recompressOne() {
        if (dictionary.dictionary() == null || pins.openSnapshots() > 0) {
            return;
        }
        for (int n = 0; n < RECOMPRESS_SCAN; n++) {
            if (recompressCursor >= table.idsUsed()) {
                recompressing = false;
                return;
            }
            int pageId = recompressCursor++;
            long handle = table.isLive(pageId) ? table.poolHandle(pageId) : 0;
            if (handle == 0) {
                continue;
            }
            int stored = pool.read(handle, loadScratch, 0);
            if (StoredPage.codec(loadScratch, StoredPage.PAGE_ID) != StoredPage.LZ4) {
                continue;
            }
            byte[] page = recodePage();
            codec.decode(loadScratch, StoredPage.PAGE_ID, stored - StoredPage.PAGE_ID, page);
            int length = codec.encode(page, storeScratch, StoredPage.HEADER, bouncerMinRatio);
            if (codec.encodedCodec(length, bouncerMinRatio) != StoredPage.ZSTD || StoredPage.HEADER + length >= stored) {
                return;
            }
            long smaller = pool.malloc(StoredPage.HEADER + length);
            if (smaller == ZPool.NO_SPACE) {
                return;
            }
            StoredPage.writeHeader(storeScratch, pageId, StoredPage.ZSTD);
            pool.write(smaller, storeScratch, 0, StoredPage.HEADER + length);
            pool.free(handle);
            table.poolHandle(pageId, smaller);
            counters.recompressions++;
            return;
        }
    }

    /** Current RocksDB copies of live pages stored with {@code codec} (StoredPage's byte): for tests. */
    public long spilledCopiesWith(byte codec) {
        long n = 0;
        for (int id = 0; id < table.idsUsed(); id++) {
            if (table.isLive(id) && table.isSpilled(id) && spill.get(id, loadScratch) > 0 && loadScratch[0] == codec) {
                n++;
            }
        }
        return n;
    }

    /** Pool copies of live pages stored with {@code codec} (StoredPage's byte): for tests. */
    public long poolCopiesWith(byte codec) {
        long n = 0;
        for (int id = 0; id < table.idsUsed(); id++) {
            long handle = table.isLive(id) ? table.poolHandle(id) : 0;
            if (handle != 0) {
                pool.read(handle, loadScratch, 0);
                n += loadScratch[StoredPage.PAGE_ID] == codec ? 1 : 0;
            }
        }
        return n;
    }

    /**
     * The store path: a dirty page leaves the cache, kept raw while the pool is under its fill
     * line, else as {@link #storeCopy} keeps it (and then a few raw copies are compressed). Changes
     * the page table only once done.
     */
    private void store(int pageId, byte[] page) {
        counters.stores++;
        if (hasRoomForRaw() && !SameFilled.is(page) && keepRaw(pageId, page)) {
            return;
        }
        // near the budget, raw copies are compressed where they are (and the pool compacted) before a
        // reclaim would write pages back to RocksDB
        if (table.rawCopies() > 0 && frames.framesAvailable() < DRAIN_RESERVE_FRAMES && drainRaw(DRAIN_SCAN) > 0) {
            pool.compact();
        }
        keptAt(pageId, storeCopy(pageId, page, -1));
    }

    /**
     * Whether a store keeps its page raw: the pool's frames in use (or what the other pools of its
     * slot leave it) are under the fill line. A level, not a latch: a state that does not fit raw
     * stays partly raw, each page raw or compressed as it was when last stored, and nothing is
     * compressed twice (a page changes form only at its own store, or near the budget: drainRaw).
     * (Measured against the alternatives: a latch that compressed the whole state once over the line
     * ran even with every page compressed, and lost the gain of a state just over the line; a level
     * that also compressed four raw copies at every store above the line lost 20% on map updates.)
     */
    private boolean hasRoomForRaw() {
        return rawFillFrames > 0 && frames.budgetFrames() - frames.framesAvailable() < rawFillFrames;
    }

    /** Keeps a page in the pool as it is, if an object fits without reclaiming; false if not. */
    private boolean keepRaw(int pageId, byte[] page) {
        long handle = pool.malloc(StoredPage.HEADER + pageSize);
        if (handle == ZPool.NO_SPACE) {
            return false;
        }
        StoredPage.writeHeader(storeScratch, pageId, StoredPage.RAW);
        pool.write(handle, 0, storeScratch, 0, StoredPage.HEADER);
        pool.write(handle, StoredPage.HEADER, page, 0, pageSize); // straight from the page
        table.rawPoolHandle(pageId, handle);
        counters.rawStores++;
        return true;
    }

    /**
     * Compresses up to {@code pages} raw pool copies, looking at up to {@link #DRAIN_SCAN} page
     * ids from a cursor that goes round the ids (pages in the page cache are passed over: they are
     * hot, and a write frees their copy). Each compressed object is written before the raw one is
     * freed, and the page table changes last; a pool with no room for it ends the drain. A page
     * that does not compress stays as it is, no longer counted as raw. Returns the pages drained.
     */
    int drainRaw(int pages) {
        int drained = 0;
        for (int n = 0; n < DRAIN_SCAN && drained < pages && table.rawCopies() > 0; n++) {
            if (drainCursor >= table.idsUsed()) {
                drainCursor = 0;
            }
            int pageId = drainCursor++;
            if (!table.isLive(pageId) || !table.isRaw(pageId) || table.cacheSlot(pageId) != PageTable.NOT_CACHED) {
                continue;
            }
            long raw = table.poolHandle(pageId);
            byte[] page = recodePage();
            pool.read(raw, StoredPage.HEADER, page, 0, pageSize);
            int length = codec.encode(page, storeScratch, StoredPage.HEADER, bouncerMinRatio);
            byte stored = codec.encodedCodec(length, bouncerMinRatio);
            if (stored == StoredPage.RAW) {
                table.poolHandle(pageId, raw); // incompressible: it stays, as what it is
                continue;
            }
            long smaller = pool.malloc(StoredPage.HEADER + length);
            if (smaller == ZPool.NO_SPACE) {
                return drained;
            }
            StoredPage.writeHeader(storeScratch, pageId, stored);
            pool.write(smaller, storeScratch, 0, StoredPage.HEADER + length);
            pool.free(raw);
            table.poolHandle(pageId, smaller);
            counters.uncompressedBytesStored += pageSize;
            counters.compressedBytesStored += length;
            counters.rawDrained++;
            drained++;
        }
        return drained;
    }

    private byte[] recodePage() {
        if (recodePage == null) {
            recodePage = new byte[pageSize];
        }
        return recodePage;
    }

    /** Pages whose pool copy is raw (kept so while the pool had room). */
    public int rawCopies() {
        return table.rawCopies();
    }

    private static final int IN_POOL = 0;
    private static final int IN_SPILL = 1;
    private static final int SAME_FILLED = 2;
    /** What the last {@link #storeCopy} made: the pool handle (IN_POOL) or the word (SAME_FILLED). */
    private long stored;

    /**
     * Keeps a copy of a page's bytes where they cost least: a same-filled word, a compressed pool
     * object (reclaiming if the pool is full), or RocksDB (incompressible, or still no room),
     * under the page's key or, for a snapshot's pinned copy, under {@code pinKey} (else -1).
     *
     * @return IN_POOL, IN_SPILL or SAME_FILLED, with {@link #stored} set
     */
    private int storeCopy(int pageId, byte[] page, long pinKey) {
        if (SameFilled.is(page)) {
            stored = SameFilled.word(page);
            return SAME_FILLED;
        }
        int length = codec.encode(page, storeScratch, StoredPage.HEADER, bouncerMinRatio);
        return keepEncoded(pageId, pinKey, length, codec.encodedCodec(length, bouncerMinRatio));
    }

    /**
     * The page bytes {@link PageCodec#encode} wrote into {@link #storeScratch} after the header
     * room ({@code length}: what the compressor answered; {@code storedCodec}: what it wrote) are
     * counted and kept ({@link #keepStored}).
     */
    private int keepEncoded(int pageId, long pinKey, int length, byte storedCodec) {
        if (length == PageCodec.FAILED) {
            counters.compressFailures++;
        } else {
            counters.uncompressedBytesStored += pageSize;
            counters.compressedBytesStored += length;
        }
        if (storedCodec == StoredPage.ZSTD) {
            counters.dictionaryStores++;
        }
        StoredPage.writeHeader(storeScratch, pageId, storedCodec);
        return keepStored(pageId, pinKey, storedCodec, storedCodec == StoredPage.RAW ? pageSize : length);
    }

    /** Points the page table at the copy {@link #storeCopy} or {@link #keepStored} made ({@code where}). */
    private void keptAt(int pageId, int where) {
        switch (where) {
            case SAME_FILLED -> {
                table.same(pageId, stored);
                counters.sameFilledStores++;
            }
            case IN_SPILL -> {
                table.spilled(pageId, true);
                leftMemoryIfOut(pageId);
            }
            default -> table.poolHandle(pageId, stored);
        }
    }

    /**
     * The stored page in {@link #storeScratch} (header written, {@code length} page bytes after
     * it) goes where it costs least: RocksDB if raw or compressed worse than the bouncer allows,
     * else a pool object (reclaiming if the pool is full), else RocksDB.
     */
    private int keepStored(int pageId, long pinKey, byte codec, int length) {
        if (codec == StoredPage.RAW || PageCodec.bounces(length, bouncerMinRatio, pageSize)) {
            spillPut(pageId, pinKey, StoredPage.HEADER - StoredPage.PAGE_ID + length);
            counters.bounced++;
            return IN_SPILL;
        }
        int objectSize = StoredPage.HEADER + length;
        long handle = objectSize <= pool.maxObjectSize() ? pool.malloc(objectSize) : ZPool.NO_SPACE;
        if (handle == ZPool.NO_SPACE && objectSize <= pool.maxObjectSize()) {
            if (slotShort != null && frames.isShortOfSharedFrames()) {
                counters.slotShortfalls++;
                slotShort.run(); // the slot's reaper takes frames from a colder pool; meanwhile our own
            }
            if (finishWriteback()) { // under the minimum: the writeback on its way first
                handle = pool.malloc(objectSize);
            }
            if (handle == ZPool.NO_SPACE) {
                reclaim();
                handle = pool.malloc(objectSize);
            }
        }
        if (handle == ZPool.NO_SPACE) {
            spillPut(pageId, pinKey, objectSize - StoredPage.PAGE_ID);
            counters.directSpills++;
            return IN_SPILL;
        }
        pool.write(handle, storeScratch, 0, objectSize);
        stored = handle;
        return IN_POOL;
    }

    /** The stored page in the scratch goes to RocksDB, under the page's key or a pin's. */
    private void spillPut(int pageId, long pinKey, int length) {
        if (pinKey < 0) {
            beforePageRecordWrite(pageId);
            spill.put(pageId, storeScratch, StoredPage.spillValue(), length);
        } else {
            spill.putPin(pinKey, storeScratch, StoredPage.spillValue(), length);
        }
    }

    /** Direct reclaim: the pool's coldest frames go to RocksDB in one committed write batch. */
    private void reclaim() {
        reclaim(reclaimBatchFrames);
    }

    private int reclaim(int maxFrames) {
        finishWriteback(); // its pages may be written again by this reclaim: the reaper's copies first
        spill.beginBatch();
        try {
            int released = pool.reclaim(maxFrames, writeback);
            counters.framesReclaimed += released;
            return released;
        } finally {
            spill.discardBatch(); // nothing left after a commit; unwritten puts after a failure
            writeback.discard();
        }
    }

    // ==== one pool per slot: frames for the other pools ==============================================

    /** Runnable the slot's reaper gave, called (under the store's lock) when the slot is short. */
    private Runnable slotShort;

    /**
     * Calls {@code wanted} whenever this pool is refused a frame within its budget because the
     * other pools of its slot hold the rest (before it reclaims its own coldest frames).
     */
    public void whenSlotShort(Runnable wanted) {
        this.slotShort = wanted;
    }

    /**
     * Writes back the pool's coldest frames, at least {@code maxFrames} of them if it has them, for
     * another pool of the slot (the slot's reaper, under the store's lock); returns the frames
     * released to the slot.
     */
    public int reclaimForSlot(int maxFrames) {
        int released = reclaim(maxFrames);
        counters.framesReclaimedForSlot += released;
        return released;
    }

    /**
     * The demand on the pool so far: pages faulted in (what the page cache did not hold) and dirty
     * pages stored (by the task or from the reaper's copies: what the pool must take). Read by the
     * slot's reaper without the lock: a sample.
     */
    public long poolDemand() {
        return counters.cacheMisses + counters.stores + counters.backgroundCleans;
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
        private final java.util.List<SnapshotPins.Pin> pendingPins = new java.util.ArrayList<>();
        private long[] pinKeys = new long[16];

        @Override
        public boolean evict(long handle, ByteBuffer data) {
            int length = data.remaining();
            data.get(object, 0, length);
            if (object[StoredPage.PAGE_ID] == StoredPage.RAW) {
                length = compressRaw(length);
            }
            int pageId = StoredPage.pageId(object);
            if (!table.isLive(pageId) || table.poolHandle(pageId) != handle) {
                SnapshotPins.Pin pin = pins.pinnedObject(handle);
                if (pin == null) {
                    throw new IllegalStateException("pool object " + Long.toHexString(handle) + " names page "
                            + pageId + ", which does not own it, and no snapshot pins it: the page store is corrupt");
                }
                // a snapshot's pinned copy: it follows its object to RocksDB, and the frame is freed
                long key = pins.newPinKey();
                spill.putPin(key, object, StoredPage.spillValue(), length - StoredPage.PAGE_ID);
                if (pendingPins.size() == pinKeys.length) {
                    pinKeys = java.util.Arrays.copyOf(pinKeys, pinKeys.length * 2);
                }
                pinKeys[pendingPins.size()] = key;
                pendingPins.add(pin);
                return true;
            }
            spill.put(pageId, object, StoredPage.spillValue(), length - StoredPage.PAGE_ID);
            if (pending == pages.length) {
                pages = java.util.Arrays.copyOf(pages, pending * 2);
            }
            pages[pending++] = pageId;
            return true;
        }

        /**
         * A raw object (a page kept raw while the pool had room) is compressed in {@link #object}
         * before RocksDB takes it, as the store path would have; returns its new length.
         */
        private int compressRaw(int length) {
            return codec.encodeRawObject(object, 0, length, recodePage(), object, bouncerMinRatio);
        }

        @Override
        public void flush() {
            spill.commitBatch();
            for (int i = 0; i < pending; i++) {
                table.poolHandle(pages[i], 0);
                table.spilled(pages[i], true);
                leftMemoryIfOut(pages[i]);
            }
            for (int i = 0; i < pendingPins.size(); i++) {
                pins.writtenBack(pendingPins.get(i), pinKeys[i]);
            }
            counters.writebacks += pending;
            counters.pinWritebacks += pendingPins.size();
            pending = 0;
            pendingPins.clear();
        }

        /** Forgets what a failed reclaim collected. */
        void discard() {
            pending = 0;
            pendingPins.clear();
        }
    }

    // ==== snapshots, observability, checks, lifecycle =============================================

    /**
     * Opens a snapshot of every live page as it is now (see {@link SnapshotPins}): nothing is
     * copied. {@code lock} is the store's lock,
     * which the snapshot's thread takes for each page it reads and to release it.
     */
    public FrozenPages freeze(Object lock) {
        FrozenPages snapshot = new FrozenPages(this, lock, pins.epoch(), pageSize, maxStored,
                new PageCodec(pageSize, Faults.NONE, dictionary));
        pins.opened(snapshot);
        return snapshot;
    }

    /**
     * Saves a page's current copy for the open snapshots that read it, before the page changes or
     * is freed: a dirty cached page is stored as a pinned copy (compressed into the pool, or into
     * RocksDB); a pool page's object passes to the pin (the page loses it: the caller dirties or
     * frees the page next); a spilled page is kept by a RocksDB view; a same-filled page by its
     * word. The page is then stamped with the current epoch.
     */
    private void save(int pageId) {
        SnapshotPins.Pin pin = new SnapshotPins.Pin();
        int slot = table.cacheSlot(pageId);
        long handle = table.poolHandle(pageId);
        if (slot != PageTable.NOT_CACHED && cache.isDirty(slot)) {
            long key = pins.newPinKey();
            switch (storeCopy(pageId, cache.page(slot), key)) {
                case SAME_FILLED -> {
                    pin.kind = SnapshotPins.Pin.SAME;
                    pin.value = stored;
                }
                case IN_SPILL -> {
                    pin.kind = SnapshotPins.Pin.SPILLED;
                    pin.value = key;
                }
                default -> {
                    pin.kind = SnapshotPins.Pin.POOL;
                    pin.value = stored;
                    pin.bytes = pool.size(stored);
                }
            }
            counters.pinCopies++;
        } else if (table.isSame(pageId)) {
            pin.kind = SnapshotPins.Pin.SAME;
            pin.value = table.sameWord(pageId);
        } else if (handle != 0) {
            pin.kind = SnapshotPins.Pin.POOL;
            pin.value = handle;
            pin.bytes = pool.size(handle);
            table.poolHandle(pageId, 0); // the pin owns the object now
        } else if (table.isSpilled(pageId)) {
            pin.kind = SnapshotPins.Pin.VIEW;
            pin.view = spill.sharedView();
        } else {
            throw new IllegalStateException("page " + pageId + " has no copy in any tier: the page store is corrupt");
        }
        pin.depth = table.depth(pageId);
        try {
            pins.attach(pageId, table.version(pageId), pin);
        } catch (RuntimeException e) {
            if (pin.view != null) {
                pin.view.close(); // a corrupt store fails; the view is not left open behind it
            }
            throw e;
        }
        table.version(pageId, pins.epoch());
    }

    /**
     * On the snapshot's thread, under the store's lock: copies what {@code snapshot} holds of a
     * page into its scratch (stored bytes from the pool, a word), or, for a page in the page
     * cache, its bytes straight into {@code into}; or, for a page or pin in RocksDB, says where to
     * read it (a view or a pin key) so that the snapshot reads it after releasing the lock: the
     * task never waits for a snapshot's disk read. Nothing is decoded here.
     */
    void copyFrozen(FrozenPages snapshot, int pageId, byte[] into) {
        if (released) {
            throw new IllegalStateException("the page store's memory was released under an open snapshot");
        }
        snapshot.readView = null;
        snapshot.readViewOwned = false;
        snapshot.readPin = -1;
        ZPools.snapshotReads(pool, true); // a pool trace tells a checkpoint's reads from page faults
        try {
            SnapshotPins.Pin pin = snapshot.saved.get(pageId);
            if (pin != null) {
                switch (pin.kind) {
                    case SnapshotPins.Pin.POOL -> copyStored(snapshot, pool.read(pin.value, snapshot.copy, 0),
                            StoredPage.PAGE_ID, pageId);
                    case SnapshotPins.Pin.SPILLED -> { // the record stays until this snapshot releases the pin
                        snapshot.copyKind = FrozenPages.SPILL_READ;
                        snapshot.readPin = pin.value;
                    }
                    case SnapshotPins.Pin.VIEW -> { // the view stays while this snapshot holds the pin
                        snapshot.copyKind = FrozenPages.SPILL_READ;
                        snapshot.readView = pin.view;
                        snapshot.readViewOwned = false;
                    }
                    default -> {
                        snapshot.copyKind = FrozenPages.SAME;
                        snapshot.copyWord = pin.value;
                    }
                }
                return;
            }
            if (!table.isLive(pageId) || table.version(pageId) > snapshot.epoch) {
                throw new IllegalStateException("page " + pageId + " changed after the snapshot of epoch "
                        + snapshot.epoch + " froze, and no copy was saved for it: the page store is corrupt");
            }
            int slot = table.cacheSlot(pageId);
            long handle = table.poolHandle(pageId);
            if (slot != PageTable.NOT_CACHED) {
                System.arraycopy(cache.page(slot), 0, into, 0, pageSize);
                snapshot.copyKind = FrozenPages.RAW;
            } else if (table.isSame(pageId)) {
                snapshot.copyKind = FrozenPages.SAME;
                snapshot.copyWord = table.sameWord(pageId);
            } else if (handle != 0) {
                copyStored(snapshot, pool.read(handle, snapshot.copy, 0), StoredPage.PAGE_ID, pageId);
            } else if (table.isSpilled(pageId)) {
                // the task may rewrite the record once the lock is released: read it through a view
                snapshot.copyKind = FrozenPages.SPILL_READ;
                snapshot.readView = spill.sharedView();
                snapshot.readViewOwned = true;
            } else {
                throw new IllegalStateException("page " + pageId + " has no copy in any tier: the page store is corrupt");
            }
        } finally {
            ZPools.snapshotReads(pool, false);
        }
    }

    /**
     * On the snapshot's thread, without the store's lock: the RocksDB read {@link #copyFrozen}
     * left for it, into the snapshot's scratch.
     */
    void readFrozenSpilled(FrozenPages snapshot, int pageId) {
        int n = snapshot.readView != null ? snapshot.readView.get(pageId, snapshot.key, snapshot.copy)
                : spill.getPin(snapshot.readPin, snapshot.key, snapshot.copy);
        copyStored(snapshot, n, 0, pageId);
    }

    /** Under the store's lock: a bucket page's depth as {@code snapshot} froze it. */
    int frozenDepth(FrozenPages snapshot, int pageId) {
        SnapshotPins.Pin pin = snapshot.saved.get(pageId);
        return pin != null ? pin.depth : table.depth(pageId);
    }

    /** The scratch holds a stored page from {@code offset} to {@code end} (codec byte first). */
    private static void copyStored(FrozenPages snapshot, int end, int offset, int pageId) {
        if (end < 1) {
            throw new IllegalStateException("page " + pageId + " is missing from RocksDB, where the snapshot of epoch "
                    + snapshot.epoch + " holds it");
        }
        snapshot.copyKind = FrozenPages.STORED;
        snapshot.copyOffset = offset;
        snapshot.copyLength = end - offset;
    }

    /**
     * Under the store's lock: a snapshot is done; the pins no open snapshot needs are freed. If
     * the pager was closed under its snapshots, the last one releases its memory. A pinned copy
     * that RocksDB will not delete is left to the spill store's deletion at close (logged).
     */
    void release(FrozenPages snapshot) {
        for (SnapshotPins.Pin pin : pins.closed(snapshot)) {
            try {
                switch (pin.kind) {
                    case SnapshotPins.Pin.POOL -> {
                        if (!released) {
                            pool.free(pin.value);
                        }
                    }
                    case SnapshotPins.Pin.SPILLED -> {
                        if (!released) {
                            spill.deletePin(pin.value);
                        }
                    }
                    case SnapshotPins.Pin.VIEW -> pin.view.close();
                    default -> {
                        // a word: nothing held
                    }
                }
            } catch (RuntimeException e) {
                LOG.warn("Could not release a snapshot's pinned copy of a page; it stays until the store closes"
                        + " (the pool's frames and the spill store's directory are released whole then).", e);
            }
        }
        if (closing && !released && pins.openSnapshots() == 0) {
            releaseAll();
        }
    }

    /** Snapshots open on this pager (frozen and not yet released). */
    public int openSnapshots() {
        return pins.openSnapshots();
    }

    /** Moves the pool's objects (pinned ones included) into fewer frames and releases the rest. */
    public int compactPool() {
        return pool.compact();
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
        long same = 0;
        for (int id = 0; id < table.idsUsed(); id++) {
            if (!table.isLive(id)) {
                continue;
            }
            if (table.poolHandle(id) != 0) {
                inPool++;
            } else if (table.isSame(id)) {
                same++;
            }
        }
        TierCounters.PagePlacement pages = new TierCounters.PagePlacement(cache.used(), dirty, inPool,
                table.spilledPages(), same, table.live());
        TierCounters.Pins pinned = new TierCounters.Pins(pins.openSnapshots(), pins.pinnedPoolObjects(),
                pins.pinnedPoolBytes(), pins.spilledPins(), pins.saves());
        return counters.stats(pages, pinned, pool.stats(), pageSize, spillProperties ? spill.memoryBytes() : 0,
                spillProperties ? spill.diskBytes() : 0, frames.arenaRefusals(), dictionaryBytes(),
                frames.frames().isShared() ? frames.maxFrames() : 0, table.rawCopies(),
                underLowMark ? System.nanoTime() - underLowMarkSince : 0);
    }

    /** Heap bytes of the page cache, page table, pool metadata and frame bookkeeping. */
    public long heapBytes() {
        return cache.heapBytes() + table.metadataBytes() + pool.stats().metadataBytes() + frames.metadataBytes()
                + (cleaning == null ? 0 : cleaning.heapBytes()) + (dictionary == null ? 0 : dictionary.heapBytes())
                + (writebackBatch == null ? 0 : writebackBatch.heapBytes());
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
        return pins.openSnapshots() > 0;
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
        long pageObjects = 0;
        int raw = 0;
        int spilled = 0;
        for (int id = 0; id < table.idsUsed(); id++) {
            if (table.isLive(id) && table.poolHandle(id) != 0) {
                pageObjects++;
            }
            if (table.isLive(id) && table.isSpilled(id)) {
                spilled++;
            }
            if (table.isLive(id) && table.isRaw(id)) {
                raw++;
                if (table.poolHandle(id) == 0) {
                    throw new IllegalStateException("page " + id + " is marked raw in the pool but has no pool object");
                }
                pool.read(table.poolHandle(id), StoredPage.PAGE_ID, loadScratch, 0, 1); // its codec byte
                if (loadScratch[0] != StoredPage.RAW) {
                    throw new IllegalStateException("page " + id + " is marked raw in the pool, but its object has codec "
                            + loadScratch[0]);
                }
            }
        }
        if (spilled != table.spilledPages()) {
            throw new IllegalStateException(spilled + " pages are marked spilled, but the table counts "
                    + table.spilledPages());
        }
        if (raw != table.rawCopies()) {
            throw new IllegalStateException(raw + " pages are marked raw in the pool, but the table counts "
                    + table.rawCopies());
        }
        long objects = pool.stats().objects();
        if (objects != pageObjects + pins.pinnedPoolObjects()) {
            throw new IllegalStateException("the pool holds " + objects + " objects, but pages own " + pageObjects
                    + " and snapshots pin " + pins.pinnedPoolObjects());
        }
        if ((writebackBatch == null || writebackBatch.isIdle()) && pool.isolatedFrames() != 0) {
            throw new IllegalStateException("the pool isolates " + pool.isolatedFrames()
                    + " frames, but no writeback is on its way");
        }
        pins.checkInvariants();
        pool.checkInvariants();
    }

    /**
     * Releases every off-heap byte (pool, frames and their arenas) and the spill store with its
     * directory, each even if an earlier step throws; the first failure is rethrown afterwards.
     * Snapshots still open keep reading: their pages stay where they are (nothing changes any
     * more), and the last one to close releases everything.
     */
    @Override
    public void close() {
        if (closing || released) {
            return;
        }
        closing = true;
        if (writebackBatch != null) {
            writebackBatch.close(); // waits for a commit running; the reaper forgets it
        }
        if (pins.openSnapshots() == 0) {
            releaseAll();
        }
    }

    /** Runs {@code action} once every off-heap byte is released: now, or when the last snapshot closes. */
    public void whenReleased(Runnable action) {
        if (released) {
            action.run();
        } else {
            onRelease.add(action);
        }
    }

    /** Whether every off-heap byte and the spill store are released. */
    public boolean isReleased() {
        return released;
    }

    private void releaseAll() {
        released = true;
        if (cleaning != null) {
            cleaning.close(); // the reaper forgets it
        }
        try {
            closeAll("the pager", pool, frames, spill, codec, dictionary, this::releaseCodecReserve);
        } finally {
            for (Runnable action : onRelease) {
                try {
                    action.run();
                } catch (RuntimeException e) {
                    LOG.warn("A step after releasing the page store's memory failed.", e);
                }
            }
            onRelease.clear();
        }
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

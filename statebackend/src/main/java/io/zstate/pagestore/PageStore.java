package io.zstate.pagestore;

import io.zstate.allocator.Evictor;
import io.zstate.allocator.FrameSource;
import io.zstate.allocator.MemoryBudget;
import io.zstate.allocator.ZPool;
import io.zstate.allocator.ZPoolStats;
import io.zstate.allocator.ZPools;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A byte-level key-value store for many tables (one per Flink state), each partitioned by
 * key-group, whose entries live in pages that move between three tiers: the zswap path inside a
 * stream job.
 *
 * <pre>
 * Tiers:
 *   hot      PageCache: decompressed pages on the heap, CLOCK, dirty bit
 *   pool     compressed pages (LZ4) in a ZPool (zsmalloc or zbud) over a FrameSource budget
 *   spilled  compressed pages in RocksDB (SpillStore), the swap device
 *
 * Layout: per table and key-group, extendible hashing over the key's prefix (key | namespace):
 *   directory[prefixHash & (2^depth - 1)] -> bucket page -> overflow pages (a chain)
 *   A point access hashes the prefix once and searches one bucket (PageLayout.find). A full
 *   bucket splits on the next hash bit, doubling the directory when its depth is the
 *   directory's; a bucket whose entries all share one prefix hash (a large MapState) cannot
 *   split and grows an overflow chain instead. Entries larger than half a page keep their value
 *   in blob pages, a chain per value, referenced from the bucket entry.
 *
 * Paths between tiers:
 *   store      a dirty page leaves the cache: same-filled -> a tag; compresses worse than the
 *              bouncer ratio -> RocksDB raw; else -> pool (pool full: reap, then retry; still
 *              full -> RocksDB compressed)
 *   reclaim    pool full: the reaper has the pool evict its coldest frames; every page in them
 *              is written to RocksDB (never back into the pool) and whole frames are released
 *   clean drop a page with a current copy in the pool, RocksDB or a tag leaves the cache
 *              without a write (the swap cache)
 *   fault      a page not in the cache is read from the pool (decompress) or RocksDB (swap-in);
 *              the copy it came from stays current until the page is first modified
 *
 * Pool object: page id (4 bytes) | codec byte | LZ4 bytes. The page id lets the reaper find the
 * page of an evicted object without a reverse map.
 *
 * Pins: a page the current operation still holds is pinned so that loading another page
 * cannot evict it.
 * </pre>
 *
 * <p>Not thread-safe: one store per keyed backend, used from the task thread.
 */
public final class PageStore implements AutoCloseable {

    private static final int MAX_DEPTH = 24;
    static final int POOL_PREFIX = 5; // page id + codec byte

    /** Off-heap arenas still allocated by this store's pool (0 once closed); for leak checks. */
    int liveArenas() {
        return arenaMemory.liveArenas();
    }
    /** Arenas drawn from a shared budget are small, so stores sharing it grow in step. */
    private static final int SHARED_ARENA_BYTES = 1 << 20;
    private static final VarHandle I64 =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final PageStoreConfig config;
    private final int pageSize;
    private final int firstKeyGroup;
    private final int numberOfKeyGroups;
    private final UnsafeArenaMemory arenaMemory;
    private final FrameSource frames;
    private final ZPool pool;
    private final SpillStore spill;
    private final PageCodec codec;
    private final PageTable pageTable = new PageTable();
    private final PageCache cache;
    private final List<Table> tables = new ArrayList<>();

    /** Compressed bytes on their way to the pool or RocksDB: [page id][codec][bytes]. */
    private final byte[] storeScratch;
    /** Compressed bytes on their way in from the pool or RocksDB. */
    private final byte[] loadScratch;
    /** Pool objects on their way to RocksDB during reclaim. */
    private final byte[] evictScratch;
    private final byte[] compactScratch;
    private final int maxInlineEntry;
    private final Evictor writeback = this::writeBack;
    private byte[] valueBuffer;
    private byte[] keyBuffer;
    private boolean visiting;
    private boolean closed;
    private PageStoreStats finalStats; // the counters at close, which stats() answers afterwards

    private long cacheHits;
    private long cacheMisses;
    private long poolHits;
    private long swapIns;
    private long sameFilledHits;
    private long stores;
    private long cleanDrops;
    private long sameFilledStores;
    private long bounced;
    private long directSpills;
    private long writebacks;
    private long framesReclaimed;
    private long uncompressedBytesStored;
    private long compressedBytesStored;

    /** A store for the key-groups {@code firstKeyGroup .. firstKeyGroup + numberOfKeyGroups - 1}. */
    public PageStore(PageStoreConfig config, int firstKeyGroup, int numberOfKeyGroups) {
        this(config, firstKeyGroup, numberOfKeyGroups, null);
    }

    /**
     * A store whose pool frames are also drawn from {@code shared}, a budget other stores use too
     * (the keyed backends of one Flink slot); {@code null} for none.
     */
    public PageStore(PageStoreConfig config, int firstKeyGroup, int numberOfKeyGroups, MemoryBudget shared) {
        if (numberOfKeyGroups < 1) {
            throw new IllegalArgumentException("a page store needs at least one key-group");
        }
        this.config = config;
        this.pageSize = config.pageSize();
        this.firstKeyGroup = firstKeyGroup;
        this.numberOfKeyGroups = numberOfKeyGroups;
        this.codec = new PageCodec(pageSize);
        this.cache = new PageCache((int) Math.min(Integer.MAX_VALUE, config.pageCacheBytes() / pageSize), pageSize);
        // arenas outside the JVM's direct-memory limit, like Flink's managed memory
        this.arenaMemory = new UnsafeArenaMemory();
        this.frames = shared == null
                ? new FrameSource(config.poolBytes(), config.frameSize(), FrameSource.DEFAULT_ARENA_BYTES, null,
                        arenaMemory)
                : new FrameSource(config.poolBytes(), config.frameSize(), SHARED_ARENA_BYTES, shared, arenaMemory);
        this.pool = ZPools.create(config.allocator(), frames);
        int maxStored = Math.max(codec.maxCompressedLength(), pageSize) + POOL_PREFIX;
        this.storeScratch = new byte[maxStored];
        this.loadScratch = new byte[maxStored];
        this.evictScratch = new byte[maxStored];
        this.compactScratch = new byte[pageSize];
        this.maxInlineEntry = pageSize / 2;
        this.valueBuffer = new byte[pageSize];
        this.keyBuffer = new byte[256];
        SpillStore opened;
        try {
            opened = new SpillStore(
                    config.spillDirectory(), config.spillBlockCacheBytes(), config.spillWriteBufferBytes());
        } catch (RuntimeException e) {
            pool.close();
            frames.close();
            throw e;
        }
        this.spill = opened;
    }

    // ==== tables ===================================================================================

    /** Creates a table and returns its id. */
    public int createTable(String name) {
        checkUsable();
        tables.add(new Table(name, numberOfKeyGroups));
        return tables.size() - 1;
    }

    /** Per table and key-group: the extendible-hashing directory. */
    private static final class Table {
        final String name;
        final Directory[] groups;

        Table(String name, int keyGroups) {
            this.name = name;
            this.groups = new Directory[keyGroups];
        }
    }

    private static final class Directory {
        int[] pages = new int[1];
        int depth;
        int buckets = 1; // distinct bucket chains; buckets split but never merge
    }

    /**
     * A directory doubles only while it has fewer than this many entries per bucket chain (or is
     * small). Without a bound, a few entries whose hashes share many low bits force doubling after
     * doubling: with map state (ten entries of a key share one prefix, two keys fill a 1 KiB page)
     * the directories of 5,000,000 entries grew to 120 MB of int[] for 360,000 pages. Past the
     * bound a full bucket grows an overflow page instead, and splits once buckets catch up.
     */
    private static final int DIRECTORY_ENTRIES_PER_BUCKET = 4;
    private static final int DIRECTORY_FREE_DOUBLING = 64;

    private Directory directory(int table, int keyGroup, boolean create) {
        int index = keyGroup - firstKeyGroup;
        if (index < 0 || index >= numberOfKeyGroups) {
            throw new IllegalArgumentException(
                    "key-group " + keyGroup + " is outside this store's range " + firstKeyGroup + ".."
                            + (firstKeyGroup + numberOfKeyGroups - 1));
        }
        Table t = tables.get(table);
        Directory d = t.groups[index];
        if (d == null && create) {
            d = new Directory();
            d.pages[0] = newBucketPage(0);
            cache.unpin(pageTable.cacheSlot(d.pages[0]));
            t.groups[index] = d;
        }
        return d;
    }

    // ==== point operations =========================================================================

    /**
     * Looks a key up.
     *
     * @param prefixLength how many leading bytes of the key place it (key | namespace); the rest
     *     (a map's user key) only distinguishes entries within the prefix
     * @return whether the key exists; if so {@code out} holds its value
     */
    public boolean get(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            ValueView out) {
        checkUsable();
        Directory d = directory(table, keyGroup, false);
        if (d == null) {
            return false;
        }
        if (!locate(d, key, keyOffset, keyLength, prefixLength)) {
            return false;
        }
        int slot = pageTable.cacheSlot(foundPage);
        readValue(slot, PageLayout.slotEntry(cache.page(slot), foundIndex), out);
        return true;
    }

    /** Inserts or replaces a key's value. */
    public void put(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        checkMutable();
        checkKey(keyLength, prefixLength);
        Directory d = directory(table, keyGroup, true);
        if (locate(d, key, keyOffset, keyLength, prefixLength)) {
            int pageId = foundPage;
            int index = foundIndex;
            int slot = pageTable.cacheSlot(pageId);
            byte[] page = cache.page(slot);
            int entry = PageLayout.slotEntry(page, index);
            int word = PageLayout.entryValueWord(page, entry);
            if (word == valueLength && !isBlobSize(keyLength, valueLength)) {
                markDirty(slot);
                System.arraycopy(value, valueOffset, page, PageLayout.entryValueOffset(page, entry), valueLength);
                return;
            }
            removeEntry(pageId, index);
        }
        insert(d, foundHash, foundTag, key, keyOffset, keyLength, value, valueOffset, valueLength);
    }

    /**
     * Appends bytes to a key's value (ListState's merge), creating the key if absent. A value that
     * outgrows half a page moves to blob pages; appending to a blob writes only its tail.
     */
    public void append(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        checkMutable();
        checkKey(keyLength, prefixLength);
        Directory d = directory(table, keyGroup, true);
        if (!locate(d, key, keyOffset, keyLength, prefixLength)) {
            insert(d, foundHash, foundTag, key, keyOffset, keyLength, value, valueOffset, valueLength);
            return;
        }
        int hash = foundHash;
        int tag = foundTag;
        int pageId = foundPage;
        int index = foundIndex;
        int slot = pageTable.cacheSlot(pageId);
        byte[] page = cache.page(slot);
        int entry = PageLayout.slotEntry(page, index);
        int word = PageLayout.entryValueWord(page, entry);
        if (word == PageLayout.BLOB) {
            cache.pin(slot);
            try {
                appendToBlob(slot, entry, value, valueOffset, valueLength);
            } finally {
                cache.unpin(slot);
            }
            return;
        }
        // inline: old value + new bytes, re-inserted (as a blob if it outgrew half a page)
        int total = word + valueLength;
        byte[] combined = ensureValueBuffer(total);
        System.arraycopy(page, PageLayout.entryValueOffset(page, entry), combined, 0, word);
        System.arraycopy(value, valueOffset, combined, word, valueLength);
        removeEntry(pageId, index);
        insert(d, hash, tag, key, keyOffset, keyLength, combined, 0, total);
    }

    /** Removes a key; returns whether it existed. */
    public boolean delete(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        checkMutable();
        Directory d = directory(table, keyGroup, false);
        if (d == null) {
            return false;
        }
        if (!locate(d, key, keyOffset, keyLength, prefixLength)) {
            return false;
        }
        int pageId = foundPage;
        removeEntry(pageId, foundIndex);
        unlinkIfEmptyOverflow(d, foundHash, pageId);
        return true;
    }

    // ==== iteration and clearing ===================================================================

    /** Visits every entry whose key starts with {@code prefix} (a MapState's entries). */
    public void forEachWithPrefix(int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength,
            EntryVisitor visitor) {
        checkUsable();
        Directory d = directory(table, keyGroup, false);
        if (d == null) {
            return;
        }
        int hash = Hashing.hash(prefix, prefixOffset, prefixLength);
        visitChain(d.pages[hash & ((1 << d.depth) - 1)], visitor, true, hash, prefix, prefixOffset, prefixLength);
    }

    /** Visits every entry of one key-group of a table (snapshots, rescaling, getKeys). */
    public void forEachInKeyGroup(int table, int keyGroup, EntryVisitor visitor) {
        checkUsable();
        Directory d = directory(table, keyGroup, false);
        if (d == null) {
            return;
        }
        for (int i = 0; i < d.pages.length; i++) {
            int head = d.pages[i];
            if (i >= 1 << pageTable.depth(head)) {
                continue; // this bucket was visited at its first directory index
            }
            visitChain(head, visitor, false, 0, null, 0, 0);
        }
    }

    /** Removes every entry of a table and frees its pages. */
    public void clear(int table) {
        checkMutable();
        Table t = tables.get(table);
        for (int g = 0; g < t.groups.length; g++) {
            Directory d = t.groups[g];
            if (d == null) {
                continue;
            }
            for (int i = 0; i < d.pages.length; i++) {
                int head = d.pages[i];
                if (!pageTable.isLive(head)) {
                    continue; // freed at an earlier index of the same bucket
                }
                freeChain(head, true);
            }
            t.groups[g] = null;
        }
    }

    private void visitChain(int pageId, EntryVisitor visitor, boolean matchPrefix, int hash, byte[] prefix,
            int prefixOffset, int prefixLength) {
        ValueView view = new ValueView();
        visiting = true;
        try {
            while (pageId != PageLayout.NO_PAGE) {
                int slot = load(pageId);
                cache.pin(slot);
                try {
                    byte[] page = cache.page(slot);
                    int count = PageLayout.count(page);
                    for (int i = 0; i < count; i++) {
                        int entry = PageLayout.slotEntry(page, i);
                        int keyLength = PageLayout.entryKeyLength(page, entry);
                        int keyOffset = PageLayout.entryKeyOffset(entry);
                        if (matchPrefix
                                && (PageLayout.slotPrefixHash(page, i) != hash
                                        || keyLength < prefixLength
                                        || !Arrays.equals(page, keyOffset, keyOffset + prefixLength,
                                                prefix, prefixOffset, prefixOffset + prefixLength))) {
                            continue;
                        }
                        readValue(slot, entry, view);
                        visitor.visit(page, keyOffset, keyLength, view.array, view.offset, view.length);
                    }
                    pageId = PageLayout.next(page);
                } finally {
                    cache.unpin(slot);
                }
            }
        } finally {
            visiting = false;
        }
    }

    // ==== bucket mechanics =========================================================================

    // What the last locate() found: the key's hashes, and its page and slot if present.
    private int foundHash;
    private int foundTag;
    private int foundPage;
    private int foundIndex;

    /**
     * Hashes a key and searches its bucket chain once; on success the key's page is loaded in the
     * cache and {@code foundPage}/{@code foundIndex} say where it is. Always sets {@code foundHash}
     * and {@code foundTag}.
     */
    private boolean locate(Directory d, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        int hash = Hashing.hash(key, keyOffset, prefixLength);
        int tag = keyTag(key, keyOffset, keyLength, prefixLength, hash);
        foundHash = hash;
        foundTag = tag;
        for (int pageId = d.pages[hash & ((1 << d.depth) - 1)]; pageId != PageLayout.NO_PAGE; ) {
            byte[] page = cache.page(load(pageId));
            int index = PageLayout.find(page, hash, tag, key, keyOffset, keyLength);
            if (index >= 0) {
                foundPage = pageId;
                foundIndex = index;
                return true;
            }
            pageId = PageLayout.next(page);
        }
        foundPage = PageLayout.NO_PAGE;
        foundIndex = -1;
        return false;
    }

    private void insert(Directory d, int hash, int tag, byte[] key, int keyOffset, int keyLength,
            byte[] value, int valueOffset, int valueLength) {
        boolean blob = isBlobSize(keyLength, valueLength);
        int valueBytes = blob ? PageLayout.BLOB_REF : valueLength;
        long blobRef = 0;
        int blobLast = PageLayout.NO_PAGE;
        if (blob) {
            // copy the key: writing the blob may evict the page the caller's key came from
            byte[] keyCopy = ensureKeyBuffer(keyLength);
            System.arraycopy(key, keyOffset, keyCopy, 0, keyLength);
            key = keyCopy;
            keyOffset = 0;
            blobRef = writeBlob(value, valueOffset, valueLength);
            blobLast = (int) (blobRef >>> 32);
        }
        int needed = PageLayout.SLOT + PageLayout.entrySize(keyLength, valueBytes);
        while (true) {
            int head = d.pages[hash & ((1 << d.depth) - 1)];
            int target = pageWithRoom(head, needed);
            if (target == PageLayout.NO_PAGE) {
                if (splittable(d, head, hash)) {
                    split(d, hash);
                    continue;
                }
                target = addOverflowPage(head);
            }
            int slot = pageTable.cacheSlot(target);
            byte[] page = cache.page(slot);
            markDirty(slot);
            int entry = PageLayout.insert(page, hash, tag, key, keyOffset, keyLength,
                    blob ? PageLayout.BLOB : valueLength, valueBytes);
            int at = PageLayout.entryValueOffset(page, entry);
            if (blob) {
                PageLayout.i32(page, at, valueLength);
                PageLayout.i32(page, at + 4, (int) blobRef);
                PageLayout.i32(page, at + 8, blobLast);
            } else {
                System.arraycopy(value, valueOffset, page, at, valueLength);
            }
            return;
        }
    }

    /** A page of the chain with room for {@code needed} bytes (compacting one if that makes room). */
    private int pageWithRoom(int pageId, int needed) {
        while (pageId != PageLayout.NO_PAGE) {
            int slot = load(pageId);
            byte[] page = cache.page(slot);
            int free = PageLayout.freeBytes(page);
            if (free >= needed) {
                return pageId;
            }
            if (free + PageLayout.garbage(page) >= needed) {
                markDirty(slot);
                PageLayout.compactInPlace(page, compactScratch);
                return pageId;
            }
            pageId = PageLayout.next(page);
        }
        return PageLayout.NO_PAGE;
    }

    /** A full bucket can split unless every entry in its chain has the new entry's prefix hash. */
    private boolean splittable(Directory d, int head, int hash) {
        int localDepth = pageTable.depth(head);
        if (localDepth >= MAX_DEPTH) {
            return false;
        }
        if (localDepth == d.depth && d.pages.length >= DIRECTORY_FREE_DOUBLING
                && d.pages.length >= (long) DIRECTORY_ENTRIES_PER_BUCKET * d.buckets) {
            return false; // would double a directory that is already sparse
        }
        for (int pageId = head; pageId != PageLayout.NO_PAGE; ) {
            byte[] page = cache.page(load(pageId));
            int count = PageLayout.count(page);
            for (int i = 0; i < count; i++) {
                if (PageLayout.slotPrefixHash(page, i) != hash) {
                    return true;
                }
            }
            pageId = PageLayout.next(page);
        }
        return false;
    }

    /**
     * Splits the bucket that {@code hash} maps to on its next hash bit: its entries (overflow pages
     * included) are redistributed over the old head page and one new page.
     */
    private void split(Directory d, int hash) {
        int index = hash & ((1 << d.depth) - 1);
        int head = d.pages[index];
        int localDepth = pageTable.depth(head);
        if (localDepth == d.depth) {
            int[] doubled = Arrays.copyOf(d.pages, d.pages.length * 2);
            System.arraycopy(d.pages, 0, doubled, d.pages.length, d.pages.length);
            d.pages = doubled;
            d.depth++;
        }
        // copy the chain aside, then free its overflow pages and reset the head
        List<byte[]> copies = new ArrayList<>();
        for (int pageId = head; pageId != PageLayout.NO_PAGE; ) {
            byte[] page = cache.page(load(pageId));
            copies.add(page.clone());
            pageId = PageLayout.next(page);
        }
        int overflow = PageLayout.next(copies.get(0));
        if (overflow != PageLayout.NO_PAGE) {
            freeChain(overflow, false);
        }
        int headSlot = load(head);
        markDirty(headSlot);
        PageLayout.initBucket(cache.page(headSlot));
        pageTable.depth(head, localDepth + 1);
        cache.pin(headSlot);
        int sibling = newBucketPage(localDepth + 1);
        d.buckets++;
        int siblingSlot = pageTable.cacheSlot(sibling);
        try {
            int bit = 1 << localDepth;
            int low = hash & (bit - 1);
            for (int i = 0; i < d.pages.length; i++) {
                if ((i & (bit - 1)) == low && (i & bit) != 0) {
                    d.pages[i] = sibling;
                }
            }
            for (byte[] copy : copies) {
                int count = PageLayout.count(copy);
                for (int i = 0; i < count; i++) {
                    int entryHash = PageLayout.slotPrefixHash(copy, i);
                    reinsert((entryHash & bit) != 0 ? sibling : head, copy, i);
                }
            }
        } finally {
            cache.unpin(siblingSlot);
            cache.unpin(headSlot);
        }
    }

    /** Inserts slot {@code index} of a detached page copy into a chain, growing the chain if needed. */
    private void reinsert(int head, byte[] copy, int index) {
        int entry = PageLayout.slotEntry(copy, index);
        int keyLength = PageLayout.entryKeyLength(copy, entry);
        int word = PageLayout.entryValueWord(copy, entry);
        int valueBytes = word == PageLayout.BLOB ? PageLayout.BLOB_REF : word;
        int needed = PageLayout.SLOT + PageLayout.entrySize(keyLength, valueBytes);
        int target = pageWithRoom(head, needed);
        if (target == PageLayout.NO_PAGE) {
            target = addOverflowPage(head);
        }
        int slot = pageTable.cacheSlot(target);
        byte[] page = cache.page(slot);
        markDirty(slot);
        int at = PageLayout.insert(page, PageLayout.slotPrefixHash(copy, index), PageLayout.slotKeyTag(copy, index),
                copy, PageLayout.entryKeyOffset(entry), keyLength, word, valueBytes);
        System.arraycopy(copy, PageLayout.entryValueOffset(copy, entry), page,
                PageLayout.entryValueOffset(page, at), valueBytes);
    }

    /** Appends an empty overflow page to the chain starting at {@code head}; returns it, loaded. */
    private int addOverflowPage(int head) {
        int last = head;
        for (int next = PageLayout.next(cache.page(load(head))); next != PageLayout.NO_PAGE; ) {
            last = next;
            next = PageLayout.next(cache.page(load(next)));
        }
        int lastSlot = load(last);
        cache.pin(lastSlot);
        try {
            int overflow = newBucketPage(pageTable.depth(head));
            markDirty(lastSlot);
            PageLayout.next(cache.page(lastSlot), overflow);
            cache.unpin(pageTable.cacheSlot(overflow));
            return overflow;
        } finally {
            cache.unpin(lastSlot);
        }
    }

    /** Removes slot {@code index} of a loaded page, freeing the value's blob pages if any. */
    private void removeEntry(int pageId, int index) {
        int slot = pageTable.cacheSlot(pageId);
        byte[] page = cache.page(slot);
        int entry = PageLayout.slotEntry(page, index);
        int firstBlobPage = PageLayout.NO_PAGE;
        if (PageLayout.entryValueWord(page, entry) == PageLayout.BLOB) {
            firstBlobPage = PageLayout.i32(page, PageLayout.entryValueOffset(page, entry) + 4);
        }
        markDirty(slot);
        PageLayout.remove(page, index);
        if (firstBlobPage != PageLayout.NO_PAGE) {
            cache.pin(slot);
            try {
                freeChain(firstBlobPage, false);
            } finally {
                cache.unpin(slot);
            }
        }
    }

    /** Frees an overflow page that became empty, unlinking it from its chain. */
    private void unlinkIfEmptyOverflow(Directory d, int hash, int pageId) {
        int head = d.pages[hash & ((1 << d.depth) - 1)];
        if (pageId == head || PageLayout.count(cache.page(load(pageId))) > 0) {
            return;
        }
        int prev = head;
        while (true) {
            int prevSlot = load(prev);
            int next = PageLayout.next(cache.page(prevSlot));
            if (next == pageId) {
                int after = PageLayout.next(cache.page(load(pageId)));
                prevSlot = load(prev);
                markDirty(prevSlot);
                PageLayout.next(cache.page(prevSlot), after);
                freePage(pageId);
                return;
            }
            prev = next;
        }
    }

    /**
     * Frees a chain of pages (bucket chain or blob); with {@code withBlobs}, the blobs its
     * entries reference too.
     */
    private void freeChain(int pageId, boolean withBlobs) {
        while (pageId != PageLayout.NO_PAGE) {
            int slot = load(pageId);
            byte[] page = cache.page(slot);
            int next = PageLayout.next(page);
            if (withBlobs) {
                cache.pin(slot);
                try {
                    int count = PageLayout.count(page);
                    for (int i = 0; i < count; i++) {
                        int entry = PageLayout.slotEntry(page, i);
                        if (PageLayout.entryValueWord(page, entry) == PageLayout.BLOB) {
                            freeChain(PageLayout.i32(page, PageLayout.entryValueOffset(page, entry) + 4), false);
                        }
                    }
                } finally {
                    cache.unpin(slot);
                }
            }
            freePage(pageId);
            pageId = next;
        }
    }

    // ==== values and blobs =========================================================================

    private boolean isBlobSize(int keyLength, int valueLength) {
        return PageLayout.SLOT + PageLayout.entrySize(keyLength, valueLength) > maxInlineEntry;
    }

    /** Points {@code out} at the value of an entry of a loaded page; assembles blobs. */
    private void readValue(int slot, int entry, ValueView out) {
        byte[] page = cache.page(slot);
        int word = PageLayout.entryValueWord(page, entry);
        int at = PageLayout.entryValueOffset(page, entry);
        if (word != PageLayout.BLOB) {
            out.set(page, at, word);
            return;
        }
        int length = PageLayout.i32(page, at);
        int pageId = PageLayout.i32(page, at + 4);
        byte[] buffer = ensureValueBuffer(length);
        int done = 0;
        while (pageId != PageLayout.NO_PAGE) {
            byte[] blob = cache.page(load(pageId));
            int used = PageLayout.blobUsed(blob);
            System.arraycopy(blob, PageLayout.HEADER, buffer, done, used);
            done += used;
            pageId = PageLayout.next(blob);
        }
        if (done != length) {
            throw new IllegalStateException(
                    "blob holds " + done + " bytes, its reference says " + length + ": the page store is corrupt");
        }
        out.set(buffer, 0, length);
    }

    /**
     * Writes a value into a new chain of blob pages.
     *
     * @return last page id << 32 | first page id
     */
    private long writeBlob(byte[] value, int offset, int length) {
        int capacity = PageLayout.blobCapacity(pageSize);
        int first = PageLayout.NO_PAGE;
        int prevSlot = -1;
        int last = PageLayout.NO_PAGE;
        int done = 0;
        try {
            do {
                int pageId = newBlobPage();
                int slot = pageTable.cacheSlot(pageId);
                byte[] page = cache.page(slot);
                int n = Math.min(capacity, length - done);
                System.arraycopy(value, offset + done, page, PageLayout.HEADER, n);
                PageLayout.blobUsed(page, n);
                done += n;
                if (prevSlot >= 0) {
                    PageLayout.next(cache.page(prevSlot), pageId);
                    cache.unpin(prevSlot);
                } else {
                    first = pageId;
                }
                prevSlot = slot;
                last = pageId;
            } while (done < length);
        } finally {
            if (prevSlot >= 0) {
                cache.unpin(prevSlot);
            }
        }
        return ((long) last << 32) | (first & 0xFFFFFFFFL);
    }

    /** Appends to the blob referenced by an entry of the pinned page in {@code bucketSlot}. */
    private void appendToBlob(int bucketSlot, int entry, byte[] value, int offset, int length) {
        int at = PageLayout.entryValueOffset(cache.page(bucketSlot), entry);
        int total = PageLayout.i32(cache.page(bucketSlot), at);
        int last = PageLayout.i32(cache.page(bucketSlot), at + 8);
        int capacity = PageLayout.blobCapacity(pageSize);
        int lastSlot = load(last);
        markDirty(lastSlot);
        byte[] page = cache.page(lastSlot);
        int used = PageLayout.blobUsed(page);
        int n = Math.min(capacity - used, length);
        System.arraycopy(value, offset, page, PageLayout.HEADER + used, n);
        PageLayout.blobUsed(page, used + n);
        if (n < length) {
            cache.pin(lastSlot);
            long more = writeBlob(value, offset + n, length - n);
            cache.unpin(lastSlot);
            PageLayout.next(cache.page(lastSlot), (int) more);
            last = (int) (more >>> 32);
        }
        markDirty(bucketSlot);
        PageLayout.i32(cache.page(bucketSlot), at, total + length);
        PageLayout.i32(cache.page(bucketSlot), at + 8, last);
    }

    // ==== pages and tiers ==========================================================================

    /** A new empty bucket page, dirty and pinned in the cache. */
    private int newBucketPage(int localDepth) {
        int pageId = pageTable.allocate();
        pageTable.depth(pageId, localDepth);
        int slot = obtainSlot();
        PageLayout.initBucket(cache.page(slot));
        cache.occupy(slot, pageId, true);
        pageTable.cacheSlot(pageId, slot);
        cache.pin(slot);
        return pageId;
    }

    /** A new empty blob page, dirty and pinned in the cache. */
    private int newBlobPage() {
        int pageId = pageTable.allocate();
        int slot = obtainSlot();
        PageLayout.initBlob(cache.page(slot));
        cache.occupy(slot, pageId, true);
        pageTable.cacheSlot(pageId, slot);
        cache.pin(slot);
        return pageId;
    }

    /** The cache slot of a page, faulting it in if needed. */
    private int load(int pageId) {
        int slot = pageTable.cacheSlot(pageId);
        if (slot != PageTable.NOT_CACHED) {
            cache.touch(slot);
            cacheHits++;
            return slot;
        }
        cacheMisses++;
        slot = obtainSlot();
        byte[] page = cache.page(slot);
        long handle = pageTable.poolHandle(pageId);
        if (pageTable.isSame(pageId)) {
            long word = pageTable.sameWord(pageId);
            for (int i = 0; i < pageSize; i += 8) {
                I64.set(page, i, word);
            }
            sameFilledHits++;
        } else if (handle != 0) {
            int stored = pool.read(handle, loadScratch, 0);
            codec.decompress(loadScratch, POOL_PREFIX, stored - POOL_PREFIX, page);
            poolHits++;
        } else if (pageTable.isSpilled(pageId)) {
            int n = spill.get(pageId, loadScratch);
            if (n < 1) {
                throw new IllegalStateException(
                        "page " + pageId + " is marked spilled but RocksDB has no copy: the spill store is corrupt");
            }
            if (loadScratch[0] == SpillStore.RAW) {
                System.arraycopy(loadScratch, 1, page, 0, pageSize);
            } else {
                codec.decompress(loadScratch, 1, n - 1, page);
            }
            swapIns++;
        } else {
            throw new IllegalStateException("page " + pageId + " has no copy in any tier: the page store is corrupt");
        }
        cache.occupy(slot, pageId, false);
        pageTable.cacheSlot(pageId, slot);
        return slot;
    }

    /** A free cache slot, evicting the CLOCK victim if the cache is full. */
    private int obtainSlot() {
        int slot = cache.freeSlot();
        if (slot != PageCache.FREE) {
            return slot;
        }
        slot = cache.victim();
        int pageId = cache.pageId(slot);
        if (cache.isDirty(slot)) {
            store(pageId, cache.page(slot));
        } else {
            cleanDrops++;
        }
        pageTable.cacheSlot(pageId, PageTable.NOT_CACHED);
        cache.vacate(slot);
        return slot;
    }

    /** The store path: a dirty page leaves the cache. */
    private void store(int pageId, byte[] page) {
        stores++;
        long first = (long) I64.get(page, 0);
        boolean same = true;
        for (int i = 8; i < pageSize; i += 8) {
            if ((long) I64.get(page, i) != first) {
                same = false;
                break;
            }
        }
        if (same) {
            pageTable.same(pageId, first);
            sameFilledStores++;
            return;
        }
        int length = codec.compress(page, storeScratch, POOL_PREFIX);
        uncompressedBytesStored += pageSize;
        compressedBytesStored += length;
        storeScratch[0] = (byte) (pageId >>> 24);
        storeScratch[1] = (byte) (pageId >>> 16);
        storeScratch[2] = (byte) (pageId >>> 8);
        storeScratch[3] = (byte) pageId;
        if (length * config.bouncerMinRatio() > pageSize) {
            storeScratch[4] = SpillStore.RAW;
            System.arraycopy(page, 0, storeScratch, 5, pageSize);
            spill.put(pageId, storeScratch, 4, pageSize + 1);
            pageTable.spilled(pageId, true);
            bounced++;
            return;
        }
        storeScratch[4] = SpillStore.LZ4;
        int objectSize = POOL_PREFIX + length;
        long handle = objectSize <= pool.maxObjectSize() ? pool.malloc(objectSize) : ZPool.NO_SPACE;
        if (handle == ZPool.NO_SPACE && objectSize <= pool.maxObjectSize()) {
            spill.beginBatch(); // one RocksDB write for the whole reclaim
            try {
                framesReclaimed += pool.reclaim(config.reclaimBatchFrames(), writeback);
            } finally {
                spill.commitBatch();
            }
            handle = pool.malloc(objectSize);
        }
        if (handle == ZPool.NO_SPACE) {
            spill.put(pageId, storeScratch, 4, objectSize - 4);
            pageTable.spilled(pageId, true);
            directSpills++;
            return;
        }
        pool.write(handle, storeScratch, 0, objectSize);
        pageTable.poolHandle(pageId, handle);
    }

    /** The reaper's evictor: a pool object goes to RocksDB; it never goes back into the pool. */
    private boolean writeBack(long handle, ByteBuffer data) {
        int length = data.remaining();
        data.get(evictScratch, 0, length);
        int pageId = (evictScratch[0] & 0xff) << 24 | (evictScratch[1] & 0xff) << 16
                | (evictScratch[2] & 0xff) << 8 | (evictScratch[3] & 0xff);
        if (!pageTable.isLive(pageId) || pageTable.poolHandle(pageId) != handle) {
            throw new IllegalStateException(
                    "pool object " + Long.toHexString(handle) + " names page " + pageId
                            + ", which does not own it: the page store is corrupt");
        }
        spill.put(pageId, evictScratch, 4, length - 4);
        pageTable.poolHandle(pageId, 0);
        pageTable.spilled(pageId, true);
        writebacks++;
        return true;
    }

    /** A page in the cache is about to change: copies elsewhere stop being current. */
    private void markDirty(int slot) {
        if (cache.isDirty(slot)) {
            return;
        }
        int pageId = cache.pageId(slot);
        long handle = pageTable.poolHandle(pageId);
        if (handle != 0) {
            pool.free(handle);
            pageTable.poolHandle(pageId, 0);
        }
        // a stale RocksDB copy stays until the page is spilled again or freed
        pageTable.spilled(pageId, false);
        pageTable.clearSame(pageId);
        cache.dirty(slot, true);
    }

    /** Frees a page in every tier. */
    private void freePage(int pageId) {
        int slot = pageTable.cacheSlot(pageId);
        if (slot != PageTable.NOT_CACHED) {
            cache.vacate(slot);
        }
        long handle = pageTable.poolHandle(pageId);
        if (handle != 0) {
            pool.free(handle);
        }
        if (pageTable.isOnDisk(pageId)) {
            spill.delete(pageId);
        }
        pageTable.release(pageId);
    }

    // ==== helpers ==================================================================================

    private static int keyTag(byte[] key, int keyOffset, int keyLength, int prefixLength, int prefixHash) {
        if (keyLength == prefixLength) {
            return 0;
        }
        return Hashing.hash(key, keyOffset + prefixLength, keyLength - prefixLength) & 0xffff;
    }

    private void checkKey(int keyLength, int prefixLength) {
        if (prefixLength < 0 || prefixLength > keyLength) {
            throw new IllegalArgumentException(
                    "prefix of " + prefixLength + " bytes does not fit a key of " + keyLength + " bytes");
        }
        if (PageLayout.SLOT + PageLayout.entrySize(keyLength, PageLayout.BLOB_REF) > maxInlineEntry) {
            throw new IllegalArgumentException(
                    "key of " + keyLength + " bytes is too large for pages of " + pageSize
                            + " bytes: keys may take up to half a page; raise the page size");
        }
    }

    private byte[] ensureValueBuffer(int length) {
        if (valueBuffer.length < length) {
            valueBuffer = new byte[Math.max(length, valueBuffer.length * 2)];
        }
        return valueBuffer;
    }

    private byte[] ensureKeyBuffer(int length) {
        if (keyBuffer.length < length) {
            keyBuffer = new byte[Math.max(length, keyBuffer.length * 2)];
        }
        return keyBuffer;
    }

    private void checkUsable() {
        if (closed) {
            throw new IllegalStateException("the page store is closed");
        }
    }

    private void checkMutable() {
        checkUsable();
        if (visiting) {
            throw new IllegalStateException("the page store cannot be modified from inside an iteration");
        }
    }

    // ==== snapshots ================================================================================

    /**
     * Freezes the store for a snapshot: directories and the authoritative copy of every page are
     * captured as they are now (hot pages as their bytes, pool pages as their compressed bytes,
     * same-filled pages as their word, spilled pages through a RocksDB snapshot, which costs
     * nothing here). The returned view reads from another thread while this store goes on;
     * nothing in it is decompressed or read from RocksDB until then.
     */
    public io.zstate.pagestore.snapshot.FrozenView freeze() {
        checkUsable();
        int ids = pageTable.idsUsed();
        byte[][] content = new byte[ids][];
        byte[] kinds = new byte[ids];
        long[] words = new long[ids];
        byte[] depths = new byte[ids];
        for (int id = 0; id < ids; id++) {
            if (!pageTable.isLive(id)) {
                continue;
            }
            depths[id] = (byte) pageTable.depth(id);
            int slot = pageTable.cacheSlot(id);
            long handle = pageTable.poolHandle(id);
            if (slot != PageTable.NOT_CACHED) {
                content[id] = cache.page(slot).clone();
                kinds[id] = Frozen.RAW;
            } else if (pageTable.isSame(id)) {
                words[id] = pageTable.sameWord(id);
                kinds[id] = Frozen.SAME;
            } else if (handle != 0) {
                byte[] compressed = new byte[pool.size(handle)];
                pool.read(handle, compressed, 0);
                content[id] = compressed;
                kinds[id] = Frozen.POOL;
            } else if (pageTable.isSpilled(id)) {
                kinds[id] = Frozen.SPILLED;
            } else {
                throw new IllegalStateException("page " + id + " has no copy in any tier: the page store is corrupt");
            }
        }
        int[][][] directories = new int[tables.size()][][];
        for (int t = 0; t < tables.size(); t++) {
            Directory[] groups = tables.get(t).groups;
            directories[t] = new int[groups.length][];
            for (int g = 0; g < groups.length; g++) {
                if (groups[g] != null) {
                    directories[t][g] = groups[g].pages.clone();
                }
            }
        }
        return new Frozen(pageSize, firstKeyGroup, directories, content, kinds, words, depths, spill.view(),
                Math.max(codec.maxCompressedLength(), pageSize) + POOL_PREFIX);
    }

    /** A frozen copy of a page store (see {@link #freeze()}), for one reader thread. */
    static final class Frozen implements io.zstate.pagestore.snapshot.FrozenView {
        static final byte RAW = 1;
        static final byte POOL = 2;
        static final byte SAME = 3;
        static final byte SPILLED = 4;

        private final int pageSize;
        private final int firstKeyGroup;
        private final int[][][] directories;
        private final byte[][] content;
        private final byte[] kinds;
        private final long[] words;
        private final byte[] depths;
        private final SpillStore.View spilled;
        private final PageCodec codec;
        private final byte[] readScratch;
        private final byte[] bucket;
        private final byte[] blob;
        private byte[] value;

        private Frozen(int pageSize, int firstKeyGroup, int[][][] directories, byte[][] content, byte[] kinds,
                long[] words, byte[] depths, SpillStore.View spilled, int maxStored) {
            this.pageSize = pageSize;
            this.firstKeyGroup = firstKeyGroup;
            this.directories = directories;
            this.content = content;
            this.kinds = kinds;
            this.words = words;
            this.depths = depths;
            this.spilled = spilled;
            this.codec = new PageCodec(pageSize);
            this.readScratch = new byte[maxStored];
            this.bucket = new byte[pageSize];
            this.blob = new byte[pageSize];
            this.value = new byte[pageSize];
        }

        @Override
        public void forEachInKeyGroup(int table, int keyGroup, EntryVisitor visitor) {
            if (table >= directories.length) {
                return;
            }
            int[] directory = directories[table][keyGroup - firstKeyGroup];
            if (directory == null) {
                return;
            }
            for (int i = 0; i < directory.length; i++) {
                int head = directory[i];
                if (i >= 1 << depths[head]) {
                    continue; // visited at the bucket's first directory index
                }
                for (int pageId = head; pageId != PageLayout.NO_PAGE; ) {
                    byte[] page = load(pageId, bucket);
                    int count = PageLayout.count(page);
                    for (int s = 0; s < count; s++) {
                        int entry = PageLayout.slotEntry(page, s);
                        int keyLength = PageLayout.entryKeyLength(page, entry);
                        int word = PageLayout.entryValueWord(page, entry);
                        int at = PageLayout.entryValueOffset(page, entry);
                        if (word != PageLayout.BLOB) {
                            visitor.visit(page, PageLayout.entryKeyOffset(entry), keyLength, page, at, word);
                        } else {
                            int length = PageLayout.i32(page, at);
                            byte[] bytes = readBlob(PageLayout.i32(page, at + 4), length);
                            visitor.visit(page, PageLayout.entryKeyOffset(entry), keyLength, bytes, 0, length);
                        }
                    }
                    pageId = PageLayout.next(page);
                }
            }
        }

        private byte[] readBlob(int pageId, int length) {
            if (value.length < length) {
                value = new byte[Math.max(length, value.length * 2)];
            }
            int done = 0;
            while (pageId != PageLayout.NO_PAGE) {
                byte[] page = load(pageId, blob);
                int used = PageLayout.blobUsed(page);
                System.arraycopy(page, PageLayout.HEADER, value, done, used);
                done += used;
                pageId = PageLayout.next(page);
            }
            if (done != length) {
                throw new IllegalStateException("frozen blob holds " + done + " bytes, its reference says " + length);
            }
            return value;
        }

        private byte[] load(int pageId, byte[] into) {
            switch (kinds[pageId]) {
                case RAW:
                    return content[pageId];
                case POOL:
                    codec.decompress(content[pageId], POOL_PREFIX, content[pageId].length - POOL_PREFIX, into);
                    return into;
                case SAME:
                    for (int i = 0; i < pageSize; i += 8) {
                        I64.set(into, i, words[pageId]);
                    }
                    return into;
                case SPILLED:
                    int n = spilled.get(pageId, readScratch);
                    if (n < 1) {
                        throw new IllegalStateException("frozen page " + pageId + " is missing from the RocksDB snapshot");
                    }
                    if (readScratch[0] == SpillStore.RAW) {
                        System.arraycopy(readScratch, 1, into, 0, pageSize);
                    } else {
                        codec.decompress(readScratch, 1, n - 1, into);
                    }
                    return into;
                default:
                    throw new IllegalStateException("frozen page " + pageId + " was not live when the store froze");
            }
        }

        /** Releases the RocksDB snapshot. */
        @Override
        public void close() {
            spilled.close();
        }
    }

    // ==== observability, checks, lifecycle ========================================================

    public PageStoreStats stats() {
        if (closed) {
            // metrics may ask after the backend is disposed; RocksDB is closed by then, and
            // asking it a property on a closed handle crashes the JVM (it did, in a TaskManager)
            return finalStats;
        }
        long hot = cache.used();
        long dirty = 0;
        for (int s = 0; s < cache.slots(); s++) {
            if (cache.pageId(s) != PageCache.FREE && cache.isDirty(s)) {
                dirty++;
            }
        }
        long inPool = 0;
        long spilled = 0;
        long same = 0;
        for (int id = 0; id < pageTable.idsUsed(); id++) {
            if (!pageTable.isLive(id)) {
                continue;
            }
            if (pageTable.poolHandle(id) != 0) {
                inPool++;
            } else if (pageTable.isSpilled(id)) {
                spilled++;
            } else if (pageTable.isSame(id)) {
                same++;
            }
        }
        ZPoolStats p = pool.stats();
        return new PageStoreStats(hot, dirty, inPool, spilled, same, pageTable.live(), p.framesHeld(),
                p.bytesHeld(), p.payloadBytes(), hot * pageSize, spill.memoryBytes(), spill.diskBytes(), cacheHits, cacheMisses, poolHits, swapIns, sameFilledHits, stores,
                cleanDrops, sameFilledStores, bounced, directSpills, writebacks, framesReclaimed,
                uncompressedBytesStored, compressedBytesStored);
    }

    /**
     * Heap bytes of the page cache (pages allocated so far), page table, directories and pool
     * metadata: what the store costs on heap.
     */
    public long heapBytes() {
        long bytes = cache.heapBytes() + pageTable.metadataBytes() + pool.stats().metadataBytes()
                + frames.metadataBytes();
        for (Table t : tables) {
            for (Directory d : t.groups) {
                if (d != null) {
                    bytes += 32 + 4L * d.pages.length;
                }
            }
        }
        return bytes;
    }

    /** Off-heap bytes the pool's frames hold. */
    public long offHeapBytes() {
        return frames.bytesInUse();
    }

    /** Memory RocksDB spends on the spill store: memtables and block cache in use. */
    public long spillMemoryBytes() {
        return spill.memoryBytes();
    }

    /** Bytes of spilled pages on disk (SST files). */
    public long spillDiskBytes() {
        return spill.diskBytes();
    }

    /**
     * Checks that every page is in exactly one authoritative place, the cache and page table agree,
     * every directory entry reaches a live bucket, and the pool's own invariants hold.
     */
    public void checkInvariants() {
        for (int s = 0; s < cache.slots(); s++) {
            int id = cache.pageId(s);
            if (id == PageCache.FREE) {
                continue;
            }
            if (!pageTable.isLive(id) || pageTable.cacheSlot(id) != s) {
                throw new IllegalStateException("cache slot " + s + " holds page " + id + ", which does not point back");
            }
            if (cache.isPinned(s)) {
                throw new IllegalStateException("cache slot " + s + " is still pinned between operations");
            }
        }
        for (int id = 0; id < pageTable.idsUsed(); id++) {
            if (!pageTable.isLive(id)) {
                continue;
            }
            int slot = pageTable.cacheSlot(id);
            boolean dirty = slot != PageTable.NOT_CACHED && cache.isDirty(slot);
            int copies = (pageTable.poolHandle(id) != 0 ? 1 : 0) + (pageTable.isSpilled(id) ? 1 : 0)
                    + (pageTable.isSame(id) ? 1 : 0);
            if (dirty ? copies != 0 : copies != 1) {
                throw new IllegalStateException("page " + id + " is " + (dirty ? "dirty in the cache" : "clean")
                        + " with " + copies + " other current copies; a page has exactly one authoritative place");
            }
            if (slot != PageTable.NOT_CACHED && cache.pageId(slot) != id) {
                throw new IllegalStateException("page " + id + " points at cache slot " + slot + ", which holds another");
            }
        }
        for (Table t : tables) {
            for (Directory d : t.groups) {
                if (d == null) {
                    continue;
                }
                if (d.pages.length != 1 << d.depth) {
                    throw new IllegalStateException("table " + t.name + ": directory size disagrees with its depth");
                }
                java.util.Set<Integer> heads = new java.util.HashSet<>();
                for (int pageId : d.pages) {
                    if (!pageTable.isLive(pageId)) {
                        throw new IllegalStateException("table " + t.name + ": directory points at freed page " + pageId);
                    }
                    heads.add(pageId);
                }
                if (heads.size() != d.buckets) {
                    throw new IllegalStateException("table " + t.name + ": directory has " + heads.size()
                            + " bucket chains but counts " + d.buckets);
                }
                if (d.pages.length > Math.max(2 * DIRECTORY_FREE_DOUBLING,
                        2L * DIRECTORY_ENTRIES_PER_BUCKET * d.buckets)) {
                    throw new IllegalStateException("table " + t.name + ": directory of " + d.pages.length
                            + " entries for " + d.buckets + " buckets is past its bound");
                }
            }
        }
        pool.checkInvariants();
    }

    /** Releases every off-heap byte and deletes the RocksDB spill directory. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        finalStats = stats();
        closed = true;
        try {
            pool.close();
            frames.close();
        } finally {
            spill.close();
        }
    }

    /** Frames the pool still holds from its source; 0 after close. */
    public int framesInUse() {
        return frames.framesInUse();
    }

    public java.nio.file.Path spillDirectory() {
        return spill.directory();
    }
}

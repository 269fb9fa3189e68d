package io.zstate.pagestore.index;

import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.ValueView;
import io.zstate.pagestore.WriteVisitor;
import io.zstate.pagestore.layout.BlobRef;
import io.zstate.pagestore.layout.BucketPage;
import io.zstate.pagestore.layout.Pages;
import io.zstate.pagestore.tier.Pager;
import io.zstate.pagestore.layout.MapRoot;
import java.util.Arrays;

/**
 * The bucket index: per table and key-group, extendible hashing over the key's prefix (key |
 * namespace) into chains of slotted {@link BucketPage}s, whose pages the {@link Pager} keeps.
 *
 * <pre>
 * Algorithm:
 *   directory[prefixHash & (2^depth - 1)] -> bucket page -> overflow pages (a chain)
 *   locate   hash the prefix once, search the chain's pages by hash and key tag (BucketPage.find)
 *   insert   into the first page of the chain with room (Chains); a full chain first lets a
 *            map that fills half a page of it move out into a map index of its own (below),
 *            else splits on its next hash bit (Directory.split, Chains.split), unless every
 *            entry shares the new entry's prefix hash or the directory is at its bound: then the
 *            chain grows an overflow page
 *   delete   remove the slot; an overflow page left empty by a delete is unlinked and freed (a
 *            chain's head stays, and an empty bucket page is all zeros: a same-filled tag, no
 *            memory). A put or append that moves an entry can leave an overflow page empty and
 *            linked until the next split or clear (it costs its pool object, not correctness)
 *   values   up to half a page with the key inline; larger ones in blob chains (Blobs)
 *   keys     inline unless they would take more than half a page with a blob reference for the
 *            value: then in a blob chain too, found by hash and tag and compared by reading it
 *   maps     a MapState's entries share their prefix, so they share a chain. When a map's
 *            entries fill half a page of a full chain, they move into a MapIndex (a B+tree over
 *            the user keys, in pages) and a map root entry (key = the prefix) takes their place: a lookup that meets the root in the chain continues in the map index.
 *            A prefix has either entries in the chain or a root there, never both. The root
 *            goes when the map's last entry does. Prefixes over a quarter page stay in chains.
 *
 * Invariants (checkInvariants, with the pager's): every directory entry reaches a live bucket;
 * directory size, depth, bucket count and bound agree (Directory); every map index agrees with
 * its root (MapIndex), and no chain holds both a root and entries of its prefix.
 * </pre>
 *
 * <p>Touches only the pager's page interface (load, pin, markDirty, newPage, freePage, depth); it
 * never learns which tier a page came from. Not thread-safe: the store's lock guards it.
 */
public final class BucketIndex {

    private final Pager pager;
    private final Tables tables;
    private final Blobs blobs;
    private final Chains chains;
    private final MapIndex maps;
    private final ChainWalker walker;
    private final int pageSize;
    private final int maxInlineEntry;
    /** The longest prefix a map root takes (longer ones keep their maps in chains). */
    private final int maxRootPrefix;
    private byte[] keyBuffer = new byte[256];
    /** A blob key being compared. */
    private final ValueView keyView = new ValueView();
    /** An inline value and the bytes appended to it, on their way back in. */
    private byte[] appendBuffer;

    // What the last locate() found: the key's hashes, the chain it is in or belongs to, its page
    // and slot if present, and whether that chain is a map index's (then root is its map).
    private int prefixHash;
    private int mainTag;
    private int userHash;
    private int foundHead;
    private int foundPage;
    private int foundIndex;
    private boolean inMap;
    private final MapIndex.Root root = new MapIndex.Root();
    /** Map indexes in the store. */
    private long mapIndexes;
    /** Writes waiting for their bucket's page (writes without a read), or null: none configured. */
    private PendingWrites pending;
    /** Whether writes whose bucket's page is in the pool wait too (else only those of pages in RocksDB). */
    private boolean waitForPoolPages;
    /** Writes to pages in RocksDB alone faulted in as warm ({@link #waitsInRocksDb}). */
    private long warmPageWrites;
    /** Applies a waiting write through the direct write path. */
    private final PendingWrites.Applier applier = this::applyOne;

    public BucketIndex(Pager pager, int firstKeyGroup, int numberOfKeyGroups) {
        this.pager = pager;
        this.tables = new Tables(firstKeyGroup, numberOfKeyGroups);
        this.blobs = new Blobs(pager);
        this.chains = new Chains(pager, blobs);
        this.walker = new ChainWalker(new LivePages(pager), pager.pageSize());
        this.maps = new MapIndex(pager, chains, walker);
        this.pageSize = pager.pageSize();
        this.maxInlineEntry = pageSize / 2;
        this.maxRootPrefix = pageSize / 4;
        this.appendBuffer = new byte[pageSize];
    }

    // ==== tables and argument checks ===============================================================

    public int createTable(String name) {
        return tables.create(name);
    }

    public int createTable(String name, int seed) {
        return tables.create(name, seed);
    }

    public int tableSeed(int table) {
        return tables.seed(table);
    }

    public String tableName(int table) {
        return tables.name(table);
    }

    /** Checks a table and key-group before anything is touched. */
    public void check(int table, int keyGroup) {
        tables.check(table, keyGroup);
    }

    /** Checks a key for a write before anything is touched. Keys of any length are taken. */
    public void checkKey(int keyLength, int prefixLength) {
        if (prefixLength < 0 || prefixLength > keyLength) {
            throw new IllegalArgumentException(
                    "prefix of " + prefixLength + " bytes does not fit a key of " + keyLength + " bytes");
        }
    }

    /**
     * Every directory as it is now, for a frozen view: [table][key-group index] -> bucket heads
     * (shared with the live directories until their next change, which copies them).
     */
    public int[][][] freezeDirectories() {
        return tables.freeze();
    }

    // ==== point operations =========================================================================

    /**
     * Looks a key up; if it exists, {@code out} holds its value.
     *
     * @param prefixLength how many leading bytes of the key place it (key | namespace); the rest
     *     (a map's user key) only distinguishes entries within the prefix
     */
    public boolean get(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            ValueView out) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null) {
            return false;
        }
        int hash = Hashing.hash(key, keyOffset, prefixLength, d.seed);
        applyWaiting(d, hash);
        if (!locate(d, hash, key, keyOffset, keyLength, prefixLength)) {
            return false;
        }
        byte[] page = pager.page(pager.cachedSlot(foundPage));
        walker.readValue(page, BucketPage.slotEntry(page, foundIndex), out);
        return true;
    }

    /**
     * Inserts or replaces a key's value; with a write buffer, a key whose bucket's page is not in
     * the cache waits there instead (read nothing).
     */
    public void put(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        Directory d = directory(table, keyGroup);
        int hash = Hashing.hash(key, keyOffset, prefixLength, d.seed);
        if (pending == null || !waitForBucket(PendingWrites.PUT, table, keyGroup, d, hash, key, keyOffset, keyLength,
                prefixLength, value, valueOffset, valueLength)) {
            putDirect(d, hash, key, keyOffset, keyLength, prefixLength, value, valueOffset, valueLength);
        }
    }

    private void putDirect(Directory d, int hash, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        if (locate(d, hash, key, keyOffset, keyLength, prefixLength)) {
            int slot = pager.cachedSlot(foundPage);
            byte[] page = pager.page(slot);
            int entry = BucketPage.slotEntry(page, foundIndex);
            if (BucketPage.entryValueWord(page, entry) == valueLength && !isBlobSize(keyLength, valueLength)) {
                pager.markDirty(slot);
                System.arraycopy(value, valueOffset, page, BucketPage.entryValueOffset(page, entry), valueLength);
                return;
            }
            removeFound();
        }
        insertLocated(d, key, keyOffset, keyLength, prefixLength, value, valueOffset, valueLength);
    }

    /**
     * Appends bytes to a key's value (ListState's merge), creating the key from the bytes after
     * the separator if absent ({@code PageStore.append}). A value that outgrows half a page moves
     * to blob pages; appending to a blob writes only its tail.
     */
    public void append(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        Directory d = directory(table, keyGroup);
        int hash = Hashing.hash(key, keyOffset, prefixLength, d.seed);
        if (pending == null || !waitForBucket(PendingWrites.APPEND, table, keyGroup, d, hash, key, keyOffset,
                keyLength, prefixLength, value, valueOffset, valueLength)) {
            appendDirect(d, hash, key, keyOffset, keyLength, prefixLength, value, valueOffset, valueLength);
        }
    }

    private void appendDirect(Directory d, int hash, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        if (!locate(d, hash, key, keyOffset, keyLength, prefixLength)) {
            int skip = WriteVisitor.APPEND_SEPARATOR_BYTES;
            insertLocated(d, key, keyOffset, keyLength, prefixLength, value, valueOffset + skip, valueLength - skip);
            return;
        }
        int slot = pager.cachedSlot(foundPage);
        byte[] page = pager.page(slot);
        int entry = BucketPage.slotEntry(page, foundIndex);
        int word = BucketPage.entryValueWord(page, entry);
        if (word == BucketPage.BLOB) {
            pager.pin(slot);
            try {
                blobs.append(slot, entry, value, valueOffset, valueLength);
            } finally {
                pager.unpin(slot);
            }
            return;
        }
        // inline: old value + new bytes, re-inserted (as a blob if it outgrew half a page)
        int total = word + valueLength;
        if (appendBuffer.length < total) {
            appendBuffer = new byte[Math.max(total, appendBuffer.length * 2)];
        }
        byte[] combined = appendBuffer;
        System.arraycopy(page, BucketPage.entryValueOffset(page, entry), combined, 0, word);
        System.arraycopy(value, valueOffset, combined, word, valueLength);
        removeFound();
        insertLocated(d, key, keyOffset, keyLength, prefixLength, combined, 0, total);
    }

    /** Removes a key; returns whether it existed (so reads its page: see {@link #remove}). */
    public boolean delete(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null) {
            return false;
        }
        int hash = Hashing.hash(key, keyOffset, prefixLength, d.seed);
        applyWaiting(d, hash);
        return deleteDirect(d, hash, key, keyOffset, keyLength, prefixLength);
    }

    /**
     * Removes a key if it exists, without saying whether it did: with a write buffer, a key whose
     * bucket's page is not in the cache has its removal wait there (read nothing).
     */
    public void remove(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null) {
            return;
        }
        int hash = Hashing.hash(key, keyOffset, prefixLength, d.seed);
        if (pending == null || !waitForBucket(PendingWrites.REMOVE, table, keyGroup, d, hash, key, keyOffset,
                keyLength, prefixLength, key, 0, 0)) {
            deleteDirect(d, hash, key, keyOffset, keyLength, prefixLength);
        }
    }

    private boolean deleteDirect(Directory d, int hash, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        if (!locate(d, hash, key, keyOffset, keyLength, prefixLength)) {
            return false;
        }
        if (inMap) {
            maps.remove(root, foundHead, foundPage, foundIndex);
            if (root.entries == 0) {
                maps.free(root);
                removeRoot(d);
            } else {
                storeRoot();
            }
        } else {
            chains.removeEntry(foundPage, foundIndex);
            chains.unlinkIfEmptyOverflow(foundHead, foundPage);
        }
        return true;
    }

    // ==== maps: whole-prefix operations ============================================================

    /** Whether any entry's key starts with {@code prefix} (a map is not empty). */
    public boolean hasPrefix(int table, int keyGroup, byte[] prefix, int offset, int length) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null) {
            return false;
        }
        int hash = Hashing.hash(prefix, offset, length, d.seed);
        applyWaiting(d, hash);
        // an entry, or a map root (a map index is never empty), stops the walk
        return !forEachPrefixSlot(d.head(hash), hash, prefix, offset, length, (pageId, slot, index) -> false);
    }

    /**
     * Removes every entry whose key starts with {@code prefix} (a map's clear): a map index is
     * freed whole, reading its pages only where entries have blobs.
     */
    public void deletePrefix(int table, int keyGroup, byte[] prefix, int offset, int length) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null) {
            return;
        }
        int hash = Hashing.hash(prefix, offset, length, d.seed);
        applyWaiting(d, hash);
        int head = d.head(hash);
        forEachPrefixSlot(head, hash, prefix, offset, length, (pageId, slot, index) -> {
            freeMapOf(pager.page(slot), BucketPage.slotEntry(pager.page(slot), index), new MapIndex.Root());
            chains.removeEntry(pageId, index);
            return true;
        });
        chains.unlinkEmptyOverflows(head);
    }

    /** What to do with a chain's slot whose key starts with a prefix; false stops the walk. */
    private interface PrefixSlot {
        boolean at(int pageId, int slot, int index);
    }

    /**
     * The one walk over the slots of a chain whose keys start with a prefix (a map root for it
     * included): each page pinned in its turn, its slots from last to first, so the action may
     * remove the slot it is given. Returns false if the action stopped it.
     */
    private boolean forEachPrefixSlot(int head, int hash, byte[] prefix, int offset, int length, PrefixSlot action) {
        for (int pageId = head; pageId != Pages.NO_PAGE; ) {
            int slot = pager.load(pageId);
            pager.pin(slot);
            try {
                for (int i = BucketPage.count(pager.page(slot)) - 1; i >= 0; i--) {
                    if (matchesPrefix(slot, i, hash, prefix, offset, length) && !action.at(pageId, slot, i)) {
                        return false;
                    }
                }
                pageId = Pages.next(pager.page(slot));
            } finally {
                pager.unpin(slot);
            }
        }
        return true;
    }

    /**
     * Visits a batch of the entries whose key starts with {@code prefix}: those whose user key
     * (the bytes after the prefix) is at least {@code from}, in one leaf of the map's index, or all
     * of a map in its chain; returns the user key the next batch starts from, or null after the
     * last. Batches come in key order; a batch's entries in no order. An entry present from the
     * first batch to the last is visited exactly once, whatever is written in between.
     */
    public byte[] forEachWithPrefix(int table, int keyGroup, byte[] prefix, int offset, int length, byte[] from,
            EntryVisitor visitor) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null) {
            return null;
        }
        int hash = Hashing.hash(prefix, offset, length, d.seed);
        applyWaiting(d, hash);
        int head = d.head(hash);
        EntryVisitor fromOn = from.length == 0 ? visitor : (k, ko, kl, v, vo, vl) -> {
            if (Arrays.compareUnsigned(k, ko + length, ko + kl, from, 0, from.length) >= 0) {
                visitor.visit(k, ko, kl, v, vo, vl);
            }
        };
        if (!findRoot(head, hash, prefix, offset, length)) {
            walker.forEachWithPrefix(head, hash, prefix, offset, length, fromOn);
            return null;
        }
        int leaf = maps.leaf(root, from, 0, from.length);
        byte[] next = maps.upperBound();
        walker.forEachInMapLeaf(leaf, fromOn);
        return next;
    }

    /** Whether the chain at {@code head} has a map root for the prefix; if so, {@link #root} is it. */
    private boolean findRoot(int head, int hash, byte[] prefix, int offset, int length) {
        if (length > maxRootPrefix) {
            return false;
        }
        for (int pageId = head; pageId != Pages.NO_PAGE; ) {
            byte[] page = pager.page(pager.load(pageId));
            int r = BucketPage.findOrRoot(page, hash, -1, prefix, offset, length, length);
            if (r <= -2) {
                readRoot(pageId, page, -2 - r);
                return true;
            }
            pageId = Pages.next(page);
        }
        return false;
    }

    /**
     * Whether slot {@code index} of the page in cache slot {@code slot} has a key that starts with
     * the prefix (a blob key is read, the page pinned meanwhile); a map root for the prefix counts.
     */
    private boolean matchesPrefix(int slot, int index, int hash, byte[] prefix, int offset, int length) {
        byte[] page = pager.page(slot);
        if (BucketPage.slotPrefixHash(page, index) != hash) {
            return false;
        }
        int entry = BucketPage.slotEntry(page, index);
        if (!BucketPage.isKeyBlob(page, entry)) {
            return BucketPage.hasPrefix(page, index, hash, prefix, offset, length);
        }
        pager.pin(slot);
        try {
            walker.readKey(page, entry, keyView);
        } finally {
            pager.unpin(slot);
        }
        return ChainWalker.startsWith(keyView, prefix, offset, length);
    }

    // ==== iteration and clearing ===================================================================

    /** Visits every entry whose key starts with {@code prefix} (a MapState's entries). */
    public void forEachWithPrefix(int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength,
            EntryVisitor visitor) {
        Directory d = tables.directory(table, keyGroup);
        if (d != null) {
            int hash = Hashing.hash(prefix, prefixOffset, prefixLength, d.seed);
            applyWaiting(d, hash);
            walker.forEachWithPrefix(d.head(hash), hash, prefix, prefixOffset, prefixLength, visitor);
        }
    }

    /** Visits every entry of one key-group of a table. */
    public void forEachInKeyGroup(int table, int keyGroup, EntryVisitor visitor) {
        applyAllWaiting();
        Directory d = tables.directory(table, keyGroup);
        if (d != null) {
            walker.forEachInDirectory(d.pages, visitor);
        }
    }

    /**
     * Visits the key of every entry of one key-group of a table, with an empty value; the entries
     * of a map index as one key, the map's prefix.
     */
    public void forEachKeyInKeyGroup(int table, int keyGroup, EntryVisitor visitor) {
        applyAllWaiting();
        Directory d = tables.directory(table, keyGroup);
        if (d != null) {
            walker.forEachKeyInDirectory(d.pages, visitor);
        }
    }

    /**
     * Installs the directory of a table and key-group whose pages were placed from a checkpoint
     * (Pager.place), with the number of map indexes among them.
     *
     * @throws IllegalStateException if the key-group has a directory already or a head is not a
     *     placed page (the checkpoint is corrupt)
     */
    public void placeDirectory(int table, int keyGroup, int[] heads, long mapIndexesAmong) {
        tables.check(table, keyGroup);
        if (tables.directory(table, keyGroup) != null) {
            throw new IllegalStateException("table " + tables.name(table) + ", key-group " + keyGroup
                    + " has entries already: pages can be placed only into an empty key-group");
        }
        if (heads.length == 0 || Integer.bitCount(heads.length) != 1 || heads.length > 1 << Directory.MAX_DEPTH) {
            throw new IllegalStateException("a directory of " + heads.length + " heads: not a power of two up to 2^"
                    + Directory.MAX_DEPTH);
        }
        for (int head : heads) {
            if (!pager.isLive(head)) {
                throw new IllegalStateException("the directory of table " + tables.name(table) + ", key-group "
                        + keyGroup + " points at page " + head + ", which the checkpoint does not hold");
            }
        }
        tables.directory(table, keyGroup, Directory.placed(heads, tables.seed(table), pager::depth));
        mapIndexes += mapIndexesAmong;
    }

    /** Removes every entry of a table and frees its pages. */
    public void clear(int table) {
        Directory[] groups = tables.directories(table);
        if (pending != null) { // before the pages they wait for are freed
            pending.drop(t -> t == table);
            for (Directory d : groups) {
                if (d != null) {
                    for (int head : d.pages) {
                        pending.dropKept(head);
                    }
                }
            }
        }
        MapIndex.Root r = new MapIndex.Root();
        Chains.EntryOwner freeMaps = (page, entry) -> freeMapOf(page, entry, r);
        for (int g = 0; g < groups.length; g++) {
            Directory d = groups[g];
            if (d == null) {
                continue;
            }
            for (int head : d.pages) {
                if (pager.isLive(head)) { // else freed at an earlier index of the same bucket
                    chains.free(head, true, freeMaps);
                }
            }
            groups[g] = null;
        }
    }

    // ==== writes without a read ======================================================================

    /**
     * From now on, writes whose bucket's head page is in RocksDB alone and not used again and
     * again soon ({@link Pager#writeMayWait}; with {@code waitForPoolPages}: not in the cache) wait
     * in a buffer of at most {@code bytes} (see {@link PendingWrites}), whose log takes its pages
     * from the page cache from its first record on, and as it grows; call before the first write.
     */
    public void bufferWrites(int bytes, boolean waitForPoolPages) {
        this.waitForPoolPages = waitForPoolPages;
        pending = new PendingWrites(bytes);
        pending.spillTo(new WritesToRocksDb());
    }

    /**
     * The write buffer's way to RocksDB (see {@link PendingWrites}): a bucket whose head page is
     * in RocksDB alone sends its records there.
     */
    private final class WritesToRocksDb implements PendingWrites.Spill {
        @Override
        public boolean wants(int bucket) {
            return pager.isInRocksDbOnly(bucket);
        }

        @Override
        public void write(int bucket, byte[] records, int offset, int length) {
            pager.spillWaitingWrites(bucket, records, offset, length);
        }

        @Override
        public void commit() {
            pager.commitWaitingWrites();
        }

        @Override
        public int read(int bucket, byte[] dst) {
            return pager.readWaitingWrites(bucket, dst);
        }

        @Override
        public void delete(int bucket) {
            pager.dropWaitingWrites(bucket);
        }
    }

    /** Page-cache pages the write buffer's log takes now (0 without one, or before its first record). */
    public int writeBufferPages() {
        return pending == null || !pending.hasLog() ? 0 : pager.pagesFor(pending.size());
    }

    /**
     * Doubles the write buffer's log (it asked: {@link PendingWrites#wantsToGrow}): its waiting
     * writes applied, its new pages taken from the page cache.
     */
    private void growBuffer() {
        int before = writeBufferPages();
        pending.applyLog(applier);
        pending.grow();
        pager.limitCache(pager.cacheLimit() - (writeBufferPages() - before));
    }

    /**
     * Lets a write wait in the buffer if its bucket's head page is not in the cache (its bucket's
     * earlier writes may wait there already); returns false if the caller must write it through,
     * after this applied the bucket's waiting writes.
     */
    private boolean waitForBucket(int op, int table, int keyGroup, Directory d, int hash, byte[] key, int keyOffset,
            int keyLength, int prefixLength, byte[] value, int valueOffset, int valueLength) {
        if (pending.wantsToGrow()) {
            growBuffer();
        }
        boolean fits = pending.fits(table, keyGroup, keyLength, prefixLength, valueLength);
        if (fits) {
            pending.makeRoom(keyLength, valueLength, applier); // may split buckets: before the bucket is chosen
        }
        int head = d.head(hash); // after makeRoom: applying may have split buckets (d and hash stay)
        if (!fits || pager.isCached(head) || !(waitForPoolPages || waitsInRocksDb(head))) {
            pending.apply(head, applier);
            return false;
        }
        boolean hadLog = pending.hasLog();
        pending.add(op, head, table, keyGroup, key, keyOffset, keyLength, prefixLength, value, valueOffset,
                valueLength);
        if (!hadLog) { // its first record (or its first after growing): the log's pages leave the cache
            pager.limitCache(pager.cacheLimit() - writeBufferPages());
        }
        return true;
    }

    /**
     * Whether a write to a bucket whose head page is not in the cache waits: only if the page is in
     * RocksDB alone and may wait ({@link Pager#writeMayWait}); one that may not is counted and
     * faulted in.
     */
    private boolean waitsInRocksDb(int head) {
        if (!pager.isInRocksDbOnly(head)) {
            return false;
        }
        if (pager.writeMayWait(head)) { // the caller tests this last: true means the write waits
            return true;
        }
        warmPageWrites++;
        return false;
    }

    /** Applies the waiting writes of the bucket a prefix's hash leads to, before anything reads it. */
    private void applyWaiting(Directory d, int hash) {
        if (pending != null && !pending.isEmpty()) {
            pending.apply(d.head(hash), applier);
        }
    }

    /**
     * The waiting writes as they are now, left waiting (a freeze whose pages need not hold them):
     * see {@link FrozenWaitingWrites}.
     */
    public FrozenWaitingWrites freezeWaitingWrites() {
        if (pending == null || pending.isEmpty()) {
            return FrozenWaitingWrites.NONE;
        }
        int[] kept = pending.keptBucketIds();
        return new FrozenWaitingWrites(pending.copyLog(), kept, kept.length == 0 ? null : pager.waitingWritesView());
    }

    /** Applies every waiting write (before a walk over whole directories; a snapshot leaves them waiting). */
    public void applyAllWaiting() {
        if (pending != null) {
            pending.applyAll(applier);
        }
    }

    /** One waiting write, through the direct write path. */
    private void applyOne(int op, int table, int keyGroup, byte[] record, int keyOffset, int keyLength,
            int prefixLength, int valueOffset, int valueLength) {
        Directory d = tables.directory(table, keyGroup);
        switch (op) {
            case PendingWrites.PUT -> putDirect(d, Hashing.hash(record, keyOffset, prefixLength, d.seed), record,
                    keyOffset, keyLength, prefixLength, record, valueOffset, valueLength);
            case PendingWrites.APPEND -> appendDirect(d, Hashing.hash(record, keyOffset, prefixLength, d.seed), record,
                    keyOffset, keyLength, prefixLength, record, valueOffset, valueLength);
            case PendingWrites.REMOVE -> deleteDirect(d, Hashing.hash(record, keyOffset, prefixLength, d.seed), record,
                    keyOffset, keyLength, prefixLength);
            default -> throw new IllegalStateException("a waiting write of unknown kind " + op
                    + ": the write buffer is corrupt");
        }
    }

    /** Writes waiting now, in the buffer's log or in RocksDB (0 without a buffer). */
    public long waitingWrites() {
        return pending == null ? 0 : pending.records() + pending.keptRecords();
    }

    /** Waiting writes sent to RocksDB so far (their bucket's page was there too). */
    public long writesToRocksDb() {
        return pending == null ? 0 : pending.spilledRecords();
    }

    /** The RocksDB merges that carried them (a bucket's records each). */
    public long writeMergesToRocksDb() {
        return pending == null ? 0 : pending.spills();
    }

    /**
     * Writes to a page in RocksDB alone that faulted it in rather than wait, as it was used again
     * soon ({@link #waitsInRocksDb}).
     */
    public long warmPageWrites() {
        return warmPageWrites;
    }

    /** Writes that waited in the buffer so far. */
    public long bufferedWrites() {
        return pending == null ? 0 : pending.buffered();
    }

    /** Bucket applications so far: the faults (at most) that applied the writes that waited. */
    public long bufferApplications() {
        return pending == null ? 0 : pending.bucketApplications();
    }

    // ==== bucket mechanics =========================================================================

    private Directory directory(int table, int keyGroup) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null) {
            int head = chains.newBucket(0);
            pager.unpin(pager.cachedSlot(head));
            d = new Directory(head, tables.seed(table));
            tables.directory(table, keyGroup, d);
        }
        return d;
    }

    /**
     * Searches the chain a key belongs to ({@code hash}: its prefix's) once, continuing in the map index if the
     * chain has a map root for the key's prefix. On success the key's page is in the cache and
     * {@code foundPage}/{@code foundIndex} say where it is. Always sets the hashes, {@code
     * foundHead} and {@code inMap} (and {@code root} when in a map).
     */
    private boolean locate(Directory d, int hash, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        // a key that is its whole prefix (a value state's) hashes no user key, unless it meets a root
        int user = keyLength == prefixLength
                ? 0
                : Hashing.hash(key, keyOffset + prefixLength, keyLength - prefixLength, d.seed);
        int tag = user & 0xffff;
        prefixHash = hash;
        mainTag = tag;
        userHash = user;
        inMap = false;
        foundHead = d.head(hash);
        boolean blobKey = isKeyBlobSize(keyLength);
        boolean mayBeMap = prefixLength <= maxRootPrefix;
        for (int pageId = foundHead; pageId != Pages.NO_PAGE; ) {
            int slot = pager.load(pageId);
            byte[] page = pager.page(slot);
            int index;
            if (blobKey) {
                index = findBlobKey(slot, page, hash, tag, key, keyOffset, keyLength);
                if (index < 0 && mayBeMap && prefixLength < keyLength) {
                    int r = BucketPage.findOrRoot(page, hash, -1, key, keyOffset, prefixLength, prefixLength);
                    index = r <= -2 ? r : -1;
                }
            } else {
                index = mayBeMap
                        ? BucketPage.findOrRoot(page, hash, tag, key, keyOffset, keyLength, prefixLength)
                        : BucketPage.find(page, hash, tag, key, keyOffset, keyLength);
                if (index >= 0 && mayBeMap && BucketPage.isMapRoot(page, BucketPage.slotEntry(page, index))) {
                    index = -2 - index; // the key is its prefix (an empty user key): the root stands for it
                }
            }
            if (index >= 0) {
                foundPage = pageId;
                foundIndex = index;
                return true;
            }
            if (index <= -2) {
                readRoot(pageId, page, -2 - index);
                if (keyLength == prefixLength) { // a map's empty user key: its hash places it in the map
                    userHash = Hashing.hash(key, keyOffset + prefixLength, 0, d.seed);
                }
                return locateInMap(key, keyOffset, keyLength, blobKey);
            }
            pageId = Pages.next(page);
        }
        foundPage = Pages.NO_PAGE;
        foundIndex = -1;
        return false;
    }

    /** Searches the map index of {@link #root} for a key whose user-key hash is {@link #userHash}. */
    private boolean locateInMap(byte[] key, int keyOffset, int keyLength, boolean blobKey) {
        inMap = true;
        int tag = MapIndex.tag(userHash);
        foundHead = maps.leaf(root, key, keyOffset + root.prefixLength, keyLength - root.prefixLength);
        for (int pageId = foundHead; pageId != Pages.NO_PAGE; ) {
            int slot = pager.load(pageId);
            byte[] page = pager.page(slot);
            int index = blobKey
                    ? findBlobKey(slot, page, userHash, tag, key, keyOffset, keyLength)
                    : BucketPage.find(page, userHash, tag, key, keyOffset, keyLength);
            if (index >= 0) {
                foundPage = pageId;
                foundIndex = index;
                return true;
            }
            pageId = Pages.next(page);
        }
        foundPage = Pages.NO_PAGE;
        foundIndex = -1;
        return false;
    }

    /** Reads the map root in slot {@code index} of a main-chain page into {@link #root}. */
    private void readRoot(int pageId, byte[] page, int index) {
        int entry = BucketPage.slotEntry(page, index);
        root.read(page, BucketPage.entryValueOffset(page, entry));
        root.prefixLength = BucketPage.entryKeyLength(page, entry);
        root.page = pageId;
        root.entry = entry;
        root.index = index;
    }

    /** Writes {@link #root} back into its entry (the main chain did not change since it was read). */
    private void storeRoot() {
        int slot = pager.load(root.page);
        pager.markDirty(slot);
        byte[] page = pager.page(slot);
        root.write(page, BucketPage.entryValueOffset(page, root.entry));
    }

    /** Frees the map index an entry names, if it is a map root ({@code scratch} takes its record). */
    private void freeMapOf(byte[] page, int entry, MapIndex.Root scratch) {
        if (BucketPage.isMapRoot(page, entry)) {
            scratch.read(page, BucketPage.entryValueOffset(page, entry));
            maps.free(scratch);
            mapIndexes--;
        }
    }

    /** Removes the entry of {@link #root} from its chain (its map index was freed). */
    private void removeRoot(Directory d) {
        mapIndexes--;
        pager.load(root.page);
        chains.removeEntry(root.page, root.index);
        chains.unlinkIfEmptyOverflow(d.head(prefixHash), root.page);
    }

    /**
     * Removes the entry locate() found (a put or append re-inserts it); a map leaf may lose an
     * emptied overflow page, but no head and no inner node changes, so locate's path still holds.
     */
    private void removeFound() {
        if (inMap) {
            maps.remove(root, foundHead, foundPage, foundIndex);
        } else {
            chains.removeEntry(foundPage, foundIndex);
        }
    }

    /**
     * The slot of a key kept in a blob, or -1: slots whose hashes and key length match are
     * compared by reading their key blob (the bucket page pinned meanwhile).
     */
    private int findBlobKey(int slot, byte[] page, int hash, int tag, byte[] key, int keyOffset, int keyLength) {
        int count = BucketPage.count(page);
        for (int i = 0; i < count; i++) {
            int entry = BucketPage.slotEntry(page, i);
            if (BucketPage.slotPrefixHash(page, i) != hash || BucketPage.slotKeyTag(page, i) != tag
                    || !BucketPage.isKeyBlob(page, entry)
                    || BlobRef.length(page, BucketPage.entryKeyOffset(entry)) != keyLength) {
                continue;
            }
            pager.pin(slot);
            try {
                walker.readKey(page, entry, keyView);
            } finally {
                pager.unpin(slot);
            }
            if (Arrays.equals(keyView.array(), keyView.offset(), keyView.offset() + keyLength,
                    key, keyOffset, keyOffset + keyLength)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Whether a key lives in a blob: when, inline, it would take more than half a page even with a
     * blob reference for its value. The same key always gets the same form.
     */
    private boolean isKeyBlobSize(int keyLength) {
        return BucketPage.needed(keyLength, BlobRef.SIZE) > maxInlineEntry;
    }

    /** Whether a value lives in a blob: when its entry, with the key as stored, would take more than half a page. */
    private boolean isBlobSize(int keyLength, int valueLength) {
        return BucketPage.needed(isKeyBlobSize(keyLength) ? BlobRef.SIZE : keyLength, valueLength) > maxInlineEntry;
    }

    /**
     * Inserts a key that locate() did not find, where locate() said it belongs: its map index, or
     * its chain (which may split, grow, or hand the key's map over to a new map index).
     */
    private void insertLocated(Directory d, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        boolean blobKey = isKeyBlobSize(keyLength);
        boolean blob = isBlobSize(keyLength, valueLength);
        int needed = BucketPage.needed(blobKey ? BlobRef.SIZE : keyLength, blob ? BlobRef.SIZE : valueLength);
        long keyChain = 0;
        long blobChain = 0;
        if (blobKey || blob) {
            // copy the key: writing a blob may evict the page the caller's key came from
            if (keyBuffer.length < keyLength) {
                keyBuffer = new byte[Math.max(keyLength, keyBuffer.length * 2)];
            }
            System.arraycopy(key, keyOffset, keyBuffer, 0, keyLength);
            key = keyBuffer;
            keyOffset = 0;
            if (blobKey) {
                keyChain = blobs.write(key, 0, keyLength);
            }
            if (blob) {
                blobChain = blobs.write(value, valueOffset, valueLength);
            }
        }
        if (inMap) { // locate's descent is still the path: nodes never change on a delete or blob write
            maps.insert(root, foundHead, userHash, key, keyOffset, keyLength, blobKey, keyChain, value, valueOffset,
                    valueLength, blob, blobChain, needed);
            storeRoot();
            return;
        }
        while (true) {
            int head = d.head(prefixHash);
            int target = chains.pageWithRoom(head, needed);
            if (target == Pages.NO_PAGE) {
                if (prefixLength < keyLength && prefixLength <= maxRootPrefix
                        && mapBytesInChain(head, key, keyOffset, prefixLength) * 2 >= pageSize) {
                    promote(d, key, keyOffset, prefixLength);
                    maps.insert(root, Pages.NO_PAGE, userHash, key, keyOffset, keyLength, blobKey, keyChain, value,
                            valueOffset, valueLength, blob, blobChain, needed);
                    storeRoot();
                    return;
                }
                if (splittable(d, head, prefixHash)) {
                    split(d, prefixHash);
                    continue;
                }
                target = chains.addOverflowPage(head);
            }
            chains.place(target, prefixHash, mainTag, key, keyOffset, keyLength, blobKey, keyChain,
                    value, valueOffset, valueLength, blob, blobChain);
            return;
        }
    }

    /** Bytes the entries under a key's prefix take in the chain at {@code head}. */
    private long mapBytesInChain(int head, byte[] key, int keyOffset, int prefixLength) {
        long[] bytes = {0};
        forEachPrefixSlot(head, prefixHash, key, keyOffset, prefixLength, (pageId, slot, index) -> {
            bytes[0] += BucketPage.neededToCopy(pager.page(slot), index);
            return true;
        });
        return bytes[0];
    }

    /**
     * Moves every entry under a key's prefix out of its chain into a new map index, and puts a
     * map root for the prefix into the chain; {@link #root} is the new map, {@link #inMap} set.
     * Entries keep their blobs (only their bucket slots move).
     */
    private void promote(Directory d, byte[] key, int keyOffset, int prefixLength) {
        MapIndex.Root r = maps.create(root, prefixLength);
        int head = d.head(prefixHash);
        forEachPrefixSlot(head, prefixHash, key, keyOffset, prefixLength, (pageId, slot, index) -> {
            byte[] page = pager.page(slot); // pinned
            byte[] userKey = maps.userKey(r, page, index); // a copy: a leaf split reads keys with the walker
            maps.moveIn(r, page, index, Hashing.hash(userKey, 0, userKey.length, d.seed), userKey, 0, userKey.length);
            pager.markDirty(slot);
            BucketPage.remove(page, index); // its blobs moved with it
            return true;
        });
        chains.unlinkEmptyOverflows(head);
        int needed = BucketPage.needed(prefixLength, MapRoot.SIZE);
        int target = chains.pageWithRoom(head, needed);
        if (target == Pages.NO_PAGE) {
            target = chains.addOverflowPage(head);
        }
        int slot = pager.cachedSlot(target);
        pager.markDirty(slot);
        byte[] page = pager.page(slot);
        int entry = BucketPage.insert(page, prefixHash, 0, key, keyOffset, prefixLength, BucketPage.MAP_ROOT,
                MapRoot.SIZE);
        r.page = target;
        r.entry = entry;
        r.index = BucketPage.count(page) - 1;
        r.write(page, BucketPage.entryValueOffset(page, entry));
        inMap = true;
        mapIndexes++;
    }

    /** A full bucket can split unless every entry in its chain has the new entry's prefix hash. */
    private boolean splittable(Directory d, int head, int hash) {
        if (!d.maySplit(pager.depth(head))) {
            return false;
        }
        for (int pageId = head; pageId != Pages.NO_PAGE; ) {
            byte[] page = pager.page(pager.load(pageId));
            int count = BucketPage.count(page);
            for (int i = 0; i < count; i++) {
                if (BucketPage.slotPrefixHash(page, i) != hash) {
                    return true;
                }
            }
            pageId = Pages.next(page);
        }
        return false;
    }

    /**
     * Splits the bucket that {@code hash} maps to on its next hash bit: its entries (overflow pages
     * included) are redistributed over the old head page and one new page.
     */
    private void split(Directory d, int hash) {
        int head = d.head(hash);
        int localDepth = pager.depth(head);
        int sibling = chains.newBucket(localDepth + 1);
        try {
            pager.depth(head, localDepth + 1);
            d.split(hash, localDepth, sibling);
            chains.split(head, sibling, 1 << localDepth);
        } finally {
            pager.unpin(pager.cachedSlot(sibling));
        }
    }

    // ==== observability and checks =================================================================

    /** Maps that live in map indexes of their own (large maps). */
    public long mapIndexes() {
        return mapIndexes;
    }

    /** Heap bytes of the directories and the write buffer. */
    public long heapBytes() {
        return tables.heapBytes() + (pending == null ? 0 : pending.heapBytes());
    }

    /**
     * Checks the directories, and every map index against its root; no chain holds a map root and
     * entries of the root's prefix.
     */
    public void checkInvariants() {
        tables.checkInvariants(pager::isLive);
        if (pending != null) {
            pending.checkInvariants(pager::isLive);
        }
        MapIndex.Root r = new MapIndex.Root();
        for (int t = 0; t < tables.count(); t++) {
            for (Directory d : tables.directories(t)) {
                if (d == null) {
                    continue;
                }
                for (int i = 0; i < d.pages.length; i++) {
                    int head = d.pages[i];
                    if (Directory.isFirstIndex(i, pager.depth(head))) {
                        checkChainMaps(t, head, r);
                    }
                }
            }
        }
    }

    private void checkChainMaps(int table, int head, MapIndex.Root r) {
        for (int pageId = head; pageId != Pages.NO_PAGE; ) {
            byte[] page = pager.page(pager.load(pageId));
            int next = Pages.next(page);
            int count = BucketPage.count(page);
            for (int i = 0; i < count; i++) {
                page = pager.page(pager.load(pageId));
                int entry = BucketPage.slotEntry(page, i);
                if (!BucketPage.isMapRoot(page, entry)) {
                    continue;
                }
                int hash = BucketPage.slotPrefixHash(page, i);
                byte[] prefix = Arrays.copyOfRange(page, BucketPage.entryKeyOffset(entry),
                        BucketPage.entryKeyOffset(entry) + BucketPage.entryKeyLength(page, entry));
                r.read(page, BucketPage.entryValueOffset(page, entry));
                r.prefixLength = prefix.length;
                maps.checkInvariants(r, tables.name(table));
                int rootPage = pageId;
                int rootIndex = i;
                if (!forEachPrefixSlot(head, hash, prefix, 0, prefix.length,
                        (other, slot, j) -> other == rootPage && j == rootIndex)) {
                    throw new IllegalStateException("table " + tables.name(table)
                            + ": a chain holds a map root and an entry of its prefix");
                }
            }
            pageId = next;
        }
    }
}

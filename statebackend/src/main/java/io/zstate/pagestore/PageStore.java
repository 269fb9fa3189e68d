package io.zstate.pagestore;

import io.zstate.allocator.MemoryBudget;
import io.zstate.pagestore.entry.EntryCache;
import io.zstate.pagestore.index.BucketIndex;
import io.zstate.pagestore.snapshot.FrozenView;
import io.zstate.pagestore.snapshot.PinnedFrozenView;
import io.zstate.pagestore.tier.Pager;
import java.util.Objects;

/**
 * A byte-level key-value store for many tables (one per Flink state), each partitioned by
 * key-group, whose entries live in pages that move between memory tiers: the zswap path inside a
 * stream job. This class is the facade; the work is done in layers, each explained at its top:
 *
 * <pre>
 *   PageStore (this)        the API, argument checks, the iteration guard, failure and lifecycle
 *     index.BucketIndex     tables, extendible hashing into bucket chains, blobs (which entry is
 *                           in which page)
 *       index.MapIndex      a large map's own B+tree over its user keys, in pages
 *       index.ChainWalker   the one walk over chains and blobs (live pages or a frozen view's)
 *     tier.Pager            where each page is: page cache, pool, RocksDB, same-filled tags, and
 *                           the paths between them (fault-in, store, bounce, writeback, drop)
 *     snapshot.FrozenView   the store at one instant, for a checkpoint's other thread
 *     layout.*              every byte layout: bucket page, blob page, blob reference, stored page
 * </pre>
 *
 * <pre>
 * Failure: an argument error (a key-group outside the range, a prefix longer than its key, an
 * offset outside its array, a write from inside an iteration) is thrown before anything changes. Any other exception from inside an operation
 * (an I/O error of the spill store, a stored page that does not decode) fails the store: the
 * operation may have been half done, so every later call throws PageStoreFailedException naming
 * the first failure and what was being done, and the task restores from its checkpoint. Running
 * short is no failure (the pager spills). close() releases everything whatever happened.
 *
 * Threads: not thread-safe. The keyed backend guards every call with its lock (this object); a
 * frozen view's thread takes the same lock for each page it reads and when it closes. While a
 * frozen view is open, every call must hold the lock: checked (an assertion) on every call. See
 * the pager's header for the lock order of the whole backend.
 * </pre>
 */
public final class PageStore implements AutoCloseable {

    /** The largest write buffer used (its log's positions are ints). */
    static final long MAX_WRITE_BUFFER_BYTES = 1L << 30;

    private final Pager pager;
    private final BucketIndex index;
    private EntryCache entries; // hot entries in front of the pages, or null (none yet, or none configured)
    private final long entryCacheBytes; // the most the entry cache may take of the page cache's heap
    private final int pageCacheSlots; // the page cache's limit before the entry cache and the write buffer took any
    private final int entryCacheWindow; // the entry cache's admission window (smaller in tests)
    private final int firstKeyGroup;
    private final GuardedVisitor guarded = new GuardedVisitor();
    private boolean visiting;
    private volatile boolean closed; // the slot's reaper reads it without the lock
    private PageStoreFailedException failure;
    private PageStoreStats finalStats; // the counters at close, which stats() answers afterwards
    private io.zstate.pagestore.delta.DeltaLog deltas; // what changed since the last checkpoint, or null

    /** A store for the key-groups {@code firstKeyGroup .. firstKeyGroup + numberOfKeyGroups - 1}. */
    public PageStore(PageStoreConfig config, int firstKeyGroup, int numberOfKeyGroups) {
        this(config, firstKeyGroup, numberOfKeyGroups, (MemoryBudget) null);
    }

    /**
     * A store whose pool frames are also drawn from {@code shared}, a budget other stores use too
     * (the keyed backends of one Flink slot); {@code null} for none.
     */
    public PageStore(PageStoreConfig config, int firstKeyGroup, int numberOfKeyGroups, MemoryBudget shared) {
        this(config, firstKeyGroup, numberOfKeyGroups, shared, Faults.NONE);
    }

    /** A store whose contacts with the outside fail when {@code faults} says (tests). */
    public PageStore(PageStoreConfig config, int firstKeyGroup, int numberOfKeyGroups, MemoryBudget shared,
            Faults faults) {
        this(config, firstKeyGroup, numberOfKeyGroups, new Pager(config, shared, faults), EntryCache.WINDOW);
    }

    /**
     * A store whose entry cache weighs its admission and asks to resize every {@code
     * entryCacheWindow} hits and second misses instead of every 4,096 (tests: resizes within a
     * few hundred operations).
     */
    PageStore(PageStoreConfig config, int firstKeyGroup, int numberOfKeyGroups, Faults faults, int entryCacheWindow) {
        this(config, firstKeyGroup, numberOfKeyGroups, new Pager(config, (MemoryBudget) null, faults), entryCacheWindow);
    }

    /**
     * A store of a Flink slot: its pool draws from the slot's pool share, its spill store uses the
     * slot's shared RocksDB cache and write-buffer manager ({@link SlotMemory}).
     */
    public PageStore(PageStoreConfig config, int firstKeyGroup, int numberOfKeyGroups, SlotMemory slot,
            Faults faults) {
        this(config, firstKeyGroup, numberOfKeyGroups, new Pager(config, slot, faults), EntryCache.WINDOW);
    }

    private PageStore(PageStoreConfig config, int firstKeyGroup, int numberOfKeyGroups, Pager pager,
            int entryCacheWindow) {
        if (numberOfKeyGroups < 1) {
            pager.close();
            throw new IllegalArgumentException("a page store needs at least one key-group");
        }
        this.firstKeyGroup = firstKeyGroup;
        this.pager = pager;
        this.entryCacheWindow = entryCacheWindow;
        this.entryCacheBytes = Math.min(config.entryCacheBytes(), EntryCache.MAX_BYTES);
        try {
            this.index = new BucketIndex(pager, firstKeyGroup, numberOfKeyGroups);
            this.pageCacheSlots = pager.cacheLimit();
            long bufferBytes = Math.min(config.writeBufferBytes(), MAX_WRITE_BUFFER_BYTES);
            if (bufferBytes > 0) { // its heap comes out of the page cache's, as the entry cache's does
                index.bufferWrites((int) bufferBytes, config.writesWaitForPoolPages());
            }
        } catch (RuntimeException | Error e) {
            pager.close(); // its arenas and RocksDB are not left behind
            throw e;
        }
    }

    /** Creates a table and returns its id; its hash seed is drawn at random. */
    public int createTable(String name) {
        checkUsable();
        return index.createTable(name);
    }

    /**
     * Creates a table whose keys are placed with {@code seed} (the one a snapshot kept, so that
     * pages written with it stay findable) and returns its id.
     */
    public int createTable(String name, int seed) {
        checkUsable();
        return index.createTable(name, seed);
    }

    /** The hash seed a table places its keys with: kept with the table's snapshot. */
    public int tableSeed(int table) {
        checkUsable();
        index.check(table, firstKeyGroup);
        return index.tableSeed(table);
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
        index.check(table, keyGroup);
        checkKey(key, keyOffset, keyLength, prefixLength);
        try {
            if (prefixLength != keyLength || !entryCacheFor(table, key, keyOffset, keyLength)
                    || !entriesAwakeAfterResizing()) {
                return index.get(table, keyGroup, key, keyOffset, keyLength, prefixLength, out);
            }
            if (entries.get(table, keyGroup, key, keyOffset, keyLength, out)) {
                return true;
            }
            boolean found = index.get(table, keyGroup, key, keyOffset, keyLength, prefixLength, out);
            if (found && !visiting) { // admitting may write entries back: never inside a walk over the pages
                entries.admit(table, keyGroup, key, keyOffset, keyLength, out);
            }
            return found;
        } catch (RuntimeException | Error e) {
            throw fail(e, "reading a key of table " + index.tableName(table));
        }
    }

    /** Inserts or replaces a key's value. */
    public void put(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        checkMutable(table, keyGroup);
        checkKey(key, keyOffset, keyLength, prefixLength);
        Objects.checkFromIndexSize(valueOffset, valueLength, value.length);
        try {
            boolean cached = prefixLength == keyLength && entryCacheFor(table, key, keyOffset, keyLength)
                    && entriesAwakeAfterResizing();
            if (!cached || !entries.put(table, keyGroup, key, keyOffset, keyLength, value, valueOffset, valueLength)) {
                index.put(table, keyGroup, key, keyOffset, keyLength, prefixLength, value, valueOffset, valueLength);
            }
        } catch (RuntimeException | Error e) {
            throw fail(e, "writing a key of table " + index.tableName(table));
        }
        if (deltas != null) {
            deltas.put(table, keyGroup, key, keyOffset, keyLength, prefixLength, value, valueOffset, valueLength);
        }
    }

    /**
     * Appends bytes to a key's value (ListState's merge: a delimiter, then elements), without
     * reading it: {@code value} starts with a one-byte separator that is kept when the key has a
     * value and dropped when it has none (the key is then created from the bytes after it). So a
     * list's add never needs to know whether the list exists, and with a write buffer an append to
     * a page not in the cache waits instead of faulting the page in. A value that outgrows half a
     * page moves to blob pages; appending to a blob writes only its tail.
     *
     * @throws IllegalArgumentException if {@code value} has no separator ({@code valueLength} 0)
     */
    public void append(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        checkMutable(table, keyGroup);
        checkKey(key, keyOffset, keyLength, prefixLength);
        Objects.checkFromIndexSize(valueOffset, valueLength, value.length);
        if (valueLength < WriteVisitor.APPEND_SEPARATOR_BYTES) {
            throw new IllegalArgumentException("An append to a key of table " + index.tableName(table)
                    + " carried no bytes: it must start with its one-byte separator (ListState's delimiter)");
        }
        try {
            if (prefixLength == keyLength && entries != null) {
                entries.evict(table, keyGroup, key, keyOffset, keyLength); // the merge happens in the pages
            }
            index.append(table, keyGroup, key, keyOffset, keyLength, prefixLength, value, valueOffset, valueLength);
        } catch (RuntimeException | Error e) {
            throw fail(e, "appending to a key of table " + index.tableName(table));
        }
        if (deltas != null) {
            deltas.append(table, keyGroup, key, keyOffset, keyLength, prefixLength, value, valueOffset, valueLength);
        }
    }

    /**
     * Removes a key if it exists, without saying whether it did, so that with a write buffer the
     * removal of a key whose page is not in the cache reads nothing (MapState.remove).
     */
    public void remove(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        checkMutable(table, keyGroup);
        checkKey(key, keyOffset, keyLength, prefixLength);
        try {
            if (entries != null && prefixLength == keyLength) {
                entries.remove(table, keyGroup, key, keyOffset, keyLength);
            }
            index.remove(table, keyGroup, key, keyOffset, keyLength, prefixLength);
        } catch (RuntimeException | Error e) {
            throw fail(e, "removing a key of table " + index.tableName(table));
        }
        if (deltas != null) {
            deltas.delete(table, keyGroup, key, keyOffset, keyLength, prefixLength);
        }
    }

    /** Removes a key; returns whether it existed (so its page is read: see {@link #remove}). */
    public boolean delete(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        checkMutable(table, keyGroup);
        checkKey(key, keyOffset, keyLength, prefixLength);
        boolean existed;
        try {
            boolean cached = entries != null && prefixLength == keyLength
                    && entries.remove(table, keyGroup, key, keyOffset, keyLength) >= 0;
            existed = index.delete(table, keyGroup, key, keyOffset, keyLength, prefixLength) || cached;
        } catch (RuntimeException | Error e) {
            throw fail(e, "deleting a key of table " + index.tableName(table));
        }
        if (existed && deltas != null) {
            deltas.delete(table, keyGroup, key, keyOffset, keyLength, prefixLength);
        }
        return existed;
    }

    // ==== iteration and clearing ===================================================================

    /** Visits every entry whose key starts with {@code prefix} (a MapState's entries). */
    public void forEachWithPrefix(int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength,
            EntryVisitor visitor) {
        checkUsable();
        index.check(table, keyGroup);
        Objects.checkFromIndexSize(prefixOffset, prefixLength, prefix.length);
        flushEntries(table);
        walk(table, "iterating over a prefix of table ", visitor, v -> {
            index.forEachWithPrefix(table, keyGroup, prefix, prefixOffset, prefixLength, v);
        });
    }

    /**
     * Visits one batch of the entries whose key starts with {@code prefix} (a map's entries) and
     * whose user key (the bytes after the prefix) is at least {@code from}: the first batch with
     * an empty {@code from}, each next one from what the previous returned, until it returns
     * null. Batches come in the unsigned order of the user keys (RocksDB's); the entries of one
     * batch in no order. A batch is a small map whole, or one leaf of a large map's index (about
     * a page of entries). Writes may come between batches: an entry present from the first batch
     * to the last is visited exactly once; one written or removed meanwhile may or may not be.
     */
    public byte[] forEachWithPrefix(int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength,
            byte[] from, EntryVisitor visitor) {
        checkUsable();
        index.check(table, keyGroup);
        Objects.checkFromIndexSize(prefixOffset, prefixLength, prefix.length);
        Objects.requireNonNull(from, "from");
        byte[][] next = new byte[1][];
        flushEntries(table);
        walk(table, "iterating over a prefix of table ", visitor, v -> {
            next[0] = index.forEachWithPrefix(table, keyGroup, prefix, prefixOffset, prefixLength, from, v);
        });
        return next[0];
    }

    /** Whether any entry's key starts with {@code prefix} (a map is not empty); reads no entry of a large map. */
    public boolean hasPrefix(int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength) {
        checkUsable();
        index.check(table, keyGroup);
        Objects.checkFromIndexSize(prefixOffset, prefixLength, prefix.length);
        try {
            if (entries != null && !visiting) {
                entries.flush(table);
            }
            return index.hasPrefix(table, keyGroup, prefix, prefixOffset, prefixLength);
        } catch (RuntimeException | Error e) {
            throw fail(e, "reading a prefix of table " + index.tableName(table));
        }
    }

    /**
     * Removes every entry whose key starts with {@code prefix}, the prefix that placed them (a
     * map's clear); a large map's pages are freed without being read unless its entries have blobs.
     */
    public void deletePrefix(int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength) {
        checkMutable(table, keyGroup);
        Objects.checkFromIndexSize(prefixOffset, prefixLength, prefix.length);
        try {
            if (entries != null) {
                entries.drop(table, keyGroup, prefix, prefixOffset, prefixLength);
            }
            index.deletePrefix(table, keyGroup, prefix, prefixOffset, prefixLength);
        } catch (RuntimeException | Error e) {
            throw fail(e, "deleting a prefix of table " + index.tableName(table));
        }
        if (deltas != null) {
            deltas.deletePrefix(table, keyGroup, prefix, prefixOffset, prefixLength);
        }
    }

    /**
     * Visits the key of every entry of one key-group of a table with an empty value, a large map's
     * entries once, as its prefix (getKeys: a state's keys and namespaces).
     */
    public void forEachKeyInKeyGroup(int table, int keyGroup, EntryVisitor visitor) {
        checkUsable();
        index.check(table, keyGroup);
        flushEntries(table);
        walk(table, "iterating over key-group " + keyGroup + " of table ", visitor, v -> {
            index.forEachKeyInKeyGroup(table, keyGroup, v);
        });
    }

    /** Visits every entry of one key-group of a table (snapshots, rescaling, getKeys). */
    public void forEachInKeyGroup(int table, int keyGroup, EntryVisitor visitor) {
        checkUsable();
        index.check(table, keyGroup);
        flushEntries(table);
        walk(table, "iterating over key-group " + keyGroup + " of table ", visitor, v -> {
            index.forEachInKeyGroup(table, keyGroup, v);
        });
    }

    /** Removes every entry of a table and frees its pages. */
    public void clear(int table) {
        checkMutable(table, firstKeyGroup);
        try {
            if (entries != null) {
                entries.drop(table, 0, null, 0, 0);
            }
            index.clear(table);
        } catch (RuntimeException | Error e) {
            throw fail(e, "clearing table " + index.tableName(table));
        }
        if (deltas != null) {
            deltas.giveUp(); // a whole table is no entry-level delta: the next checkpoint is full
        }
    }

    /**
     * Records every write from now on in {@code log} (null: stop): the entries an incremental
     * checkpoint writes. Writes that fail are not recorded (the store fails: nothing is written
     * from it any more).
     */
    public void recordChangesIn(io.zstate.pagestore.delta.DeltaLog log) {
        this.deltas = log;
    }

    /**
     * Writes a table's dirty cached entries into the pages before a walk reads them (failing the
     * store if that fails); a walk from inside a walk is refused by the walk itself.
     */
    private void flushEntries(int table) {
        if (entries == null || visiting || entries.dirtyEntries(table) == 0) {
            return;
        }
        try {
            entries.flush(table);
        } catch (RuntimeException | Error e) {
            throw fail(e, "writing cached entries into the pages of table " + index.tableName(table));
        }
    }

    /** Where the entry cache writes a dirty entry back: the pages (the change was logged when it was made). */
    private void writeBack(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, byte[] value,
            int valueOffset, int valueLength) {
        index.put(table, keyGroup, key, keyOffset, keyLength, keyLength, value, valueOffset, valueLength);
    }

    /**
     * Whether point accesses go through the entry cache; creates it at the first such access
     * (a store of map entries only never has one), taking its heap from the page cache: the pages
     * then keep what is left of the page cache's heap.
     */
    private boolean entryCache() {
        if (entries != null) {
            return true;
        }
        if (entryCacheBytes == 0 || visiting) {
            return false;
        }
        long bytes = entryCacheStart();
        limitPagesBeside(bytes);
        entries = new EntryCache(bytes, this::writeBack, entryCacheWindow);
        return true;
    }

    /**
     * Whether a whole-prefix point access goes through the entry cache (made at the first): not
     * while it sleeps, but for one access in {@link EntryCache#sampleEvery} that it is shown
     * ({@link EntryCache#sample}), and that goes through it if it woke.
     */
    private boolean entryCacheFor(int table, byte[] key, int keyOffset, int keyLength) {
        if (!entryCache()) {
            return false;
        }
        if (!entries.isDormant()) {
            return true;
        }
        if (--dormantCountdown > 0 || visiting) {
            return false;
        }
        dormantCountdown = entries.sampleEvery();
        return entries.sample(table, key, keyOffset, keyLength);
    }

    /** Point accesses until a dormant entry cache is shown the next. */
    private int dormantCountdown;

    /** Resizes the entry cache if it asked, which may put it to sleep; whether it is still awake. */
    private boolean entriesAwakeAfterResizing() {
        resizeEntriesIfAsked();
        return !entries.isDormant();
    }

    /** Resizes the entry cache if its last window asked (never inside a walk). */
    private void resizeEntriesIfAsked() {
        if (entries != null && entries.sizeWish() != 0 && !visiting) {
            resizeEntries();
        }
    }

    /**
     * Gives the entry cache twice its memory (up to {@code entryCacheBytes}) or half (down to its
     * start) when it asks ({@link EntryCache#sizeWish}), taking the pages' share from the page
     * cache or giving it back: the two always share the page cache's heap. Called before an
     * access, never inside a walk.
     */
    private void resizeEntries() {
        long now = entries.bytes();
        long target = entries.sizeWish() > 0 ? Math.min(entryCacheBytes, 2 * now) : Math.max(entryCacheStart(), now / 2);
        try {
            if (target > now) {
                limitPagesBeside(target);
                entries.resize(target);
            } else if (target < now) {
                entries.resize(target);
                limitPagesBeside(entries.bytes());
            } else if (entries.sizeWish() < 0) {
                entries.sleep(); // at its least and paying for nothing: passed by but for samples
            } else {
                entries.keepSize(); // at its bound
            }
        } catch (RuntimeException | Error e) {
            throw fail(e, "resizing the entry cache from " + now + " to " + target + " bytes");
        }
    }

    /** The entry cache's first and least size: a 64th of its most, at least {@link EntryCache#MIN_BYTES}. */
    private long entryCacheStart() {
        return Math.min(entryCacheBytes, Math.max(EntryCache.MIN_BYTES, entryCacheBytes / 64));
    }

    /**
     * Limits the page cache to what is left of its slots beside an entry cache of {@code
     * entryBytes} and the write buffer as it is now (checkInvariants checks the same sum).
     */
    private void limitPagesBeside(long entryBytes) {
        pager.limitCache(pageCacheSlots - index.writeBufferPages() - pager.pagesFor(entryBytes));
    }

    /** A walk of the index that hands entries to a visitor. */
    private interface Walk {
        void run(EntryVisitor visitor);
    }

    /**
     * Runs a walk with the iteration guard: no walk or write from inside it, the visitor's own
     * exceptions passed through, any other failing the store ({@code doing} + the table's name).
     */
    private void walk(int table, String doing, EntryVisitor visitor, Walk walk) {
        if (visiting) {
            throw new IllegalStateException("the page store cannot iterate from inside an iteration");
        }
        visiting = true;
        guarded.visitor = visitor;
        try {
            walk.run(guarded);
        } catch (VisitorException e) {
            throw e.rethrow();
        } catch (RuntimeException | Error e) {
            throw fail(e, doing + index.tableName(table));
        } finally {
            visiting = false;
            guarded.visitor = null;
        }
    }

    /**
     * Tells the visitor's own exceptions from the store's: a visitor that throws leaves the store
     * as it was (it only reads), so its exception passes through without failing the store.
     */
    private static final class GuardedVisitor implements EntryVisitor {
        EntryVisitor visitor;

        @Override
        public void visit(byte[] key, int keyOffset, int keyLength, byte[] value, int valueOffset, int valueLength) {
            try {
                visitor.visit(key, keyOffset, keyLength, value, valueOffset, valueLength);
            } catch (RuntimeException | Error e) {
                throw new VisitorException(e);
            }
        }
    }

    private static final class VisitorException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        VisitorException(Throwable cause) {
            super(cause);
        }

        /** Rethrows the visitor's own exception or error. */
        RuntimeException rethrow() {
            Throwable cause = getCause();
            if (cause instanceof Error) {
                throw (Error) cause;
            }
            return (RuntimeException) cause;
        }
    }

    // ==== snapshots ================================================================================

    /**
     * Freezes the store for a snapshot, copying nothing of the state: the directories are shared
     * (copied by their next change) and a snapshot epoch opens; from then on, a page the task changes or
     * frees while the snapshot still needs it is saved first (its pool object pinned, its RocksDB
     * record kept by a view, a dirty cached page compressed into a pinned copy). The write
     * buffer's waiting writes stay waiting: the view takes a copy of the log's and a RocksDB view
     * of those in RocksDB, lays them over each bucket's entries in its batches, and hands them out
     * beside its page images ({@link FrozenView#forEachWaitingWrite}), so a freeze faults no page
     * for them. The returned view reads from another thread while this store goes on, taking this
     * store's lock (this object) for each page it copies out; pages are decoded outside the lock.
     * Close it when done: its pins are freed then. It outlives {@link #close()}: the store's
     * memory is released when the last view closes.
     */
    public FrozenView freeze() {
        checkUsable();
        try {
            if (entries != null) {
                entries.flush(-1); // the snapshot reads the pages: every cached write is in them first
            }
            // the entries' write-backs included
            io.zstate.pagestore.index.FrozenWaitingWrites waiting = index.freezeWaitingWrites();
            try {
                int[][][] directories = index.freezeDirectories();
                io.zstate.pagestore.tier.FrozenPages pages = pager.freeze(this);
                try {
                    return new PinnedFrozenView(firstKeyGroup, directories, pages, waiting);
                } catch (RuntimeException | Error e) {
                    pages.close(); // an epoch nobody owns would pin every change from now on
                    throw e;
                }
            } catch (RuntimeException | Error e) {
                waiting.close();
                throw e;
            }
        } catch (RuntimeException | Error e) {
            throw fail(e, "freezing the store for a snapshot");
        }
    }

    /**
     * Places one key-group of a table from a checkpoint's {@link
     * io.zstate.pagestore.snapshot.PageImage}: its stored pages go into the pool as they are (or
     * RocksDB when the pool is full), under the ids they refer to each other by, and its directory
     * is installed; no entry is decoded or re-put. Only into a store that allocated no page yet
     * (a restore's first base), with the page size and the table's hash seed the image was
     * written with; call {@link #finishPlacing} before any other write.
     *
     * @throws java.io.IOException if the image is corrupt (the store then fails)
     */
    public void placePages(int table, int keyGroup, java.io.DataInput in, String where) throws java.io.IOException {
        checkMutable(table, keyGroup);
        try {
            io.zstate.pagestore.snapshot.PageImage.read(in, new io.zstate.pagestore.snapshot.PageImage.Placement() {
                @Override
                public void page(int pageId, int depth, byte[] stored, int offset, int length) {
                    pager.place(pageId, depth, stored, offset, length);
                }

                @Override
                public void same(int pageId, int depth, long word) {
                    pager.placeSame(pageId, depth, word);
                }

                @Override
                public void directory(int[] heads, long mapIndexes) {
                    index.placeDirectory(table, keyGroup, heads, mapIndexes);
                }
            }, where);
        } catch (java.io.IOException e) {
            fail(e, "placing pages from " + where);
            throw e;
        } catch (RuntimeException | Error e) {
            throw fail(e, "placing pages from " + where);
        }
    }

    /**
     * Visits the entries of a checkpoint's page image (where its pages cannot be placed: see
     * {@link #placePages}), decoding its pages on the heap; {@code where} names it in errors.
     *
     * @throws java.io.IOException if the image is corrupt
     */
    public static void forEachEntryInImage(java.io.DataInput in, int pageSize, EntryVisitor visitor, String where)
            throws java.io.IOException {
        io.zstate.pagestore.snapshot.PageImage.forEachEntry(in, pageSize, visitor, where);
    }

    /** Placing pages is done ({@link #placePages}): the ids between them are free for new pages. */
    public void finishPlacing() {
        checkUsable();
        pager.finishPlacing();
    }

    /** Whether pages from a checkpoint can be placed into this store: it never allocated one. */
    public boolean canPlacePages() {
        checkUsable();
        return pager.canPlace() && (entries == null || entries.cachedEntries() == 0) && index.waitingWrites() == 0;
    }

    /** The store's page size (a page image places only into a store of the same). */
    public int pageSize() {
        return pager.pageSize();
    }

    /**
     * Moves the pool's objects into fewer frames (pinned copies included) and releases the frames
     * emptied; returns how many.
     */
    public int compactPool() {
        checkUsable();
        try {
            return pager.compactPool();
        } catch (RuntimeException | Error e) {
            throw fail(e, "compacting the pool");
        }
    }

    // ==== background cleaning (the reaper's thread compresses) ======================================

    /**
     * Hands compression to a background reaper: {@code wanted} is called, under this store's lock,
     * when evictions submitted pages to the returned ring, which the reaper compresses without
     * the lock ({@link Reaper}).
     */
    public io.zstate.pagestore.tier.CleaningRing cleanInBackground(Runnable wanted) {
        checkUsable();
        return pager.cleanInBackground(wanted);
    }

    /**
     * What an eviction does with a reaper, as a step of its own (tests): copies the next dirty
     * victims of the page cache into the ring; returns how many (0 when closed or failed).
     */
    public int submitForCleaning() {
        if (closed || failure != null) {
            return 0;
        }
        try {
            return pager.submitForCleaning();
        } catch (RuntimeException | Error e) {
            throw fail(e, "submitting dirty pages to the background reaper");
        }
    }

    /** What the reaper's thread does, as a step of its own (tests): compresses what was submitted. */
    public int compressForCleaning() {
        return closed ? 0 : pager.cleaningRing().compressSubmitted();
    }

    /**
     * What an eviction does with a reaper, as a step of its own (tests): stores the compressed
     * pages that did not change meanwhile and marks their cache slots clean; returns how many.
     */
    public int installCleaned() {
        if (closed || failure != null) {
            return 0;
        }
        try {
            return pager.installCleaned();
        } catch (RuntimeException | Error e) {
            throw fail(e, "storing pages compressed by the background reaper");
        }
    }

    // ==== background writeback (the reaper's thread writes pool pages back to RocksDB) ================

    /**
     * Hands writeback to a background reaper: {@code wanted} is called, under this store's lock,
     * when an eviction isolated the pool's coldest frames into the returned batch, which the
     * reaper commits to RocksDB without the lock ({@link Reaper}); a later eviction completes it.
     */
    public io.zstate.pagestore.tier.WritebackBatch writeBackInBackground(Runnable wanted) {
        checkUsable();
        return pager.writeBackInBackground(wanted);
    }

    /**
     * What an eviction under the low mark does with a reaper, as a step of its own (tests): the
     * pool isolates its coldest frames, at least {@code maxFrames}, and their pages are copied into
     * the batch; returns how many (0 when closed, failed, or a batch is on its way).
     */
    public int isolateForWriteback(int maxFrames) {
        if (closed || failure != null) {
            return 0;
        }
        try {
            return pager.isolateForWriteback(maxFrames);
        } catch (RuntimeException | Error e) {
            throw fail(e, "isolating pool frames for the background reaper's writeback");
        }
    }

    /** What the reaper's thread does, as a step of its own (tests): commits the batch; returns its pages. */
    public int commitWriteback() {
        return closed ? 0 : pager.writebackBatch().commitIfCopied();
    }

    /**
     * What an eviction does with a reaper, as a step of its own (tests): completes a committed
     * writeback (the pages still as copied are in RocksDB now, their frames free) or, if the
     * reaper has not committed it, commits it first.
     */
    public void completeWriteback() {
        if (closed || failure != null) {
            return;
        }
        try {
            pager.finishWriteback();
        } catch (RuntimeException | Error e) {
            throw fail(e, "completing the background reaper's writeback");
        }
    }

    // ==== one pool per slot (the slot's reaper balances the pools) ==================================

    /** The slot's reaper may take this store's lock: every call must hold it (checked by an assertion). */
    private boolean sharedWithSlot;

    /**
     * Lets the slot's reaper balance this store's pool with the other pools of its slot: {@code
     * wanted} is called (under this store's lock) whenever the pool is refused a frame because the
     * others hold the rest, and the reaper may call {@link #reclaimForSlot} from its own thread from
     * now on. Call under the lock, once the store is ready for use (after its restore).
     */
    public void shareWithSlot(Runnable wanted) {
        checkUsable();
        sharedWithSlot = true;
        pager.whenSlotShort(wanted);
    }

    /**
     * For the slot's reaper, from its own thread: takes this store's lock and writes back the
     * pool's coldest frames, at least {@code maxFrames} if it has them, for a hotter pool of the slot.
     * Returns the frames released; 0 if the store is closed or failed. A failure marks the store
     * failed (its task then fails on its next call) and is rethrown.
     */
    public int reclaimForSlot(int maxFrames) {
        synchronized (this) {
            if (closed || failure != null) {
                return 0;
            }
            try {
                return pager.reclaimForSlot(maxFrames);
            } catch (RuntimeException | Error e) {
                throw fail(e, "writing back pool pages for another keyed backend of the slot");
            }
        }
    }

    /** Pages faulted in and dirty pages stored so far: the pool's demand (the reaper's sample; read without the lock). */
    public long poolDemand() {
        return pager.poolDemand();
    }

    /** Whether the store was closed (the reaper forgets it). */
    public boolean isClosed() {
        return closed;
    }

    // ==== failure ==================================================================================

    /** Whether an earlier failure left the store unusable. */
    public boolean isFailed() {
        return failure != null;
    }

    private RuntimeException fail(Throwable cause, String doing) {
        if (failure == null) {
            failure = new PageStoreFailedException("The zstate page store failed while " + doing + " ("
                    + cause + "); it may be half-changed and serves nothing more: the task must restore from"
                    + " its last checkpoint.", cause);
        }
        if (cause instanceof Error) {
            throw (Error) cause;
        }
        return failure;
    }

    /** A key's range and prefix, checked before anything is touched (an argument error). */
    private void checkKey(byte[] key, int keyOffset, int keyLength, int prefixLength) {
        Objects.checkFromIndexSize(keyOffset, keyLength, key.length);
        index.checkKey(keyLength, prefixLength);
    }

    private void checkUsable() {
        if (failure != null) {
            throw new PageStoreFailedException(failure.getMessage(), failure.getCause());
        }
        if (closed) {
            throw new IllegalStateException("the page store is closed");
        }
        assert !(sharedWithSlot || pager.hasOpenSnapshots()) || Thread.holdsLock(this)
                : "the page store is used without its lock while another thread may use it (a frozen view, or"
                        + " the slot's reaper): every call must hold the store's monitor (synchronized (store))";
    }

    private void checkMutable(int table, int keyGroup) {
        checkUsable();
        if (visiting) {
            throw new IllegalStateException("the page store cannot be modified from inside an iteration");
        }
        index.check(table, keyGroup);
    }

    // ==== observability, checks, lifecycle ========================================================

    /** Pool copies of live pages stored with {@code codec} ({@code StoredPage}'s byte): for tests. */
    public long poolCopiesWith(byte codec) {
        return pager.poolCopiesWith(codec);
    }

    /** Current RocksDB copies of live pages stored with {@code codec} ({@code StoredPage}'s byte): for tests. */
    public long spilledCopiesWith(byte codec) {
        return pager.spilledCopiesWith(codec);
    }

    /** The store's zstd dictionary (page-compression zstd), or null: for tests and tools. */
    public io.zstate.pagestore.tier.PageDictionary dictionary() {
        return pager.dictionary();
    }

    /** The pool's zsmalloc chain size (the most frames a span holds); 0 for other allocators. */
    public int poolChainSize() {
        return pager.poolChainSize();
    }

    public PageStoreStats stats() {
        if (closed) {
            // metrics may ask after the backend is disposed; RocksDB is closed by then, and
            // asking it a property on a closed handle crashes the JVM (it did, in a TaskManager)
            return finalStats;
        }
        return withEntryCache(withIndex(pager.stats(true), index));
    }

    private static PageStoreStats withIndex(PageStoreStats stats, BucketIndex index) {
        return stats.withIndex(index.mapIndexes(), index.bufferedWrites(), index.bufferApplications(),
                index.waitingWrites(), index.writesToRocksDb(), index.writeMergesToRocksDb(), index.warmPageWrites());
    }

    private PageStoreStats withEntryCache(PageStoreStats stats) {
        return entries == null ? stats
                : stats.withEntryCache(entries.hits(), entries.misses(), entries.writeBacks(), entries.cachedEntries(),
                        entries.admissions(), entries.sleeps(), entries.wakes());
    }

    /**
     * Heap bytes of the page cache (pages allocated so far), page table, directories and pool
     * metadata: what the store costs on heap.
     */
    public long heapBytes() {
        return pager.heapBytes() + index.heapBytes() + (entries == null ? 0 : entries.heapBytes());
    }

    /** Maps large enough to live in a map index of their own. */
    public long mapIndexes() {
        return index.mapIndexes();
    }

    /** Page-cache pages the write buffer takes now (it grows while it pays); 0 without one. */
    int writeBufferPagesNow() {
        return index.writeBufferPages();
    }

    /** The entry cache's size now (it {@linkplain #resizeEntries resizes}); 0 if there is none (yet). */
    long entryCacheBytesNow() {
        return entries == null ? 0 : entries.bytes();
    }

    /** Off-heap bytes the pool's frames hold. */
    public long offHeapBytes() {
        return pager.offHeapBytes();
    }

    /** Memory RocksDB spends on the spill store: memtables and block cache in use. */
    public long spillMemoryBytes() {
        return pager.spillMemoryBytes();
    }

    /** Bytes of spilled pages on disk (SST files). */
    public long spillDiskBytes() {
        return pager.spillDiskBytes();
    }

    /**
     * Checks that every page is in exactly one authoritative place, the cache and page table agree,
     * every directory entry reaches a live bucket, and the pool's own invariants hold.
     */
    public void checkInvariants() {
        pager.checkInvariants();
        index.checkInvariants();
        long entryBytes = 0;
        if (entries != null) {
            entries.checkInvariants();
            entryBytes = entries.bytes();
        }
        if (pager.cacheLimit() + pager.pagesFor(entryBytes) + index.writeBufferPages() != pageCacheSlots) {
            throw new IllegalStateException("the page cache's limit (" + pager.cacheLimit() + " pages), the entry"
                    + " cache's " + entryBytes + " bytes and the write buffer's " + index.writeBufferPages()
                    + " pages do not add up to the page cache's " + pageCacheSlots + " pages");
        }
    }

    /**
     * Releases every off-heap byte and deletes the RocksDB spill directory, whatever state the
     * store is in (failed included); idempotent. If a step throws, the others still run and the
     * first failure is rethrown.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            finalStats = withEntryCache(withIndex(pager.stats(failure == null), index));
        } catch (RuntimeException e) {
            finalStats = withIndex(pager.stats(false), index); // RocksDB would not answer: its sizes read 0
        } finally {
            pager.close();
        }
    }

    /** Frames the pool still holds from its source; 0 after close. */
    public int framesInUse() {
        return pager.framesInUse();
    }

    /** Off-heap arenas still allocated by this store's pool (0 once closed); for leak checks. */
    public int liveArenas() {
        return pager.liveArenas();
    }

    public java.nio.file.Path spillDirectory() {
        return pager.spillDirectory();
    }

    /**
     * Whether frozen views (snapshots still being written) read this store: its memory, spill
     * store and directory then stay until the last view closes, even after {@link #close()}.
     */
    public boolean hasOpenSnapshots() {
        return pager.hasOpenSnapshots();
    }

    /**
     * Runs {@code action} once the store's memory is released: at {@link #close()}, or when the
     * last frozen view open then closes (on that view's thread, under this store's lock).
     */
    public void whenReleased(Runnable action) {
        pager.whenReleased(action);
    }
}

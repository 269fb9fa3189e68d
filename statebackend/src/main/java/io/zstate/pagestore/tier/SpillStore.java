package io.zstate.pagestore.tier;

import io.zstate.pagestore.Faults;
import io.zstate.pagestore.layout.StoredPage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.util.FileUtils;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.CompressionType;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteOptions;

/**
 * RocksDB as the swap device: stored pages keyed by page id ({@link StoredPage}: key = page id,
 * value = codec | bytes). It is a cache of this process, not a durable store: no WAL, RocksDB's
 * own compression off (pages arrive compressed), and the directory is deleted on {@link
 * #close()}.
 *
 * <p>Writes are either single puts or a write batch ({@link #beginBatch()} ... {@link
 * #commitBatch()}, or {@link #discardBatch()}): the reaper writes a reclaim's pages in one batch
 * and commits it before the pool frees them. Every RocksDB error is thrown as an
 * IllegalStateException that says what was being done; the page store then fails.
 *
 * <p>Pinned copies ({@link #putPin}): a page as an open snapshot still needs it, after the pool
 * wrote it back or when it had no room for it, under an 8-byte key of its own (pages have 4-byte
 * keys, so the two never meet). Waiting writes ({@link #mergeWrites}): records the index's write
 * buffer sends here for a bucket whose head page is here too, under a 5-byte key (the page id and
 * {@link #WRITES_KEY_MARK}) as merge operands that RocksDB concatenates (its string-append merge
 * operator with an empty delimiter): a write that reads nothing, as RocksDB's own. Views ({@link #sharedView()}) keep the records of one instant for
 * snapshots: a page modified or freed while a snapshot needs its spilled copy keeps that copy
 * through a view, shared by every pin taken before the next write.
 *
 * <p>Uses the RocksDB JNI that Flink's RocksDB state backend ships ({@code frocksdbjni}). Owns
 * its RocksDB instance and directory and nothing else; the {@link Pager} is its only writer.
 * Every call comes under the store's lock (lock 1 of the backend's order, see the pager), the
 * snapshot thread's reads and releases included, but the background reaper's writeback ({@link
 * #putInto}, {@link #writeFromReaper}: its own write batch, under the {@link WritebackBatch}'s
 * monitor, which the pager's close takes before closing this store); view creation, release, close and the size
 * properties also synchronize on this object (lock 2).
 */
final class SpillStore implements AutoCloseable {

    static {
        RocksDB.loadLibrary();
    }

    private final Path directory;
    /** The block cache of a store of its own, or the slot's cache its memtables are counted in. */
    private final org.rocksdb.Cache blockCache;
    /** Whether {@link #blockCache} is this store's to close. */
    private final boolean ownsCache;
    private final Options options;
    /** Concatenates the merge operands of a page's waiting writes, in the order they came. */
    private final org.rocksdb.StringAppendOperator appendOperator;
    /**
     * Bloom filters over the page ids of each SST file (10 bits a page, in the table readers'
     * memory, counted in the spill memory): a fault reads only the file that holds its page,
     * not every L0 file and level it could be in.
     */
    private final org.rocksdb.Filter filter;
    private final WriteOptions writeOptions;
    private final ReadOptions readOptions;
    private final RocksDB db;
    private final byte[] key = new byte[8];
    /** The fifth byte of a page's waiting-writes key (pages have 4-byte keys, pins 8-byte ones). */
    static final byte WRITES_KEY_MARK = 'W';
    private final org.rocksdb.WriteBatch batch;
    /** The merges of waiting writes since the last {@link #commitWrites()}. */
    private final org.rocksdb.WriteBatch writesBatch;
    private final Faults faults;
    private boolean batching;
    private boolean closed;

    /**
     * Opens an empty store in a new directory under {@code parent}, its memory from {@code slot}
     * (memtables counted by the slot's write-buffer manager, no block cache) or, if that is null,
     * a block cache and memtables of its own.
     *
     * @param blockCacheBytes RocksDB block cache for spilled pages (without a slot)
     * @param writeBufferBytes RocksDB memtable size (without a slot; with one, the slot sizes them)
     */
    SpillStore(Path parent, long blockCacheBytes, long writeBufferBytes, io.zstate.pagestore.SlotMemory slot,
            Faults faults) {
        this.faults = faults;
        try {
            Files.createDirectories(parent);
            this.directory = Files.createTempDirectory(parent, "zstate-spill-");
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot create the spill directory under " + parent + ": check the path and its permissions", e);
        }
        this.batch = new org.rocksdb.WriteBatch(); // after the directory: nothing native leaks if that fails
        this.writesBatch = new org.rocksdb.WriteBatch();
        this.ownsCache = slot == null;
        this.blockCache = slot == null ? new LRUCache(blockCacheBytes) : slot.spillCache();
        this.filter = new org.rocksdb.BloomFilter(10, false);
        this.appendOperator = new org.rocksdb.StringAppendOperator("");
        BlockBasedTableConfig table = new BlockBasedTableConfig().setBlockCache(blockCache).setFilterPolicy(filter);
        this.options = new Options()
                .setCreateIfMissing(true)
                .setCompressionType(CompressionType.NO_COMPRESSION)
                .setMaxWriteBufferNumber(2)
                // a fault reads its page from the mapped SST file: no read call, no copy into a buffer
                .setAllowMmapReads(true)
                .setMergeOperator(appendOperator)
                .setTableFormatConfig(table);
        if (slot == null) {
            options.setWriteBufferSize(writeBufferBytes);
        } else {
            // the slot's share goes to memtables (charged to the slot's accounting cache by the
            // write-buffer manager), not to a block cache: a page read from here goes into the
            // page cache, and its compressed copy was the pool's to keep; measured in the state
            // suite's spill regime, writes gained and reads held (design.md, Memory)
            table.setNoBlockCache(true);
            options.setWriteBufferManager(slot.spillWriteBuffers())
                    .setWriteBufferSize(slot.memtableBytes())
                    .setTableFormatConfig(table);
        }
        this.writeOptions = new WriteOptions().setDisableWAL(true);
        this.readOptions = new ReadOptions();
        try {
            this.db = RocksDB.open(options, directory.toString());
        } catch (RocksDBException e) {
            close();
            throw new IllegalStateException("cannot open the RocksDB spill store in " + directory, e);
        }
    }

    /**
     * Stores a value under {@code pageId}: {@code length} bytes from {@code offset}, the first of
     * them the codec byte.
     */
    void put(int pageId, byte[] value, int offset, int length) {
        put(key(pageId), 4, value, offset, length);
    }

    /**
     * Stores a pinned copy (a page as a snapshot still needs it) under its own 8-byte key, apart
     * from every page's 4-byte key: it is never overwritten, and is deleted when released.
     */
    void putPin(long pin, byte[] value, int offset, int length) {
        put(pinKey(pin), 8, value, offset, length);
    }

    private void put(byte[] key, int keyLength, byte[] value, int offset, int length) {
        StoredPage.codec(value, offset);
        current = null; // a view taken before this write does not see it
        try {
            if (faults.fail(Faults.Seam.SPILL_WRITE)) {
                throw new RocksDBException("injected write failure");
            }
            if (batching) {
                batch.put(java.util.Arrays.copyOf(key, keyLength), java.util.Arrays.copyOfRange(value, offset, offset + length));
            } else {
                db.put(writeOptions, key, 0, keyLength, value, offset, length);
            }
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while writing " + describe(key, keyLength, false)
                    + " to the RocksDB spill store.", e);
        }
    }

    /**
     * Collects the puts that follow into one RocksDB write batch, until {@link #commitBatch()}:
     * the reaper writes back a reclaim's pages in one write. No reads in between.
     */
    void beginBatch() {
        batching = true;
    }

    /** Writes the batched puts; if that fails, none of them is written. */
    void commitBatch() {
        batching = false;
        current = null;
        write(batch, "back pages"); // "Error while writing back pages to ..."
    }

    /** Writes a batch in one RocksDB write and clears it, written or not; {@code what} completes the error message. */
    private void write(org.rocksdb.WriteBatch writes, String what) {
        if (writes.count() == 0) {
            return;
        }
        current = null; // a view taken before this write does not see it
        writeLeavingViews(writes, what);
    }

    /** {@link #write}, leaving the shared view as it is (the caller's business). */
    private void writeLeavingViews(org.rocksdb.WriteBatch writes, String what) {
        try {
            if (faults.fail(Faults.Seam.SPILL_WRITE)) {
                throw new RocksDBException("injected write-batch failure");
            }
            db.write(writeOptions, writes);
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while writing " + what + " to the RocksDB spill store.", e);
        } finally {
            writes.clear();
        }
    }

    /**
     * Puts a stored page into a write batch of the background reaper's ({@link WritebackBatch}),
     * under the page's key: {@code length} bytes from {@code offset}, the codec byte first. Runs
     * on the reaper's thread without the store's lock, and touches nothing of this store's but the
     * faults.
     */
    void putInto(org.rocksdb.WriteBatch writes, int pageId, byte[] value, int offset, int length) {
        StoredPage.codec(value, offset);
        byte[] k = new byte[4];
        StoredPage.writePageId(k, 0, pageId);
        try {
            if (faults.fail(Faults.Seam.SPILL_WRITE)) {
                throw new RocksDBException("injected write failure");
            }
            writes.put(k, java.util.Arrays.copyOfRange(value, offset, offset + length));
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while writing " + describe(k, 4, false)
                    + " back to the RocksDB spill store.", e);
        }
    }

    /**
     * Writes the background reaper's batch in one RocksDB write and clears it, written or not.
     * Runs on the reaper's thread without the store's lock (RocksDB writes are thread-safe): it
     * leaves the shared view alone, and the task forgets it ({@link #forgetView}) when it
     * completes the writeback, before any page of the batch is said to be here.
     */
    void writeFromReaper(org.rocksdb.WriteBatch writes) {
        writeLeavingViews(writes, "back pages");
    }

    /** A view taken before now does not see what another thread wrote since ({@link #writeFromReaper}). */
    void forgetView() {
        current = null;
    }

    /** Drops the batched puts unwritten (a reclaim that failed before its commit). */
    void discardBatch() {
        batching = false;
        batch.clear();
    }

    /**
     * Reads the value of {@code pageId} into {@code dst}: codec byte first.
     *
     * @return the value's length, or -1 if there is none
     */
    int get(int pageId, byte[] dst) {
        return get(readOptions, key(pageId), 4, dst, false);
    }

    /**
     * Reads a pinned copy into {@code dst}; returns its length or -1. May run on a snapshot's
     * thread without the store's lock (RocksDB reads are thread-safe; the record stays until the
     * pin is released): {@code keyScratch} is that thread's own 8 bytes.
     */
    int getPin(long pin, byte[] keyScratch, byte[] dst) {
        writePinKey(keyScratch, pin);
        return get(readOptions, keyScratch, 8, dst, false);
    }

    /**
     * Appends {@code length} bytes to the waiting writes kept under {@code pageId} (a RocksDB
     * merge: nothing is read), in a write batch of their own until {@link #commitWrites()}, which a
     * read or delete of waiting writes does first.
     */
    void mergeWrites(int pageId, byte[] value, int offset, int length) {
        byte[] k = writesKey(key, pageId);
        try {
            if (faults.fail(Faults.Seam.SPILL_WRITE)) {
                throw new RocksDBException("injected merge failure");
            }
            writesBatch.merge(java.util.Arrays.copyOf(k, 5), java.util.Arrays.copyOfRange(value, offset, offset + length));
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while writing " + describe(k, 5, false)
                    + " to the RocksDB spill store.", e);
        }
    }

    /** Writes the merges of waiting writes made since the last commit, in one RocksDB write. */
    void commitWrites() {
        write(writesBatch, "waiting writes");
    }

    /**
     * Reads the waiting writes kept under {@code pageId} into {@code dst}: returns their length (if
     * it is larger than {@code dst}, only that much was read: ask again with room), or -1 if there
     * are none.
     */
    int getWrites(int pageId, byte[] dst) {
        commitWrites(); // what was merged since is read too
        return get(readOptions, writesKey(key, pageId), 5, dst, false);
    }

    /** Deletes the waiting writes kept under {@code pageId} (applied, or their table cleared). */
    void deleteWrites(int pageId) {
        commitWrites(); // a merge still in the batch would outlive the delete
        delete(writesKey(key, pageId), 5);
    }

    private int get(ReadOptions read, byte[] key, int keyLength, byte[] dst, boolean asSnapshotHoldsIt) {
        try {
            if (faults.fail(Faults.Seam.SPILL_READ)) {
                throw new RocksDBException("injected read failure");
            }
            int n = db.get(read, key, 0, keyLength, dst, 0, dst.length);
            if (n > dst.length && keyLength != 5) { // waiting writes may outgrow dst: the caller asks again
                throw new IllegalStateException(
                        "spilled " + describe(key, keyLength, asSnapshotHoldsIt) + " is " + n
                                + " bytes, larger than any page this store writes");
            }
            return n == RocksDB.NOT_FOUND ? -1 : n;
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while reading " + describe(key, keyLength, asSnapshotHoldsIt)
                    + " from the RocksDB spill store.", e);
        }
    }

    void delete(int pageId) {
        delete(key(pageId), 4);
    }

    void deletePin(long pin) {
        delete(pinKey(pin), 8);
    }

    private void delete(byte[] key, int keyLength) {
        current = null;
        try {
            if (faults.fail(Faults.Seam.SPILL_WRITE)) {
                throw new RocksDBException("injected delete failure");
            }
            db.delete(writeOptions, java.util.Arrays.copyOf(key, keyLength));
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while deleting " + describe(key, keyLength, false)
                    + " from the RocksDB spill store.", e);
        }
    }

    Path directory() {
        return directory;
    }

    /** The size of each of this store's memtables. */
    long memtableBytes() {
        return options.writeBufferSize();
    }

    /**
     * Memtables, table readers (index blocks) and block cache in use (with a slot's memory: the
     * whole slot's memtable accounting); 0 once closed (RocksDB must not be asked then).
     */
    synchronized long memoryBytes() {
        return closed ? 0 : property("rocksdb.cur-size-all-mem-tables") + property("rocksdb.estimate-table-readers-mem")
                + blockCache.getUsage();
    }

    /** SST files on disk; 0 once closed. */
    synchronized long diskBytes() {
        return closed ? 0 : property("rocksdb.total-sst-files-size");
    }

    private long property(String name) {
        try {
            return db.getLongProperty(name);
        } catch (RocksDBException e) {
            throw new IllegalStateException("cannot read RocksDB property " + name + " of the spill store", e);
        }
    }

    private byte[] key(int pageId) {
        StoredPage.writePageId(key, 0, pageId);
        return key;
    }

    /** Writes the key of a page's waiting writes into {@code key}, and returns it. */
    private static byte[] writesKey(byte[] key, int pageId) {
        StoredPage.writePageId(key, 0, pageId);
        key[4] = WRITES_KEY_MARK;
        return key;
    }

    private byte[] pinKey(long pin) {
        writePinKey(key, pin);
        return key;
    }

    /**
     * What a key names, for an error message (built only then: the put, get and delete paths
     * allocate nothing for it): "page N" for a 4-byte key, "the waiting writes of page N" for a
     * 5-byte one, "pinned copy N" for an 8-byte one.
     */
    private static String describe(byte[] key, int keyLength, boolean asSnapshotHoldsIt) {
        if (keyLength == 4) {
            return "page " + StoredPage.pageId(key) + (asSnapshotHoldsIt ? " (as a snapshot holds it)" : "");
        }
        if (keyLength == 5) {
            return "the waiting writes of page " + StoredPage.pageId(key);
        }
        long pin = 0;
        for (int i = 0; i < 8; i++) {
            pin = pin << 8 | (key[i] & 0xff);
        }
        return "pinned copy " + pin;
    }

    private static void writePinKey(byte[] key, long pin) {
        for (int i = 0; i < 8; i++) {
            key[i] = (byte) (pin >>> (56 - 8 * i));
        }
    }

    /**
     * A point-in-time view of the pages' records (a RocksDB snapshot), shared by the pinned copies
     * that refer to it: each holds a reference ({@link #sharedView()}, {@link #close()}), and the
     * last one releases it. The store's RocksDB stays open until every view is released.
     */
    final class View implements AutoCloseable {
        private final org.rocksdb.Snapshot snapshot;
        private final ReadOptions options;
        private int references = 1;

        private View() {
            this.snapshot = db.getSnapshot();
            this.options = new ReadOptions().setSnapshot(snapshot);
        }

        /**
         * Reads a page's value as of the view into {@code dst}; returns its length or -1. May run
         * without the store's lock while the reader holds a reference: {@code keyScratch} is the
         * reading thread's own 4 bytes or more.
         */
        int get(int pageId, byte[] keyScratch, byte[] dst) {
            StoredPage.writePageId(keyScratch, 0, pageId);
            return SpillStore.this.get(options, keyScratch, 4, dst, true);
        }

        /**
         * Reads the waiting writes kept under a page id as of the view into {@code dst}: their
         * length (larger than {@code dst} if it had too little room: ask again), or -1. May run
         * without the store's lock while the reader holds a reference: {@code keyScratch} is the
         * reading thread's own 5 bytes or more.
         */
        int getWrites(int pageId, byte[] keyScratch, byte[] dst) {
            return SpillStore.this.get(options, writesKey(keyScratch, pageId), 5, dst, true);
        }

        /** Drops one reference; the last releases the RocksDB snapshot (and a closed store). */
        @Override
        public void close() {
            synchronized (SpillStore.this) {
                if (references == 0) {
                    return;
                }
                if (--references > 0) {
                    return;
                }
                if (current == this) {
                    current = null;
                }
                db.releaseSnapshot(snapshot);
                options.close();
                openViews--;
                if (closed && openViews == 0) {
                    release();
                }
            }
        }
    }

    private int openViews;
    /** The newest view, while no write has come since: what the next {@link #sharedView()} shares. */
    private View current;

    /**
     * A reference to a view of the records as they are now: the current one if nothing was
     * written since it was taken (views are cheap, but one per pinned page would add up), else a
     * new one. Drop the reference with {@link View#close()}.
     */
    synchronized View sharedView() {
        if (closed) {
            throw new IllegalStateException("the spill store is closed");
        }
        if (current != null) {
            current.references++;
            return current;
        }
        current = new View();
        openViews++;
        return current;
    }

    /**
     * Closes RocksDB and deletes its directory; if snapshot views are still open, the last one to
     * close does it.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (openViews == 0) {
            release();
        }
    }

    /** Closes every RocksDB object and deletes the directory, each even if an earlier step threw. */
    private void release() {
        Pager.closeAll("the spill store", batch, writesBatch, () -> {
            if (db != null) {
                db.close();
            }
        }, readOptions, writeOptions, options, appendOperator, filter, () -> {
            if (ownsCache) {
                blockCache.close();
            }
        }, () -> deleteRecursively(directory));
    }

    static void deleteRecursively(Path dir) {
        try {
            FileUtils.deleteDirectory(dir.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the spill directory " + dir, e);
        }
    }
}

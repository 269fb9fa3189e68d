package io.zstate.pagestore;

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
 * RocksDB as the swap device: compressed page bytes keyed by page id. It is a cache of this
 * process, not a durable store: no WAL, RocksDB's own compression off (pages arrive compressed),
 * and the directory is deleted on {@link #close()}.
 *
 * <pre>
 *   key   : page id, 4 bytes big-endian
 *   value : codec byte (RAW = stored uncompressed by the bouncer, LZ4) | page bytes
 * </pre>
 *
 * Uses the RocksDB JNI that Flink's RocksDB state backend ships ({@code frocksdbjni}).
 */
final class SpillStore implements AutoCloseable {

    static final byte RAW = 0;
    static final byte LZ4 = 1;

    static {
        RocksDB.loadLibrary();
    }

    private final Path directory;
    private final LRUCache blockCache;
    private final Options options;
    private final WriteOptions writeOptions;
    private final ReadOptions readOptions;
    private final RocksDB db;
    private final byte[] key = new byte[4];
    private final org.rocksdb.WriteBatch batch = new org.rocksdb.WriteBatch();
    private boolean batching;
    private boolean closed;

    /**
     * Opens an empty store in a new directory under {@code parent}.
     *
     * @param blockCacheBytes RocksDB block cache for spilled pages
     * @param writeBufferBytes RocksDB memtable size
     */
    SpillStore(Path parent, long blockCacheBytes, long writeBufferBytes) {
        try {
            Files.createDirectories(parent);
            this.directory = Files.createTempDirectory(parent, "zstate-spill-");
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot create the spill directory under " + parent + ": check the path and its permissions", e);
        }
        this.blockCache = new LRUCache(blockCacheBytes);
        BlockBasedTableConfig table = new BlockBasedTableConfig().setBlockCache(blockCache);
        this.options = new Options()
                .setCreateIfMissing(true)
                .setCompressionType(CompressionType.NO_COMPRESSION)
                .setWriteBufferSize(writeBufferBytes)
                .setMaxWriteBufferNumber(2)
                .setTableFormatConfig(table);
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
     * them the codec byte ({@link #RAW} or {@link #LZ4}).
     */
    void put(int pageId, byte[] value, int offset, int length) {
        assert value[offset] == RAW || value[offset] == LZ4;
        try {
            if (batching) {
                batch.put(key(pageId).clone(), java.util.Arrays.copyOfRange(value, offset, offset + length));
            } else {
                db.put(writeOptions, key(pageId), 0, 4, value, offset, length);
            }
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while writing page " + pageId + " to the RocksDB spill store.", e);
        }
    }

    /**
     * Collects the puts that follow into one RocksDB write batch, until {@link #commitBatch()}:
     * the reaper writes back a reclaim's pages in one write. No reads in between.
     */
    void beginBatch() {
        batching = true;
    }

    /** Writes the batched puts. */
    void commitBatch() {
        batching = false;
        if (batch.count() == 0) {
            return;
        }
        try {
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while writing back pages to the RocksDB spill store.", e);
        } finally {
            batch.clear();
        }
    }

    /**
     * Reads the value of {@code pageId} into {@code dst}: codec byte first.
     *
     * @return the value's length, or -1 if there is none
     */
    int get(int pageId, byte[] dst) {
        try {
            int n = db.get(readOptions, key(pageId), 0, 4, dst, 0, dst.length);
            if (n > dst.length) {
                throw new IllegalStateException(
                        "spilled page " + pageId + " is " + n + " bytes, larger than any page this store writes");
            }
            return n == RocksDB.NOT_FOUND ? -1 : n;
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while reading page " + pageId + " from the RocksDB spill store.", e);
        }
    }

    void delete(int pageId) {
        try {
            db.delete(writeOptions, key(pageId));
        } catch (RocksDBException e) {
            throw new IllegalStateException("Error while deleting page " + pageId + " from the RocksDB spill store.", e);
        }
    }

    Path directory() {
        return directory;
    }

    /** Memtables and block cache in use; 0 once closed (RocksDB must not be asked then). */
    synchronized long memoryBytes() {
        return closed ? 0 : property("rocksdb.cur-size-all-mem-tables") + blockCache.getUsage();
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
        key[0] = (byte) (pageId >>> 24);
        key[1] = (byte) (pageId >>> 16);
        key[2] = (byte) (pageId >>> 8);
        key[3] = (byte) pageId;
        return key;
    }

    /**
     * A point-in-time view for a snapshot's asynchronous part, readable from another thread while
     * the store goes on. The store's RocksDB stays open until every view is closed.
     */
    final class View implements AutoCloseable {
        private final org.rocksdb.Snapshot snapshot;
        private final ReadOptions options;
        private final byte[] viewKey = new byte[4];
        private boolean released;

        private View() {
            this.snapshot = db.getSnapshot();
            this.options = new ReadOptions().setSnapshot(snapshot);
        }

        /** Reads a page's value as of the view into {@code dst}; returns its length or -1. */
        int get(int pageId, byte[] dst) {
            viewKey[0] = (byte) (pageId >>> 24);
            viewKey[1] = (byte) (pageId >>> 16);
            viewKey[2] = (byte) (pageId >>> 8);
            viewKey[3] = (byte) pageId;
            try {
                int n = db.get(options, viewKey, 0, 4, dst, 0, dst.length);
                return n == RocksDB.NOT_FOUND ? -1 : n;
            } catch (RocksDBException e) {
                throw new IllegalStateException("Error while reading page " + pageId + " for a snapshot.", e);
            }
        }

        @Override
        public void close() {
            synchronized (SpillStore.this) {
                if (released) {
                    return;
                }
                released = true;
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

    /** A point-in-time view of the spilled pages; close it when done. */
    synchronized View view() {
        if (closed) {
            throw new IllegalStateException("the spill store is closed");
        }
        openViews++;
        return new View();
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

    private void release() {
        batch.close();
        if (db != null) {
            db.close();
        }
        readOptions.close();
        writeOptions.close();
        options.close();
        blockCache.close();
        deleteRecursively(directory);
    }

    static void deleteRecursively(Path dir) {
        try {
            FileUtils.deleteDirectory(dir.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the spill directory " + dir, e);
        }
    }
}

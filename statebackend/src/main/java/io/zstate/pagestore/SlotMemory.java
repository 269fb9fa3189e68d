package io.zstate.pagestore;

import io.zstate.allocator.ArenaFrames;
import io.zstate.allocator.MemoryBudget;
import java.util.function.IntFunction;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBufferManager;

/**
 * The memory of one Flink slot that every zstate keyed backend in it shares: the slot's managed
 * memory for zstate, split in two.
 *
 * <pre>
 *   managed memory of the slot (for zstate)
 *   +------------------------------------------------+------------------------+
 *   | pool: MemoryBudget the page stores' frame      | spill: the memtables   |
 *   | sources draw their arenas from                 | of every spill store,  |
 *   | (1 - spill fraction)                           | counted by one write-  |
 *   |                                                | buffer manager         |
 *   +------------------------------------------------+------------------------+
 * </pre>
 *
 * The pools draw their frames from one set of arena frames ({@link #frames}), so a frame one pool
 * gives up is the next frame any pool of the slot gets; the slot's {@link Reaper} takes frames
 * from the pool that uses its own least for the one the slot is short for (one view across the
 * slot's pools: design.md, "One pool per slot").
 *
 * <p>As Flink's RocksDB backend shares its memory across a slot's RocksDB instances, the slot's
 * spill stores share one write-buffer manager that counts their memtables in one cache and
 * flushes them as they pass two thirds of their share, whatever the number of stateful operators
 * (memtables being flushed stay counted: not a strict bound, see {@link #writeBufferManagerBytes}).
 * The spill stores read without a block cache (a page read back goes into the page cache, and the
 * pool already keeps the compressed pages worth keeping); the cache holds only the memtables'
 * accounting. Measured against a block cache holding half the share: design.md, Memory.
 *
 * <p>Thread-safe (the pool's budget is atomic; RocksDB's cache and manager are
 * thread-safe). Closed by the last backend of the slot to let go (Flink's shared resource), after
 * every spill store using it has closed.
 */
public final class SlotMemory implements AutoCloseable {

    static {
        RocksDB.loadLibrary();
    }

    /**
     * The smallest memtable budget the spill stores get, even when their share is smaller (a slot of
     * a few MiB): RocksDB needs a memtable's worth to work at all. Only then does zstate hold more
     * than its managed memory, by less than this.
     */
    public static final long MIN_SPILL_CACHE_BYTES = 1L << 20;

    private final MemoryBudget pool;
    private final long spillBytes;
    private final LRUCache cache;
    private final WriteBufferManager writeBuffers;
    /** The slot's background reaper (its thread starts with the first store registered). */
    private final Reaper reaper;
    /** The pools' frames, made by the first pool of the slot (with its frame size). */
    private ArenaFrames frames;

    /**
     * {@code total} bytes, of which {@code spillFraction} go to the spill stores (their cache at
     * least {@link #MIN_SPILL_CACHE_BYTES}) and the rest to the pool.
     */
    public SlotMemory(long total, double spillFraction) {
        this(total, spillFraction, 1.0);
    }

    /** As {@link #SlotMemory(long, double)}, its reaper thread held to {@code reaperCpuLimit} of one core. */
    public SlotMemory(long total, double spillFraction, double reaperCpuLimit) {
        if (spillFraction <= 0 || spillFraction >= 1) {
            throw new IllegalArgumentException("the spill stores' share of the memory must be between 0 and 1 (exclusive),"
                    + " not " + spillFraction);
        }
        this.reaper = new Reaper("slot", reaperCpuLimit); // (checks its limit before anything native is made)
        long share = (long) (total * spillFraction);
        this.pool = new MemoryBudget(Math.max(0, total - share));
        this.spillBytes = Math.max(MIN_SPILL_CACHE_BYTES, share);
        this.cache = new LRUCache(spillBytes);
        // the share is the spill stores' memtables, charged to the cache, which holds no blocks:
        // the pool keeps the compressed pages worth keeping (measured: design.md, Memory)
        this.writeBuffers = new WriteBufferManager(writeBufferManagerBytes(spillBytes), cache);
    }

    /**
     * What the write-buffer manager is given of a share of {@code spillBytes}: two thirds, as
     * Flink's RocksDB backend sizes its own. The manager flushes when the mutable memtables pass
     * seven eighths of its size, and memtables being flushed stay counted until their flush ends,
     * so given the whole share, the memtables of several stores passed it while flushes ran.
     * The bound is not strict (each store may hold its mutable memtable and one being flushed):
     * measured in {@code ZStateBackendLifecycleTest}, two stores writing at once in a 1 MiB share.
     */
    static long writeBufferManagerBytes(long spillBytes) {
        return spillBytes * 2 / 3;
    }

    /** The pool's share, which the page stores' frame sources draw from. */
    public MemoryBudget pool() {
        return pool;
    }

    /** The spill stores' share: what their memtables may hold together. */
    public long spillBytes() {
        return spillBytes;
    }

    /**
     * The memtable size of each spill store in the slot: half the share (two memtables, the
     * second filling while the first flushes), at least 256 KiB, at most RocksDB's own default of
     * 64 MiB. The write-buffer manager flushes them when together they pass its size, however
     * many stores. (A third of the share, so that one store's two memtables fit the manager,
     * made the state suite's spill-regime writes slower: valueUpdate 0.66x, mapUpdate 0.87x.)
     */
    public long memtableBytes() {
        return Math.min(64L << 20, Math.max(256L << 10, spillBytes / 2));
    }

    /** The cache the slot's memtables are counted in (it holds no blocks). */
    public Cache spillCache() {
        return cache;
    }

    /** The write-buffer manager every spill store of the slot writes through. */
    public WriteBufferManager spillWriteBuffers() {
        return writeBuffers;
    }

    /** Bytes the spill stores of the slot hold in memtables now, as the cache counts them. */
    public long spillUsage() {
        return cache.getUsage();
    }

    /**
     * The arena frames every pool of the slot draws from, made by {@code make} for the first pool
     * (frames of {@code frameSize} bytes, within {@link #pool()}).
     *
     * @throws IllegalStateException if the slot's frames are of another size: the keyed backends of
     *     a slot must share one frame size
     */
    public synchronized ArenaFrames frames(int frameSize, IntFunction<ArenaFrames> make) {
        if (frames == null) {
            frames = make.apply(frameSize);
        } else if (frames.frameSize() != frameSize) {
            throw new IllegalStateException("The zstate backends of one slot share their pool's frames, which are "
                    + frames.frameSize() + " bytes; this backend asks for frames of " + frameSize
                    + " bytes. Give every zstate backend of the job the same 'state.backend.zstate.frame-size'.");
        }
        return frames;
    }

    /** Frames the slot's pools hold together now (0 before the first pool); for leak checks. */
    public synchronized int poolFramesTaken() {
        return frames == null ? 0 : frames.framesTaken();
    }

    /** The background reaper of the slot's page stores. */
    public Reaper reaper() {
        return reaper;
    }

    /** Closes the reaper, the pools' arenas (every pool has given its frames back by now) and RocksDB's memory. */
    @Override
    public void close() {
        reaper.close();
        synchronized (this) {
            if (frames != null) {
                frames.close();
            }
        }
        writeBuffers.close();
        cache.close();
    }
}

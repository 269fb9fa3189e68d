package io.zstate.pagestore.tier;

import io.zstate.pagestore.Faults;
import io.zstate.allocator.ZPool;
import io.zstate.pagestore.layout.SameFilled;
import io.zstate.pagestore.layout.StoredPage;

/**
 * Every live page as it was at one instant, readable by one other thread (a checkpoint's
 * asynchronous part) while the pager goes on: hot pages as copies of their bytes, pool pages as
 * copies of their stored bytes (a memcpy; nothing decompressed), same-filled pages as their
 * word, spilled pages through a RocksDB snapshot (nothing read). Pages are decoded only when the
 * reader asks for them, with the codec's one {@link PageCodec#decode}.
 *
 * <p>Costs heap equal to the hot pages plus the pool's compressed payload for as long as it is
 * open; pinning pool objects instead is the snapshot issue's work. Holds the spill store open
 * until {@link #close()}.
 */
public final class FrozenPages implements AutoCloseable {

    private static final byte NOT_LIVE = 0;
    private static final byte RAW = 1;
    private static final byte POOL = 2;
    private static final byte SAME = 3;
    private static final byte SPILLED = 4;

    private final int pageSize;
    private final byte[][] content;
    private final byte[] kinds;
    private final long[] words;
    private final byte[] depths;
    private final SpillStore.View spilled;
    private final PageCodec codec;
    private final byte[] readScratch;

    private FrozenPages(int pageSize, byte[][] content, byte[] kinds, long[] words, byte[] depths,
            SpillStore.View spilled, int maxStored) {
        this.pageSize = pageSize;
        this.content = content;
        this.kinds = kinds;
        this.words = words;
        this.depths = depths;
        this.spilled = spilled;
        this.codec = new PageCodec(pageSize, Faults.NONE);
        this.readScratch = new byte[maxStored];
    }

    /** Captures the authoritative copy of every live page (on the thread that owns the pager). */
    static FrozenPages capture(PageTable table, PageCache cache, ZPool pool, SpillStore spill, int pageSize,
            int maxStored) {
        int ids = table.idsUsed();
        byte[][] content = new byte[ids][];
        byte[] kinds = new byte[ids];
        long[] words = new long[ids];
        byte[] depths = new byte[ids];
        for (int id = 0; id < ids; id++) {
            if (!table.isLive(id)) {
                continue;
            }
            depths[id] = (byte) table.depth(id);
            int slot = table.cacheSlot(id);
            long handle = table.poolHandle(id);
            if (slot != PageTable.NOT_CACHED) {
                content[id] = cache.page(slot).clone();
                kinds[id] = RAW;
            } else if (table.isSame(id)) {
                words[id] = table.sameWord(id);
                kinds[id] = SAME;
            } else if (handle != 0) {
                byte[] stored = new byte[pool.size(handle)];
                pool.read(handle, stored, 0);
                content[id] = stored;
                kinds[id] = POOL;
            } else if (table.isSpilled(id)) {
                kinds[id] = SPILLED;
            } else {
                throw new IllegalStateException("page " + id + " has no copy in any tier: the page store is corrupt");
            }
        }
        return new FrozenPages(pageSize, content, kinds, words, depths, spill.view(), maxStored);
    }

    /** A bucket page's extendible-hashing depth when frozen. */
    public int depth(int pageId) {
        return depths[pageId];
    }

    /**
     * The bytes of a page as frozen: a frozen hot page's own copy (do not modify it), or the page
     * decoded into {@code into}.
     */
    public byte[] read(int pageId, byte[] into) {
        switch (kinds[pageId]) {
            case RAW:
                return content[pageId];
            case POOL:
                byte[] stored = content[pageId];
                codec.decode(stored, StoredPage.PAGE_ID, stored.length - StoredPage.PAGE_ID, into);
                return into;
            case SAME:
                SameFilled.fill(into, words[pageId]);
                return into;
            case SPILLED:
                int n = spilled.get(pageId, readScratch);
                if (n < 1) {
                    throw new IllegalStateException("frozen page " + pageId + " is missing from the RocksDB snapshot");
                }
                codec.decode(readScratch, 0, n, into);
                return into;
            default:
                throw new IllegalStateException("frozen page " + pageId + " was not live when the store froze");
        }
    }

    public int pageSize() {
        return pageSize;
    }

    /** Releases the RocksDB snapshot (and the spill store, if it was closed meanwhile). */
    @Override
    public void close() {
        spilled.close();
    }
}

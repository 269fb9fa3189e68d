package io.zstate.pagestore;

import io.zstate.allocator.FrameSource;
import io.zstate.allocator.ZPools;
import io.zstate.pagestore.layout.StoredPage;
import io.zstate.pagestore.tier.PageCodec;
import io.zstate.pagestore.tier.PageDictionary;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * Settings of one page store. Every setting is checked here, with an error that names it and
 * its allowed values.
 *
 * @param pageSize bytes per page: a power of two from 1 KiB to 32 KiB
 * @param pageCacheBytes heap bytes of decompressed hot pages and, once it is used, the entry cache
 *     (at least 8 pages)
 * @param poolBytes off-heap budget of the compressed pool
 * @param frameSize pool frame size: a power of two from 4 KiB to 64 KiB
 * @param allocator one of {@code ZPools.TYPES}: {@code zsmalloc}, {@code zbud}, {@code z3fold}, {@code zlog},
 *     {@code xcfmalloc}
 * @param bouncerMinRatio pages that compress worse than this ratio skip the pool and go to
 *     RocksDB uncompressed; at 1.0 only pages that do not compress at all are bounced. Every
 *     page the bouncer admits must fit one pool object ({@link #largestAdmittedObject})
 * @param reclaimBatchFrames frames the reaper frees when the pool is full
 * @param spillDirectory parent directory of the RocksDB spill store
 * @param spillBlockCacheBytes RocksDB block cache of the spill store
 * @param spillWriteBufferBytes RocksDB memtable size of the spill store
 * @param poolTraceDirectory where the pool records its requests ({@code PoolTrace}, a file per
 *     store) for the allocator replay; null (the default) for no trace
 * @param entryCacheBytes the most of {@code pageCacheBytes} the entry cache may take (at most 1
 *     GiB is used), which keeps hot entries (serialized, one record each) in front of the pages,
 *     from the first point access of a whole-prefix key (a value, list, reducing or aggregating
 *     state's): it starts at a 64th of this and grows while it pays (see {@code EntryCache}); 0 for none
 *     (the default of {@link #defaults}), else at least {@link #MIN_ENTRY_CACHE_BYTES}, leaving
 *     the pages at least 8 pages
 * @param zsmallocChainSize the most frames a zsmalloc span holds, 4 to 16 ({@code
 *     ZPools.zsmalloc(source, chainSize)}); 8 in {@link #defaults}. The other allocators ignore it
 * @param pageCompression how pages are compressed in the pool and RocksDB: {@link #LZ4} (the
 *     default) or {@link #ZSTD}, zstd with a dictionary the store trains on a sample of its own
 *     pages ({@code PageDictionary}; LZ4 until it is trained), which takes {@code
 *     PageCodec.ZSTD_NATIVE_RESERVE} bytes of the pool's budget for its native contexts
 * @param dictionarySamplePages with zstd, the pages the dictionary skips and then samples: 0 for the
 *     default (a megabyte of pages each, at least 64, trained on a thread of its own); tests set a
 *     few, trained on the thread that encodes the last of them, so runs repeat exactly
 * @param writeBufferBytes the part of {@code pageCacheBytes} (at most 1 GiB is used) where
 *     writes wait whose bucket's page is not in the page cache (puts, appends and removals that
 *     read nothing: see {@code PendingWrites}), applied a bucket at a time; 0 for none (the default of
 *     {@link #defaults}), else at least {@link #MIN_WRITE_BUFFER_BYTES}. With the entry cache's
 *     most, it leaves the pages at least 8 pages
 * @param rawPoolFill the pool's fill line, a fraction of its budget: while its frames in use stay
 *     below it, stored pages are kept uncompressed in the pool (a fault is a copy, a store costs
 *     no compression); at or above it stores compress, and near the budget raw copies too. 0 (the default of {@link
 *     #defaults}) keeps every page compressed; at most {@link #MAX_RAW_POOL_FILL}
 * @param writeBufferWaitsFor which writes wait in the write buffer: {@link #SPILLED_PAGES} (the
 *     default) those whose bucket's page is in RocksDB alone, unless the page was used again soon
 *     twice in a row ({@code Pager.writeMayWait}; the buffer sends them on to RocksDB: a write
 *     there reads nothing), {@link #UNCACHED_PAGES} those whose page is not in the page
 *     cache (in the pool too: a fault from the pool then serves several writes)
 */
public record PageStoreConfig(
        int pageSize,
        long pageCacheBytes,
        long poolBytes,
        int frameSize,
        String allocator,
        double bouncerMinRatio,
        int reclaimBatchFrames,
        Path spillDirectory,
        long spillBlockCacheBytes,
        long spillWriteBufferBytes,
        Path poolTraceDirectory,
        long entryCacheBytes,
        int zsmallocChainSize,
        String pageCompression,
        int dictionarySamplePages,
        long writeBufferBytes,
        double rawPoolFill,
        String writeBufferWaitsFor) {

    /** {@link #pageCompression}: LZ4 a page. */
    public static final String LZ4 = "lz4";
    /** {@link #pageCompression}: zstd with a dictionary the store trains on its own pages. */
    public static final String ZSTD = "zstd";
    /** The values {@link #pageCompression} takes. */
    public static final java.util.List<String> PAGE_COMPRESSIONS = java.util.List.of(LZ4, ZSTD);

    public static final int MIN_PAGE_SIZE = 1024;
    public static final int MAX_PAGE_SIZE = 32 * 1024;
    /** The smallest entry cache: a few records of the largest size it keeps. */
    public static final long MIN_ENTRY_CACHE_BYTES = 4096;
    /** The smallest write buffer: a few records of the largest size it keeps. */
    public static final long MIN_WRITE_BUFFER_BYTES = 4096;
    /**
     * {@link #writeBufferWaitsFor}: a write waits only if its bucket's page is in RocksDB alone (and
     * was not used again soon twice in a row).
     */
    public static final String SPILLED_PAGES = "spilled-pages";
    /** {@link #writeBufferWaitsFor}: a write waits if its bucket's page is not in the page cache. */
    public static final String UNCACHED_PAGES = "uncached-pages";
    /** The values {@link #writeBufferWaitsFor} takes. */
    public static final java.util.List<String> WAITS_FOR = java.util.List.of(SPILLED_PAGES, UNCACHED_PAGES);
    /** The highest fill line for raw pages: the rest of the pool is where raw copies are compressed into. */
    public static final double MAX_RAW_POOL_FILL = 0.9;

    public PageStoreConfig {
        Objects.requireNonNull(spillDirectory, "spillDirectory");
        if (pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || Integer.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException(
                    "page size " + pageSize + " is not allowed: use a power of two from 1024 to 32768 bytes");
        }
        if (pageCacheBytes / pageSize < 8) {
            throw new IllegalArgumentException(
                    "page cache of " + pageCacheBytes + " bytes holds fewer than 8 pages of " + pageSize
                            + " bytes: give it at least " + 8L * pageSize);
        }
        if (frameSize < FrameSource.MIN_FRAME_SIZE || frameSize > FrameSource.MAX_FRAME_SIZE
                || Integer.bitCount(frameSize) != 1) {
            throw new IllegalArgumentException(
                    "frame size " + frameSize + " is not allowed: use a power of two from 4096 to 65536 bytes");
        }
        if (poolBytes < 16L * frameSize) {
            throw new IllegalArgumentException(
                    "pool of " + poolBytes + " bytes holds fewer than 16 frames of " + frameSize
                            + " bytes: give it at least " + 16L * frameSize);
        }
        if (!(rawPoolFill >= 0 && rawPoolFill <= MAX_RAW_POOL_FILL)) {
            throw new IllegalArgumentException("raw pool fill " + rawPoolFill + " is not allowed: use 0 (every page"
                    + " compressed) to " + MAX_RAW_POOL_FILL + " (pages kept raw while the pool is under that part of"
                    + " its budget)");
        }
        if (!WAITS_FOR.contains(writeBufferWaitsFor)) {
            throw new IllegalArgumentException("the write buffer cannot wait for '" + writeBufferWaitsFor + "': use one"
                    + " of " + WAITS_FOR);
        }
        allocator = allocator.toLowerCase(Locale.ROOT);
        if (!ZPools.TYPES.contains(allocator)) {
            throw new IllegalArgumentException(
                    "allocator '" + allocator + "' is not known: use one of " + ZPools.TYPES);
        }
        if (!(bouncerMinRatio >= 1.0)) {
            throw new IllegalArgumentException(
                    "bouncer ratio " + bouncerMinRatio + " is not allowed: use 1.0 (off) or more");
        }
        if (entryCacheBytes != 0 && entryCacheBytes < MIN_ENTRY_CACHE_BYTES) {
            throw new IllegalArgumentException("entry cache of " + entryCacheBytes + " bytes is too small: use 0 (none)"
                    + " or at least " + MIN_ENTRY_CACHE_BYTES + " bytes");
        }
        if (entryCacheBytes != 0 && (pageCacheBytes - entryCacheBytes) / pageSize < 8) {
            throw new IllegalArgumentException("entry cache of " + entryCacheBytes + " bytes leaves the page cache of "
                    + pageCacheBytes + " bytes fewer than 8 pages of " + pageSize + " bytes: give it at most "
                    + (pageCacheBytes - 8L * pageSize));
        }
        if (writeBufferBytes != 0 && writeBufferBytes < MIN_WRITE_BUFFER_BYTES) {
            throw new IllegalArgumentException("write buffer of " + writeBufferBytes + " bytes is too small: use 0"
                    + " (none) or at least " + MIN_WRITE_BUFFER_BYTES + " bytes");
        }
        if (writeBufferBytes != 0 && (pageCacheBytes - entryCacheBytes - writeBufferBytes) / pageSize < 8) {
            throw new IllegalArgumentException("write buffer of " + writeBufferBytes + " bytes and entry cache of "
                    + entryCacheBytes + " bytes leave the page cache of " + pageCacheBytes + " bytes fewer than 8"
                    + " pages of " + pageSize + " bytes: give them at most " + (pageCacheBytes - 8L * pageSize)
                    + " together");
        }
        if (zsmallocChainSize < ZPools.MIN_ZSMALLOC_CHAIN_SIZE || zsmallocChainSize > ZPools.MAX_ZSMALLOC_CHAIN_SIZE) {
            throw new IllegalArgumentException("zsmalloc chain size " + zsmallocChainSize + " is not allowed: use "
                    + ZPools.MIN_ZSMALLOC_CHAIN_SIZE + " to " + ZPools.MAX_ZSMALLOC_CHAIN_SIZE + " frames per span");
        }
        pageCompression = pageCompression.toLowerCase(Locale.ROOT);
        if (!PAGE_COMPRESSIONS.contains(pageCompression)) {
            throw new IllegalArgumentException("page compression '" + pageCompression + "' is not known: use one of "
                    + PAGE_COMPRESSIONS);
        }
        if (dictionarySamplePages < 0 || (dictionarySamplePages > 0 && dictionarySamplePages < 16)) {
            throw new IllegalArgumentException("dictionary sample of " + dictionarySamplePages + " pages: use 0 (the"
                    + " default) or at least 16 (zstd trains on no fewer than about ten)");
        }
        if (ZSTD.equals(pageCompression) && poolBytes - PageCodec.ZSTD_NATIVE_RESERVE
                < 16L * frameSize) {
            throw new IllegalArgumentException("pool of " + poolBytes + " bytes holds fewer than 16 frames of "
                    + frameSize + " bytes besides the " + PageCodec.ZSTD_NATIVE_RESERVE
                    + " bytes of page compression zstd's contexts: give it at least "
                    + (16L * frameSize + PageCodec.ZSTD_NATIVE_RESERVE));
        }
        if (reclaimBatchFrames < 1) {
            throw new IllegalArgumentException("reclaim batch of " + reclaimBatchFrames + " frames: use 1 or more");
        }
        int largest = ZPools.maxObjectSize(allocator, frameSize);
        if (largestAdmittedObject(pageSize, bouncerMinRatio) > largest) {
            throw new IllegalArgumentException("pages of " + pageSize + " bytes that pass the bouncer (ratio "
                    + bouncerMinRatio + ") are pool objects of up to " + largestAdmittedObject(pageSize, bouncerMinRatio)
                    + " bytes, but the largest object of a " + allocator + " pool of " + frameSize + "-byte frames is "
                    + largest + " bytes: such pages would all skip the pool. Use frames of at least "
                    + smallestFrameFor(pageSize, bouncerMinRatio, allocator) + " bytes, or smaller pages");
        }
    }

    /**
     * The largest pool object a page of {@code pageSize} bytes can become: the pool object's
     * prefix (page id and codec) and the longest compressed page the bouncer lets into the pool (a
     * page is bounced when {@code compressed * bouncerMinRatio > pageSize}).
     */
    public static int largestAdmittedObject(int pageSize, double bouncerMinRatio) {
        return StoredPage.HEADER + (int) Math.floor(pageSize / bouncerMinRatio);
    }

    /**
     * The smallest frame size at which {@code allocator} holds every page the bouncer admits, or
     * -1 if even the largest frames do not.
     */
    public static int smallestFrameFor(int pageSize, double bouncerMinRatio, String allocator) {
        for (int frame = FrameSource.MIN_FRAME_SIZE; frame <= FrameSource.MAX_FRAME_SIZE; frame <<= 1) {
            if (largestAdmittedObject(pageSize, bouncerMinRatio) <= ZPools.maxObjectSize(allocator, frame)) {
                return frame;
            }
        }
        return -1;
    }

    /**
     * Defaults: 1 KiB pages (a fault and a store cost a third of what 4 KiB pages cost; see
     * docs/design.md), 16 MiB page cache, 64 MiB zsmalloc pool of 4 KiB frames.
     */
    public static PageStoreConfig defaults(Path spillDirectory) {
        return new PageStoreConfig(
                1024, 16L << 20, 64L << 20, 4096, "zsmalloc", 1.2, 16, spillDirectory, 8L << 20, 4L << 20, null, 0,
                ZPools.DEFAULT_ZSMALLOC_CHAIN_SIZE, LZ4, 0, 0, 0, SPILLED_PAGES);
    }

    /** The same settings, the pool recording its requests into a file in {@code directory}. */
    public PageStoreConfig withPoolTraceDirectory(Path directory) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, directory, entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withPageSize(int value) {
        return new PageStoreConfig(value, pageCacheBytes, poolBytes, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory, entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withPageCacheBytes(long value) {
        return new PageStoreConfig(pageSize, value, poolBytes, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory, entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withPoolBytes(long value) {
        return new PageStoreConfig(pageSize, pageCacheBytes, value, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory, entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withAllocator(String value) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, value, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory, entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withBouncerMinRatio(double value) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, allocator, value,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory, entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withReclaimBatchFrames(int value) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, allocator, bouncerMinRatio,
                value, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory, entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withEntryCacheBytes(long value) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory, value, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withZsmallocChainSize(int value) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory,
                entryCacheBytes, value, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    /** The same settings with {@code compression} ({@link #PAGE_COMPRESSIONS}) and its dictionary's sample (0: default). */
    public PageStoreConfig withPageCompression(String compression, int samplePages) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory,
                entryCacheBytes, zsmallocChainSize, compression, samplePages, writeBufferBytes, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withWriteBufferBytes(long value) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory,
                entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, value, rawPoolFill, writeBufferWaitsFor);
    }

    public PageStoreConfig withRawPoolFill(double value) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory,
                entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, value, writeBufferWaitsFor);
    }

    /** The same settings, writes waiting in the write buffer for {@code value} ({@link #WAITS_FOR}). */
    public PageStoreConfig withWriteBufferWaitsFor(String value) {
        return new PageStoreConfig(pageSize, pageCacheBytes, poolBytes, frameSize, allocator, bouncerMinRatio,
                reclaimBatchFrames, spillDirectory, spillBlockCacheBytes, spillWriteBufferBytes, poolTraceDirectory,
                entryCacheBytes, zsmallocChainSize, pageCompression, dictionarySamplePages, writeBufferBytes, rawPoolFill,
                value);
    }

    /** Whether a write whose bucket's page is in the pool waits too ({@link #UNCACHED_PAGES}). */
    public boolean writesWaitForPoolPages() {
        return UNCACHED_PAGES.equals(writeBufferWaitsFor);
    }

    /** Whether pages are compressed with zstd and a trained dictionary. */
    public boolean zstd() {
        return ZSTD.equals(pageCompression);
    }

    /** A new dictionary for a store of these settings (with {@link #zstd()}). */
    public PageDictionary newDictionary() {
        return dictionarySamplePages == 0
                ? PageDictionary.forPages(pageSize)
                : new PageDictionary(pageSize, dictionarySamplePages, dictionarySamplePages, true);
    }
}

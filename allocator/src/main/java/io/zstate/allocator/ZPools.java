package io.zstate.allocator;

import java.util.List;
import java.util.Locale;

/** Creates pools by allocator name; the implementations themselves are package-private. */
public final class ZPools {

    /** The allocator names {@link #create} accepts. */
    public static final List<String> TYPES = List.of("zsmalloc", "zbud", "z3fold", "zlog", "xcfmalloc");

    /** The chain sizes {@link #zsmalloc(FrameSource, int)} accepts, and its default. */
    public static final int MIN_ZSMALLOC_CHAIN_SIZE = SizeClasses.MIN_CHAIN_SIZE;

    public static final int MAX_ZSMALLOC_CHAIN_SIZE = SizeClasses.MAX_CHAIN_SIZE;
    public static final int DEFAULT_ZSMALLOC_CHAIN_SIZE = SizeClasses.DEFAULT_CHAIN_SIZE;

    private ZPools() {}

    /** A zsmalloc pool with the default chain size (8 frames per span at most). */
    public static ZPool zsmalloc(FrameSource source) {
        return new ZsmallocPool(source, SizeClasses.DEFAULT_CHAIN_SIZE);
    }

    /**
     * A zsmalloc pool whose spans hold at most {@code chainSize} frames (4 to 16, as the kernel's
     * {@code CONFIG_ZSMALLOC_CHAIN_SIZE}).
     */
    public static ZPool zsmalloc(FrameSource source, int chainSize) {
        return new ZsmallocPool(source, chainSize);
    }

    public static ZPool zbud(FrameSource source) {
        return new ZbudPool(source);
    }

    public static ZPool z3fold(FrameSource source) {
        return new Z3foldPool(source);
    }

    public static ZPool zlog(FrameSource source) {
        return new ZlogPool(source);
    }

    /**
     * An xcfmalloc pool: blocks that may span frames, a descriptor per block, no compaction
     * (seeds/001); a comparison against zsmalloc and zlog, not a default.
     */
    public static ZPool xcfmalloc(FrameSource source) {
        return new XcfmallocPool(source);
    }

    /**
     * {@code pool}, recording every request into {@code trace} ({@link PoolTrace}); closing the
     * pool closes the trace. A measuring tool: see {@link TracingZPool}.
     */
    public static ZPool tracing(ZPool pool, PoolTrace.Writer trace) {
        return new TracingZPool(pool, trace);
    }

    /**
     * Marks the reads a traced pool sees from now on as a checkpoint's copies ({@code on}) or as
     * page faults (off); does nothing for a pool that is not traced.
     */
    public static void snapshotReads(ZPool pool, boolean on) {
        if (pool instanceof TracingZPool tracing) {
            tracing.snapshotReads(on);
        }
    }

    /**
     * A pool of the named allocator over {@code source}.
     *
     * @throws IllegalArgumentException naming the allowed values for an unknown allocator
     */
    public static ZPool create(String type, FrameSource source) {
        return create(type, source, DEFAULT_ZSMALLOC_CHAIN_SIZE);
    }

    /**
     * A pool of the named allocator over {@code source}; a zsmalloc pool's spans hold at most
     * {@code zsmallocChainSize} frames, which the other allocators ignore.
     *
     * @throws IllegalArgumentException naming the allowed values for an unknown allocator, or
     *     for a zsmalloc chain size outside 4 to 16
     */
    public static ZPool create(String type, FrameSource source, int zsmallocChainSize) {
        switch (type.toLowerCase(Locale.ROOT)) {
            case "zsmalloc":
                return zsmalloc(source, zsmallocChainSize);
            case "zbud":
                return zbud(source);
            case "z3fold":
                return z3fold(source);
            case "zlog":
                return zlog(source);
            case "xcfmalloc":
                return xcfmalloc(source);
            default:
                throw new IllegalArgumentException(
                        "allocator '" + type + "' is not known: use one of " + TYPES);
        }
    }

    /**
     * The largest object a pool of the named allocator accepts at a frame size ({@link
     * ZPool#maxObjectSize()} without building a pool): what a configuration is checked against.
     *
     * @throws IllegalArgumentException naming the allowed values for an unknown allocator
     */
    public static int maxObjectSize(String type, int frameSize) {
        switch (type.toLowerCase(Locale.ROOT)) {
            case "zsmalloc":
                return ZsmallocPool.maxObjectSize(frameSize);
            case "zbud":
            case "z3fold":
                return BuddyPool.maxObjectSize(frameSize); // both: the frame less a header and a rounding chunk
            case "zlog":
                return ZlogPool.maxObjectSize(frameSize);
            case "xcfmalloc":
                return XcfmallocPool.maxObjectSize(frameSize);
            default:
                throw new IllegalArgumentException(
                        "allocator '" + type + "' is not known: use one of " + TYPES);
        }
    }

    /**
     * A per-class occupancy table for zsmalloc pools (the kernel's zsmalloc stats file); for
     * other pools, one line of {@link ZPool#stats()}.
     */
    public static String describe(ZPool pool) {
        if (pool instanceof ZsmallocPool) {
            return ((ZsmallocPool) pool).classStats();
        }
        return pool.stats().toString();
    }

    /**
     * The chain size of a zsmalloc pool (traced or not): the most frames a span holds; 0 for the
     * other allocators, which have no spans.
     */
    public static int chainSize(ZPool pool) {
        ZPool inner = pool instanceof TracingZPool tracing ? tracing.inner() : pool;
        return inner instanceof ZsmallocPool zsmalloc ? zsmalloc.chainSize() : 0;
    }

    /** The zsmalloc size-class table for a frame size and chain size. */
    public static String sizeClassTable(int frameSize, int chainSize) {
        return new SizeClasses(frameSize, chainSize).table();
    }
}

package io.zstate.benchmarks;

import io.zstate.allocator.FrameSource;
import io.zstate.allocator.ZPool;
import io.zstate.allocator.ZPools;

/** One allocator under test: zbud, z3fold, zlog, xcfmalloc, or zsmalloc with a chain size; creates its pools. */
public record PoolConfig(String type, int chainSize) {

    public static PoolConfig zbud() {
        return new PoolConfig("zbud", 0);
    }

    public static PoolConfig z3fold() {
        return new PoolConfig("z3fold", 0);
    }

    public static PoolConfig zlog() {
        return new PoolConfig("zlog", 0);
    }

    public static PoolConfig xcfmalloc() {
        return new PoolConfig("xcfmalloc", 0);
    }

    public static PoolConfig zsmalloc(int chainSize) {
        return new PoolConfig("zsmalloc", chainSize);
    }

    public boolean isZsmalloc() {
        return type.equals("zsmalloc");
    }

    /** A new pool of this allocator over {@code source}. */
    public ZPool create(FrameSource source) {
        return isZsmalloc() ? ZPools.zsmalloc(source, chainSize) : ZPools.create(type, source);
    }

    /** The largest object this allocator stores in the report's 4 KiB frames. */
    public int maxObjectSize() {
        try (FrameSource source = new FrameSource(16L * FrameSource.DEFAULT_FRAME_SIZE);
                ZPool pool = create(source)) {
            return pool.maxObjectSize();
        }
    }

    /** {@code zbud}, {@code z3fold}, {@code zlog}, {@code xcfmalloc} or {@code zsmalloc/8}. */
    public String label() {
        return isZsmalloc() ? type + "/" + chainSize : type;
    }
}

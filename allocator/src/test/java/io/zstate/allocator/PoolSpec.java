package io.zstate.allocator;

import java.util.List;
import java.util.stream.Stream;

/** An allocator and its geometry, for tests that run on every pool kind. */
record PoolSpec(String type, int chainSize, int frameSize) {

    static Stream<PoolSpec> all() {
        return Stream.of(
                new PoolSpec("zbud", 0, 4096),
                new PoolSpec("zbud", 0, 65536),
                new PoolSpec("z3fold", 0, 4096),
                new PoolSpec("z3fold", 0, 65536),
                new PoolSpec("zlog", 0, 4096),
                new PoolSpec("zlog", 0, 65536),
                new PoolSpec("xcfmalloc", 0, 4096),
                new PoolSpec("xcfmalloc", 0, 65536),
                new PoolSpec("zsmalloc", 4, 4096),
                new PoolSpec("zsmalloc", 8, 4096),
                new PoolSpec("zsmalloc", 16, 4096),
                new PoolSpec("zsmalloc", 8, 16384),
                new PoolSpec("zsmalloc", 8, 65536));
    }

    static List<PoolSpec> list() {
        return all().toList();
    }

    AbstractZPool create(FrameSource source) {
        return (AbstractZPool) switch (type) {
            case "zbud" -> ZPools.zbud(source);
            case "z3fold" -> ZPools.z3fold(source);
            case "zlog" -> ZPools.zlog(source);
            case "xcfmalloc" -> ZPools.xcfmalloc(source);
            default -> ZPools.zsmalloc(source, chainSize);
        };
    }

    /** The most frames one malloc may need at once. */
    int framesPerMalloc() {
        return type.equals("zsmalloc") ? chainSize : 1;
    }

    @Override
    public String toString() {
        return type + (chainSize > 0 ? "-chain" + chainSize : "") + "-" + frameSize / 1024 + "k";
    }
}

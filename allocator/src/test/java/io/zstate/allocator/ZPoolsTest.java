package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import org.junit.jupiter.api.Test;

/** Creating pools by name: the zsmalloc chain size reaches the pool, traced or not. */
class ZPoolsTest {

    @Test
    void theChainSizeReachesAZsmallocPoolAndOthersHaveNone() throws Exception {
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                ZPool pool = ZPools.create("zsmalloc", source, 4)) {
            assertThat(ZPools.chainSize(pool)).isEqualTo(4);
        }
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                ZPool pool = ZPools.create("zsmalloc", source)) {
            assertThat(ZPools.chainSize(pool)).isEqualTo(ZPools.DEFAULT_ZSMALLOC_CHAIN_SIZE).isEqualTo(8);
        }
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                ZPool pool = ZPools.tracing(ZPools.create("zsmalloc", source, 16),
                        new PoolTrace.Writer(new ByteArrayOutputStream(), 4096))) {
            assertThat(ZPools.chainSize(pool)).as("through a trace").isEqualTo(16);
        }
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                ZPool pool = ZPools.create("xcfmalloc", source, 4)) {
            assertThat(ZPools.chainSize(pool)).as("no spans").isZero();
        }
        try (FrameSource source = new FrameSource(1L << 20, 4096)) {
            assertThatThrownBy(() -> ZPools.create("zsmalloc", source, 17))
                    .hasMessageContaining("zsmalloc chain size 17").hasMessageContaining("4 to 16");
        }
    }
}

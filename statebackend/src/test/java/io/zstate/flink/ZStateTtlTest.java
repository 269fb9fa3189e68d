package io.zstate.flink;

import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.ttl.StateBackendTestContext;
import org.apache.flink.runtime.state.ttl.TtlStateTestBase;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;

/**
 * Flink's TTL suite (16 tests over 9 state kinds) on zstate; expired entries must vanish from full
 * snapshots (cleanupFullSnapshot).
 *
 * <p>The base's two incremental-cleanup tests stay off ({@code incrementalCleanupSupported()} is
 * false, as for RocksDB): they read the heap backend's state table directly
 * ({@code isOriginalCleared} casts the state to {@code AbstractHeapState}), so no other backend can
 * pass them. zstate's incremental cleanup is tested by {@link ZStateIncrementalCleanupTest}.
 */
public class ZStateTtlTest extends TtlStateTestBase {

    @Override
    protected StateBackendTestContext createStateBackendTestContext(TtlTimeProvider timeProvider) {
        return new StateBackendTestContext(timeProvider) {
            @Override
            protected StateBackend createStateBackend() {
                return ZStateBackendTest.backend("zsmalloc");
            }
        };
    }
}

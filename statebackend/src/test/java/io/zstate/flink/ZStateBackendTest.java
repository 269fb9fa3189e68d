package io.zstate.flink;

import java.util.List;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.runtime.state.CheckpointStorage;
import org.apache.flink.runtime.state.ConfigurableStateBackend;
import org.apache.flink.runtime.state.StateBackendTestBase;
import org.apache.flink.runtime.state.storage.JobManagerCheckpointStorage;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameter;
import org.apache.flink.testutils.junit.extensions.parameterized.ParameterizedTestExtension;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameters;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Flink's own conformance suite for keyed state backends, run on zstate: with the defaults
 * (zsmalloc), and with zbud, z3fold, zlog and xcfmalloc and a pool and page cache so small that
 * pages are stored, written back to RocksDB and swapped in during the tests; zsmalloc and zbud
 * again with incremental checkpoints
 * (execution.checkpointing.incremental: a base, then deltas once a checkpoint completes).
 */
@ExtendWith(ParameterizedTestExtension.class)
public class ZStateBackendTest extends StateBackendTestBase<ZStateBackend> {

    @Parameter
    public String setup;

    @Parameters(name = "{0}")
    public static List<Object[]> setups() {
        return List.of(new Object[] {"zsmalloc"}, new Object[] {"zbud-tiny-pool"}, new Object[] {"z3fold-tiny-pool"},
                new Object[] {"zlog-tiny-pool"}, new Object[] {"xcfmalloc-tiny-pool"},
                new Object[] {"zsmalloc-incremental"},
                new Object[] {"zbud-tiny-pool-incremental"});
    }

    static ZStateBackend backend(String setup) {
        Configuration config = new Configuration();
        if (setup.contains("-tiny-pool")) {
            config.set(ZStateOptions.ALLOCATOR, setup.substring(0, setup.indexOf('-')));
            config.set(ZStateOptions.POOL_SIZE, MemorySize.parse("64kb"));
            config.set(ZStateOptions.PAGE_CACHE_SIZE, MemorySize.parse("8kb"));
        }
        if (setup.endsWith("-incremental")) {
            config.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        }
        if (setup.startsWith("zbud-tiny-pool")) { // the write buffer: half of a page cache of 16 pages, writes
            // waiting for pages in the pool too (the other setups: for pages in RocksDB, the default)
            config.set(ZStateOptions.PAGE_CACHE_SIZE, MemorySize.parse("16kb"));
            config.set(ZStateOptions.WRITE_BUFFER_FRACTION, 0.5);
            config.set(ZStateOptions.WRITE_BUFFER_WAITS_FOR, "uncached-pages");
            config.set(ZStateOptions.ENTRY_CACHE_FRACTION, 0.0); // the pages keep the other half
        }
        if (setup.startsWith("z3fold")) { // the background reaper's thread, whatever the machine's cores
            config.set(ZStateOptions.BACKGROUND_REAPER, "true");
        }
        if (setup.startsWith("zsmalloc")) { // the entry cache in front of the pages (the default; the tiny
            // page caches of the other setups are too small for one)
            config.set(ZStateOptions.ENTRY_CACHE_FRACTION, 0.25);
        }
        return new ZStateBackend().configure(config, ZStateBackendTest.class.getClassLoader());
    }

    @Override
    protected ConfigurableStateBackend getStateBackend() {
        return backend(setup);
    }

    @Override
    protected CheckpointStorage getCheckpointStorage() {
        return new JobManagerCheckpointStorage();
    }

    @Override
    protected boolean isSerializerPresenceRequiredOnRestore() {
        return false;
    }

    @Override
    protected boolean supportsAsynchronousSnapshots() {
        return true;
    }
}

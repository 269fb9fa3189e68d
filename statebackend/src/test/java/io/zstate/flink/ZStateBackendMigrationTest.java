package io.zstate.flink;

import java.util.List;
import org.apache.flink.runtime.state.CheckpointStorage;
import org.apache.flink.runtime.state.StateBackendMigrationTestBase;
import org.apache.flink.runtime.state.storage.JobManagerCheckpointStorage;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameter;
import org.apache.flink.testutils.junit.extensions.parameterized.ParameterizedTestExtension;
import org.apache.flink.testutils.junit.extensions.parameterized.Parameters;
import org.junit.jupiter.api.extension.ExtendWith;

/** Flink's serializer-migration suite on zstate, with zsmalloc and with zbud and a tiny pool. */
@ExtendWith(ParameterizedTestExtension.class)
public class ZStateBackendMigrationTest extends StateBackendMigrationTestBase<ZStateBackend> {

    @Parameter
    public String setup;

    @Parameters(name = "{0}")
    public static List<Object[]> setups() {
        return ZStateBackendTest.setups();
    }

    @Override
    protected ZStateBackend getStateBackend() {
        return ZStateBackendTest.backend(setup);
    }

    @Override
    protected CheckpointStorage getCheckpointStorage() {
        return new JobManagerCheckpointStorage();
    }
}

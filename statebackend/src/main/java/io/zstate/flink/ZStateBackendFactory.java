package io.zstate.flink;

import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.runtime.state.StateBackendFactory;

/**
 * Loads {@link ZStateBackend} for {@code state.backend.type: io.zstate.flink.ZStateBackendFactory}.
 * Flink calls it several times per job (client, JobManager, every task), so it allocates nothing
 * beyond the configured backend object. Owns only that loading; the options are {@link
 * ZStateBackend}'s to check.
 */
public class ZStateBackendFactory implements StateBackendFactory<ZStateBackend> {

    @Override
    public ZStateBackend createFromConfig(ReadableConfig config, ClassLoader classLoader)
            throws IllegalConfigurationException {
        return new ZStateBackend().configure(config, classLoader);
    }
}

package io.zstate.flink;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.MiniClusterExtension;

/** The MiniCluster the job-level tests run on: one TaskManager, two slots, 64 MiB managed memory. */
final class TestClusters {

    private TestClusters() {}

    static MiniClusterExtension oneTaskManagerTwoSlots() {
        Configuration config = new Configuration();
        config.set(TaskManagerOptions.MANAGED_MEMORY_SIZE, MemorySize.parse("64mb"));
        return new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
                .setNumberTaskManagers(1)
                .setNumberSlotsPerTaskManager(2)
                .setConfiguration(config)
                .build());
    }

    /**
     * Files under the shared folders of a checkpoint directory now (where incremental checkpoints
     * keep what later ones refer to); 0 if a file went while it was walked (ask again later).
     */
    static long sharedFiles(java.nio.file.Path root) {
        try (java.util.stream.Stream<java.nio.file.Path> all = java.nio.file.Files.walk(root)) {
            return all.filter(p -> java.nio.file.Files.isRegularFile(p)
                    && p.getParent().getFileName().toString().equals("shared")).count();
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return 0;
        }
    }
}

package io.zstate.jobs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.util.FileUtils;

/**
 * The project's Flink configuration files ({@code conf/*.yaml}): found from the working
 * directory upwards, and loaded exactly as a Flink process loads its {@code config.yaml}.
 */
public final class FlinkConfigFiles {

    private FlinkConfigFiles() {}

    /** Loads a Flink YAML file the way Flink loads {@code <configDir>/config.yaml}. */
    public static Configuration load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("Flink configuration file " + file.toAbsolutePath() + " does not exist");
        }
        Path staging = Files.createTempDirectory("zstate-conf");
        try {
            Files.copy(file, staging.resolve(GlobalConfiguration.FLINK_CONF_FILENAME),
                    StandardCopyOption.REPLACE_EXISTING);
            return GlobalConfiguration.loadConfiguration(staging.toString());
        } finally {
            FileUtils.deleteDirectoryQuietly(staging.toFile());
        }
    }

    /** {@code conf/<name>} in the working directory or the nearest directory above it, or null. */
    public static Path findInRepository(String name) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("conf").resolve(name);
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }
}

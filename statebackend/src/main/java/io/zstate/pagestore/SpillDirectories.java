package io.zstate.pagestore;

import java.nio.file.Path;
import org.apache.flink.util.FileUtils;

/** Removes spill directories that a store or backend created. */
public final class SpillDirectories {

    private SpillDirectories() {}

    /** Deletes a directory tree if it exists; failures are ignored (it lives in a temp location). */
    public static void deleteQuietly(Path directory) {
        // best effort: the TaskManager removes its working directory on exit
        FileUtils.deleteDirectoryQuietly(directory.toFile());
    }
}

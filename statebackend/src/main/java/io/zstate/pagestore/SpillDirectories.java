package io.zstate.pagestore;

import java.nio.file.Path;

/** Removes spill directories that a store or backend created. */
public final class SpillDirectories {

    private SpillDirectories() {}

    /** Deletes a directory tree if it exists; failures are ignored (it lives in a temp location). */
    public static void deleteQuietly(Path directory) {
        try {
            SpillStore.deleteRecursively(directory);
        } catch (RuntimeException ignored) {
            // best effort: the TaskManager removes its working directory on exit
        }
    }
}

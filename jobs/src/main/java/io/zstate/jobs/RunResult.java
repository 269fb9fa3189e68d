package io.zstate.jobs;

import java.util.List;

import io.zstate.pagestore.PageStoreStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.annotation.JsonInclude;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.DeserializationFeature;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.SerializationFeature;

/**
 * What one runner run did, as the runner's {@code --json} writes it and the compare command
 * reads it back. Sizes are bytes, durations milliseconds; -1 where a figure is not known.
 *
 * @param job the example job's name
 * @param backend zstate, rocksdb or hashmap
 * @param keys distinct keys
 * @param events events
 * @param parallelism parallelism
 * @param managedMemoryBytes the TaskManager's managed memory
 * @param maxHeapBytes the JVM's maximum heap ({@code -Xmx})
 * @param seconds wall time of the job, submission to the last result
 * @param recordsPerSecond events / seconds
 * @param correct whether the job's output checked out
 * @param verdict the job's line about its output
 * @param checkpoints the checkpoint figures
 * @param memory the memory peaks
 * @param zstate the page-store counters for zstate, null for the other backends
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record RunResult(
        String job,
        String backend,
        long keys,
        long events,
        int parallelism,
        long managedMemoryBytes,
        long maxHeapBytes,
        double seconds,
        double recordsPerSecond,
        boolean correct,
        String verdict,
        Checkpoints checkpoints,
        Memory memory,
        PageStoreStats zstate) {

    /**
     * Checkpoint figures from the job's checkpoint statistics (what the web UI's checkpoint tab
     * shows).
     *
     * @param intervalMillis configured interval, 0 for checkpointing off
     * @param completed completed checkpoints
     * @param failed failed checkpoints, but for those {@code declined}
     * @param declined checkpoints the tasks declined because they were starting or finishing (a
     *     bounded source's end races the last checkpoints): Flink counts them as failed, but
     *     nothing went wrong
     * @param minMillis shortest end-to-end duration of a completed checkpoint
     * @param avgMillis average end-to-end duration
     * @param maxMillis longest end-to-end duration
     * @param lastStateBytes full state size of the last completed checkpoint
     * @param lastCheckpointedBytes bytes the last completed checkpoint wrote (less than the state
     *     size for incremental checkpoints)
     * @param maxStateBytes largest full state size of a completed checkpoint
     * @param maxCheckpointedBytes largest checkpointed size
     * @param lastFailure why the last failed checkpoint failed (declines not counted), null if none failed
     * @param history every completed checkpoint, oldest first (what each wrote, of how much state)
     */
    public record Checkpoints(
            long intervalMillis,
            long completed,
            long failed,
            long declined,
            long minMillis,
            long avgMillis,
            long maxMillis,
            long lastStateBytes,
            long lastCheckpointedBytes,
            long maxStateBytes,
            long maxCheckpointedBytes,
            String lastFailure,
            List<Completed> history) {

        public Checkpoints {
            history = history == null ? List.of() : List.copyOf(history);
        }

        /** Bytes written per completed checkpoint, on average; -1 with none. */
        public long avgCheckpointedBytes() {
            return history.isEmpty() ? -1
                    : (long) history.stream().mapToLong(Completed::checkpointedBytes).average().orElse(-1);
        }
    }

    /** One completed checkpoint: its id, end-to-end duration, the state it refers to and what it wrote. */
    public record Completed(long id, long durationMillis, long stateBytes, long checkpointedBytes) {}

    /**
     * Peaks sampled while the job ran (in-process runs share these with whatever else the JVM
     * does).
     *
     * @param peakHeapBytes highest JVM heap in use seen
     * @param peakDirectBytes highest use of the JVM's direct buffer pool seen
     * @param peakRssBytes the process's peak resident set (VmHWM), -1 where unknown (not Linux);
     *     includes native memory such as RocksDB's
     */
    public record Memory(long peakHeapBytes, long peakDirectBytes, long peakRssBytes) {}

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** Writes this result to {@code file} as JSON. */
    public void write(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        JSON.writeValue(file.toFile(), this);
    }

    /** Reads a result written by {@link #write}. */
    public static RunResult read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), RunResult.class);
    }
}

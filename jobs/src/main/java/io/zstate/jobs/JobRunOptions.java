package io.zstate.jobs;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The options that say which example job to run and how big, shared by the runner and the
 * compare command (which passes them on to one runner per backend).
 */
abstract class JobRunOptions {

    @Option(names = "--job", defaultValue = "counter", description = "Job to run: ${COMPLETION-CANDIDATES}.")
    ZStateRunner.Job job;

    @Option(names = "--keys", paramLabel = "<keys>",
            description = "Distinct keys (default: the job's, 500000; 100000 for windows, whose every key-window is a"
                    + " result; 20000 customers for sql).")
    Long keysOption;

    /** The key count in effect: {@code --keys}, or the job's default; set by {@link #resolveKeys()}. */
    long keys;

    @Option(names = "--events", paramLabel = "<events>",
            description = "Events (default: the job's, 3000000; 100000 orders for sql, whose join keeps every 1.1 KiB"
                    + " order).")
    Long eventsOption;

    /** The event count in effect: {@code --events}, or the job's default; set by {@link #resolveKeys()}. */
    long events;

    @Option(names = "--parallelism", defaultValue = "2", description = "Parallelism (default ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--managed-memory", defaultValue = "256mb",
            description = "Managed memory of the TaskManager (default ${DEFAULT-VALUE}).")
    String managedMemory;

    @Option(names = "--checkpoint-interval", defaultValue = "2s",
            description = "Checkpoint interval, or 0 for none (default ${DEFAULT-VALUE}).")
    String checkpointInterval;

    @Option(names = "--incremental",
            description = "Incremental checkpoints (execution.checkpointing.incremental: zstate's deltas, RocksDB's"
                    + " shared SST files; HashMap has none and writes full ones).")
    boolean incremental;

    @Option(names = "--rate", defaultValue = "0",
            description = "Source rate in events/s over all subtasks, 0 for as fast as it goes (default ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--config", paramLabel = "<file>",
            description = "Flink configuration (YAML) to start from: zstate's options and any other key; the options "
                    + "above win over it (default: conf/flink-conf-embedded.yaml of the repository, if found).")
    Path configFile;

    /** The configuration file in effect: {@code --config}, or the repository's embedded one, or null. */
    Path configFile() {
        return configFile != null ? configFile : FlinkConfigFiles.findInRepository("flink-conf-embedded.yaml");
    }

    /** Sets {@link #keys} and {@link #events} from {@code --keys} and {@code --events} or the job's defaults. */
    void resolveKeys() {
        keys = keysOption != null ? keysOption : job.defaultKeys;
        events = eventsOption != null ? eventsOption : job.defaultEvents;
    }
}

package io.zstate.flink;

/**
 * Whether checkpoints are incremental (Flink's {@code execution.checkpointing.incremental}) and
 * zstate's two knobs for them ({@link ZStateOptions#DELTA_MEMORY}, {@link
 * ZStateOptions#CONSOLIDATE_RATIO}).
 */
record IncrementalSettings(boolean enabled, long deltaMemoryBytes, double consolidateRatio) {

    /** Full checkpoints, the defaults otherwise. */
    static final IncrementalSettings OFF = new IncrementalSettings(false,
            ZStateOptions.DELTA_MEMORY.defaultValue().getBytes(), ZStateOptions.CONSOLIDATE_RATIO.defaultValue());
}

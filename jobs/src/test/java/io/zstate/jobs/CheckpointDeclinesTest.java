package io.zstate.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The runner's summary tells a bounded job's start-and-end checkpoint declines (Flink counts them
 * as failed) from real failures, by Flink's own failure messages.
 */
class CheckpointDeclinesTest {

    @Test
    void startAndEndDeclinesAreNotFailures() {
        for (String decline : new String[] {
                "Checkpoint was declined (tasks not ready)",
                "Checkpoint was declined (task is closing)",
                "Checkpoint Coordinator is suspending.",
                "Not all required tasks are currently running.",
                "TaskManager received a checkpoint request for unknown task abc_0. Failure reason: Task local"
                        + " checkpoint failure."}) {
            assertThat(ZStateRunner.isStartOrEndDecline(decline)).as(decline).isTrue();
        }
    }

    @Test
    void realFailuresStayFailures() {
        for (String failure : new String[] {
                "Checkpoint expired before completing.",
                "Asynchronous task checkpoint failed.",
                "The zstate page store failed while writing a key of table t",
                null}) {
            assertThat(ZStateRunner.isStartOrEndDecline(failure)).as(String.valueOf(failure)).isFalse();
        }
    }
}

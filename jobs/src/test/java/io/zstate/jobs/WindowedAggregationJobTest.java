package io.zstate.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.jobs.WindowedAggregationJob.WindowStats;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.junit.jupiter.api.Test;

/** Job 2 gives exact window results on each backend, and its check notices a wrong one. */
class WindowedAggregationJobTest {

    private static final JobSize SIZE = new JobSize(500, 20_000, 0);
    private final WindowedAggregationJob job = new WindowedAggregationJob();

    @Test
    void everyWindowIsExactOnEachBackend() {
        for (String backend : new String[] {"zstate", "rocksdb", "hashmap"}) {
            RunnerHarness.Run run = RunnerHarness.run("--job", "windows", "--backend", backend,
                    "--keys", "500", "--events", "20000", "--managed-memory", "64mb");
            assertThat(run.exit()).as(run.out()).isZero();
            assertThat(run.out()).as(backend).contains(
                    "2,000 of 2,000 window results exact, readings counted 20,000 in short and 20,000 in long"
                            + " windows of 20,000: correct");
        }
    }

    @Test
    void theExpectationSplitsTheRoundsIntoWholeWindows() {
        // 40 rounds: short windows of 14 rounds (14, 14 and 12 readings a sensor), one long window of 42
        List<WindowStats> expected = WindowedAggregationJob.expected(SIZE);
        assertThat(expected).hasSize(500 * 3 + 500);
        assertThat(expected.subList(0, 3)).extracting(WindowStats::readings).containsExactly(14L, 14L, 12L);
        assertThat(expected.get(0).windowStart()).isEqualTo(WindowedAggregationJob.EPOCH);
        assertThat(expected.get(0).length()).isEqualTo(14 * 60_000L);
        assertThat(expected.get(1500).readings()).isEqualTo(40);
        assertThat(expected.get(1500).length()).isEqualTo(42 * 60_000L);
        WindowStats first = expected.get(0);
        assertThat(first.min()).isBetween(-100L, first.max());
        assertThat(first.max()).isLessThanOrEqualTo(300L);
    }

    @Test
    void theCheckAcceptsTheExpectedResultsInAnyOrder() {
        List<WindowStats> output = new ArrayList<>(WindowedAggregationJob.expected(SIZE));
        java.util.Collections.reverse(output);
        assertThat(job.check(output, SIZE).correct()).isTrue();
    }

    @Test
    void theCheckRejectsAMissingWindow() {
        List<WindowStats> output = new ArrayList<>(WindowedAggregationJob.expected(SIZE));
        output.remove(777);
        ExampleJob.Verdict verdict = job.check(output, SIZE);
        assertThat(verdict.correct()).isFalse();
        assertThat(verdict.summary()).contains("differs");
    }

    @Test
    void theCheckRejectsADuplicatedWindow() {
        List<WindowStats> output = new ArrayList<>(WindowedAggregationJob.expected(SIZE));
        output.add(output.get(1999));
        assertThat(job.check(output, SIZE).correct()).isFalse();
    }

    @Test
    void theCheckRejectsAWrongValue() {
        List<WindowStats> output = new ArrayList<>(WindowedAggregationJob.expected(SIZE));
        WindowStats right = output.get(1234);
        output.set(1234, new WindowStats(right.sensor(), right.windowStart(), right.windowEnd(),
                right.readings(), right.sum(), right.min(), right.max() + 1));
        ExampleJob.Verdict verdict = job.check(output, SIZE);
        assertThat(verdict.correct()).isFalse();
        assertThat(verdict.summary()).contains("window result 1,234 differs");
    }

    @Test
    void eventsAreFlinkPojosNotGenericTypes() {
        assertThat(TypeInformation.of(WindowedAggregationJob.Reading.class)).isInstanceOf(PojoTypeInfo.class);
        assertThat(TypeInformation.of(WindowStats.class)).isInstanceOf(PojoTypeInfo.class);
    }
}

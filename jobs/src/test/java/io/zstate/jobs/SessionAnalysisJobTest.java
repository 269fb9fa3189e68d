package io.zstate.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.jobs.SessionAnalysisJob.SessionSummary;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.junit.jupiter.api.Test;

/** Job 3 finds exactly the expected sessions on each backend, and its check notices a wrong one. */
class SessionAnalysisJobTest {

    private static final JobSize SIZE = new JobSize(500, 20_000, 0);
    private final SessionAnalysisJob job = new SessionAnalysisJob();

    @Test
    void everySessionIsExactOnEachBackend() {
        int sessions = SessionAnalysisJob.expected(SIZE).size();
        for (String backend : new String[] {"zstate", "rocksdb", "hashmap"}) {
            RunnerHarness.Run run = RunnerHarness.run("--job", "sessions", "--backend", backend,
                    "--keys", "500", "--events", "20000", "--managed-memory", "64mb");
            assertThat(run.exit()).as(run.out()).isZero();
            assertThat(run.out()).as(backend).contains(String.format(
                    "%,d of %,d sessions exact, 20,000 clicks in sessions of 20,000: correct", sessions, sessions));
        }
    }

    @Test
    void expectedSessionsAreSeparatedByMoreThanTheGap() {
        List<SessionSummary> expected = SessionAnalysisJob.expected(SIZE);
        long clicks = 0;
        for (int n = 0; n < expected.size(); n++) {
            SessionSummary session = expected.get(n);
            clicks += session.clicks();
            assertThat(session.end() - session.start()).isLessThanOrEqualTo((session.clicks() - 1) * SessionAnalysisJob.GAP_MS);
            assertThat(session.distinctPages()).isBetween(1, session.clicks());
            assertThat(session.newPages()).isBetween(0, session.distinctPages());
            if (n > 0 && expected.get(n - 1).user() == session.user()) {
                assertThat(session.start() - expected.get(n - 1).end()).isGreaterThan(SessionAnalysisJob.GAP_MS);
            } else {
                assertThat(session.newPages()).as("a user's first session").isEqualTo(session.distinctPages());
            }
        }
        assertThat(clicks).isEqualTo(SIZE.events());
        // 40 clicks a user and a pause over the gap about 28% of the time: several sessions each
        assertThat(expected.size()).isBetween(500 * 6, 500 * 18);
    }

    @Test
    void theCheckAcceptsTheExpectedSessionsInAnyOrder() {
        List<SessionSummary> output = new ArrayList<>(SessionAnalysisJob.expected(SIZE));
        Collections.shuffle(output, new java.util.Random(1));
        assertThat(job.check(output, SIZE).correct()).isTrue();
    }

    @Test
    void theCheckRejectsAMissingSession() {
        List<SessionSummary> output = new ArrayList<>(SessionAnalysisJob.expected(SIZE));
        output.remove(output.size() - 1);
        ExampleJob.Verdict verdict = job.check(output, SIZE);
        assertThat(verdict.correct()).isFalse();
        assertThat(verdict.summary()).contains("sessions, expected");
    }

    @Test
    void theCheckRejectsAWrongValue() {
        List<SessionSummary> output = new ArrayList<>(SessionAnalysisJob.expected(SIZE));
        SessionSummary right = output.get(42);
        output.set(42, new SessionSummary(right.user(), right.start(), right.end(), right.clicks(),
                right.distinctPages(), right.topPage(), right.newPages() + 1));
        ExampleJob.Verdict verdict = job.check(output, SIZE);
        assertThat(verdict.correct()).isFalse();
        assertThat(verdict.summary()).contains("session 42 differs");
    }

    @Test
    void theCheckRejectsTwoSessionsMergedIntoOne() {
        List<SessionSummary> output = new ArrayList<>(SessionAnalysisJob.expected(SIZE));
        SessionSummary first = output.get(0);
        SessionSummary second = output.remove(1);
        output.set(0, new SessionSummary(first.user(), first.start(), second.end(), first.clicks() + second.clicks(),
                first.distinctPages(), first.topPage(), first.newPages()));
        assertThat(job.check(output, SIZE).correct()).isFalse();
    }

    @Test
    void eventsAreFlinkPojosNotGenericTypes() {
        assertThat(TypeInformation.of(SessionAnalysisJob.Click.class)).isInstanceOf(PojoTypeInfo.class);
        assertThat(TypeInformation.of(SessionSummary.class)).isInstanceOf(PojoTypeInfo.class);
    }
}

package io.zstate.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Job 4, SQL: a regular join whose order rows (~1.1 KiB, no unique key) the join keeps whole as
 * MapState user keys, and an aggregation grouped by 600-byte strings, exact on each backend with
 * default options; and its check notices a missing, duplicated or wrong result.
 */
class WideRowSqlJobTest {

    private static final JobSize SIZE = new JobSize(300, 3_000, 0);
    private final WideRowSqlJob job = new WideRowSqlJob();

    @Test
    void joinsAndGroupsExactlyOnEachBackend() {
        for (String backend : new String[] {"zstate", "rocksdb", "hashmap"}) {
            RunnerHarness.Run run = RunnerHarness.run("--job", "sql", "--backend", backend,
                    "--keys", "300", "--events", "3000", "--managed-memory", "64mb");
            assertThat(run.exit()).as(run.out()).isZero();
            assertThat(run.out()).as(backend).contains(
                    "3,000 of 3,000 orders joined", "97 of 97 groups exact: correct");
        }
    }

    @Test
    void rowsAndKeysAreAsWideAsTheJobSays() {
        assertThat(WideRowSqlJob.payload(12345).length()).isGreaterThanOrEqualTo(1_100);
        assertThat(WideRowSqlJob.segment(77).length()).isEqualTo(600);
    }

    @Test
    void theCheckAcceptsTheExpectedOutputAndRejectsAWrongOne() {
        List<String> output = expectedOutput();
        assertThat(job.check(output, SIZE).correct()).as(job.check(output, SIZE).summary()).isTrue();

        List<String> missing = new ArrayList<>(output);
        missing.remove(0);
        assertThat(job.check(missing, SIZE).correct()).isFalse();

        List<String> duplicated = new ArrayList<>(output);
        duplicated.add(output.get(5));
        assertThat(job.check(duplicated, SIZE).correct()).isFalse();

        List<String> wrongGroup = new ArrayList<>(output);
        String last = wrongGroup.remove(wrongGroup.size() - 1);
        String[] f = last.split("\\|");
        wrongGroup.add("A|+U|" + f[2] + "|" + (Long.parseLong(f[3]) + 1) + "|" + f[4]);
        assertThat(job.check(wrongGroup, SIZE).summary()).contains("group " + f[2]);
        assertThat(job.check(wrongGroup, SIZE).correct()).isFalse();
    }

    /** The job's correct output: every order joined, then each group's final count as an insert. */
    private static List<String> expectedOutput() {
        List<String> output = new ArrayList<>();
        for (long i = 0; i < SIZE.events(); i++) {
            long customer = WideRowSqlJob.customer(i, SIZE.keys());
            output.add("J|+I|" + customer + "|" + i % 100 + "|" + WideRowSqlJob.segment(customer).length() + "|"
                    + WideRowSqlJob.payload(i).length());
        }
        long[][] groups = WideRowSqlJob.expectedGroups(SIZE);
        for (int g = 0; g < WideRowSqlJob.GROUPS; g++) {
            if (groups[g][0] > 0) {
                output.add("A|+I|" + g + "|" + groups[g][0] + "|" + groups[g][1]);
            }
        }
        return output;
    }
}

package io.zstate.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Runs the corpus and every phase of the allocator report on a tiny budget, so CI exercises the
 * code path the report takes: invariants are checked inside each phase (a violation throws), and
 * the numbers must be sane.
 */
class AllocatorReportTest {

    @Test
    void corpusIsDeterministicAndCompressesLikeStatePages() {
        StatePageCorpus a = StatePageCorpus.generate(7, 500);
        StatePageCorpus b = StatePageCorpus.generate(7, 500);
        assertThat(a.sizes()).isEqualTo(b.sizes());
        assertThat(a.data()).isEqualTo(b.data());
        assertThat(a.compressionRatio()).isBetween(1.3, 3.0);
        for (int i = 0; i < a.pages(); i++) {
            assertThat(a.rawSize(i)).isBetween(StatePageCorpus.PAGE_SIZE / 2 - 700, StatePageCorpus.PAGE_SIZE);
            assertThat(a.size(i)).isPositive().isLessThan(a.rawSize(i));
        }
        assertThat(a.summary()).contains("all", "ListState<Event>");
    }

    @Test
    void reportPhasesHoldOnATinyBudget() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ReportOptions options = ReportOptions.parse("--budget-mib", "8", "--pages", "2000", "--seed", "3", "--describe", " ");
        List<PoolResult> results = AllocatorReport.run(options, new PrintStream(bytes, true, StandardCharsets.UTF_8));

        assertThat(results).hasSize(4);
        for (PoolResult r : results) {
            for (PhaseStats s : List.of(r.fill(), r.afterFree(), r.afterCompact())) {
                assertThat(s.utilization()).as(r.config().label()).isGreaterThan(0.0).isLessThanOrEqualTo(1.0);
                assertThat(s.metadataBytesPerObject()).isPositive();
            }
            assertThat(r.afterFree().objects()).isEqualTo(r.fill().objects() - r.fill().objects() / 2);
            assertThat(r.verifiedObjects()).isEqualTo(r.afterFree().objects());
            assertThat(r.afterCompact().frames()).isEqualTo(r.afterFree().frames() - r.compactedFrames());
            assertThat(r.reclaim().wholeFrames()).as(r.config().label()).isTrue();
            assertThat(r.reclaim().emptied()).isTrue();
            assertThat(r.reclaim().objectsEvicted()).isEqualTo(r.fill().objects());
            if (r.config().isZsmalloc()) {
                assertThat(r.afterCompact().utilization()).isGreaterThan(r.afterFree().utilization());
            }
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("whole frames", "zbud / zsmalloc", "after compaction (ZPools.describe)");
    }

    @Test
    void optionsRejectUnknownArguments() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ReportOptions.parse("--budget", "8"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("usage");
    }
}

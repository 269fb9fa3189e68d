package io.zstate.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
        assertThat(a.pageSize()).isEqualTo(StatePageCorpus.DEFAULT_PAGE_SIZE).isEqualTo(4096);
        assertThat(a.sizes()).isEqualTo(b.sizes());
        assertThat(a.data()).isEqualTo(b.data());
        assertThat(StatePageCorpus.generate(7, 500, 4096).data()).isEqualTo(a.data());
        assertThat(a.compressionRatio()).isBetween(1.3, 3.0);
        for (int i = 0; i < a.pages(); i++) {
            assertThat(a.rawSize(i)).isBetween(a.pageSize() / 2 - 700, a.pageSize());
            assertThat(a.size(i)).isPositive().isLessThan(a.rawSize(i));
        }
        for (StateKind k : StateKind.values()) {
            assertThat(a.discarded(k)).as(k.label()).isZero(); // no record reaches half of 4 KiB
        }
        assertThat(a.summary()).contains("500 pages of 4096 B", "all", "ListState<Event>")
                .doesNotContain("discarded");
    }

    @Test
    void corpusOfOneKibPagesHoldsWholeRecordsUpToHalfAPage() {
        StatePageCorpus a = StatePageCorpus.generate(7, 2000, 1024);
        StatePageCorpus b = StatePageCorpus.generate(7, 2000, 1024);
        assertThat(a.pageSize()).isEqualTo(1024);
        assertThat(a.sizes()).isEqualTo(b.sizes());
        assertThat(a.data()).isEqualTo(b.data());
        assertThat(a.sizes()).isNotEqualTo(StatePageCorpus.generate(7, 2000).sizes());
        assertThat(a.compressionRatio()).isBetween(1.3, 3.0);
        int[] rawPerKind = new int[StateKind.values().length];
        for (int i = 0; i < a.pages(); i++) {
            // a page is never empty: every record is at most half a page, every fill target at least half
            assertThat(a.rawSize(i)).isPositive().isLessThanOrEqualTo(1024);
            assertThat(a.size(i)).isPositive().isLessThan(a.rawSize(i));
            if (a.kind(i) != StateKind.LIST_EVENTS) {
                // records of at most 65 bytes: the page ends within one record of its 512..1024 target
                assertThat(a.rawSize(i)).isGreaterThan(512 - 65);
            }
            rawPerKind[a.kind(i).ordinal()]++;
        }
        assertThat(rawPerKind).doesNotContain(0);
        // only list records (up to 781 bytes) exceed half of 1 KiB; a few percent of them do
        assertThat(a.discarded(StateKind.LIST_EVENTS)).isPositive();
        assertThat((double) a.discarded(StateKind.LIST_EVENTS) / a.drawn(StateKind.LIST_EVENTS)).isBetween(0.01, 0.10);
        assertThat(a.discarded(StateKind.VALUE_COUNTER) + a.discarded(StateKind.WINDOW_AGGREGATE)
                + a.discarded(StateKind.MAP_VISITS)).isZero();
        assertThat(a.maxSize()).isLessThan(1024);
        assertThat(a.summary()).contains("2000 pages of 1024 B", "longer than half a page (512 B) and discarded");
    }

    @Test
    void corpusRejectsPageSizesOutsidePowersOfTwoFrom1KibTo32Kib() {
        for (int bad : new int[] {512, 1000, 3072, 65536, 0, -4096}) {
            assertThatThrownBy(() -> StatePageCorpus.generate(1, 10, bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("page size " + bad)
                    .hasMessageContaining("power of two from 1024 to 32768");
        }
    }

    @Test
    void reportPhasesHoldOnATinyBudget() {
        checkReport("--budget-mib", "8", "--pages", "2000", "--seed", "3", "--describe", " ");
    }

    @Test
    void reportPhasesHoldOnATinyBudgetWithOneKibPages() {
        ReportOptions options = ReportOptions.parse("--budget-mib", "8", "--pages", "2000", "--seed", "3",
                "--page-size", "1024", "--describe");
        assertThat(options.pageSize()).isEqualTo(1024);
        String text = checkReport("--budget-mib", "8", "--pages", "2000", "--seed", "3", "--page-size", "1024",
                "--describe");
        assertThat(text).contains("corpus 2000 pages of 1024 B", "Corpus: 2000 pages of 1024 B");
    }

    @Test
    void pageSizeDefaultsTo4Kib() {
        assertThat(ReportOptions.parse().pageSize()).isEqualTo(4096);
        assertThat(ReportOptions.parse(" ").pageSize()).isEqualTo(4096);
        assertThat(ReportOptions.parse("--page-size", "32768").pageSize()).isEqualTo(32768);
    }

    @ParameterizedTest
    @ValueSource(strings = {"1000", "512", "65536", "0", "-1024", "4k", "99999999999"})
    void optionsRejectBadPageSizesNamingTheOptionAndItsValues(String bad) {
        assertThatThrownBy(() -> ReportOptions.parse("--page-size", bad))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--page-size")
                .hasMessageContaining("power of two from 1024 to 32768")
                .hasMessageContaining("1024, 2048, 4096, 8192, 16384 or 32768")
                .hasMessageContaining("'" + bad + "'")
                .hasMessageContaining("usage");
    }

    @Test
    void optionsRejectAMissingPageSize() {
        assertThatThrownBy(() -> ReportOptions.parse("--page-size"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--page-size needs a value");
    }

    @Test
    void reportStopsWhenPagesDoNotFitAFrame() {
        // 8 KiB pages compress to more than zbud stores in a 4 KiB frame (3968 B)
        ReportOptions options = ReportOptions.parse("--budget-mib", "1", "--pages", "300", "--page-size", "8192");
        assertThatThrownBy(() -> AllocatorReport.run(options, new PrintStream(new ByteArrayOutputStream(), true,
                        StandardCharsets.UTF_8)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--page-size 8192")
                .hasMessageContaining("zbud");
    }

    /** Runs the report with {@code args}, checks every pool's phases, returns the printed text. */
    private static String checkReport(String... args) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ReportOptions options = ReportOptions.parse(args);
        List<PoolResult> results = AllocatorReport.run(options, new PrintStream(bytes, true, StandardCharsets.UTF_8));

        assertThat(results).as("zbud, z3fold, zlog, xcfmalloc and zsmalloc with three chain sizes").hasSize(7);
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
            assertThat(r.afterVerify().reads()).isEqualTo(r.verifiedObjects());
            assertThat(r.afterVerify().copiesPerRead()).as(r.config().label()).isBetween(1.0, 4.0);
            if (r.config().isZsmalloc() || r.config().type().equals("zlog")) {
                assertThat(r.afterCompact().utilization()).isGreaterThan(r.afterFree().utilization());
            }
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("whole frames", "zbud / it", "after compaction (ZPools.describe)", "copies/read");
        return text;
    }

    @Test
    void optionsRejectUnknownArguments() {
        assertThatThrownBy(() -> ReportOptions.parse("--budget", "8"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("usage");
    }
}

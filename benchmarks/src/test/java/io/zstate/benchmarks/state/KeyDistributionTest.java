package io.zstate.benchmarks.state;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** The key streams: uniform visits every key alike, zipf concentrates on few keys, both deterministic. */
class KeyDistributionTest {

    private static final int KEYS = 50_000;

    @Property(tries = 50)
    void permutationHoldsEveryIndexOnce(@ForAll @IntRange(min = 1, max = 5_000) int n, @ForAll long seed) {
        int[] order = KeyDistribution.permutation(n, new SplittableRandom(seed));
        int[] sorted = order.clone();
        Arrays.sort(sorted);
        for (int i = 0; i < n; i++) {
            assertThat(sorted[i]).isEqualTo(i);
        }
    }

    @Test
    void uniformVisitsEveryKeyAlike() {
        long[] counts = counts(KeyDistribution.uniform.stream(KEYS, 1));
        long min = Arrays.stream(counts).min().orElseThrow();
        long max = Arrays.stream(counts).max().orElseThrow();
        assertThat(max - min).isLessThanOrEqualTo(1);
        assertThat(topTenthShare(counts)).isBetween(0.09, 0.12);
    }

    @Test
    void zipfPutsMostAccessesOnAFewKeys() {
        long[] counts = counts(KeyDistribution.zipf.stream(KEYS, 1));
        // s = 0.99 over 50,000 keys: the top tenth of keys get about 80% of the accesses
        assertThat(topTenthShare(counts)).isBetween(0.70, 0.90);
        assertThat(Arrays.stream(counts).filter(c -> c > 0).count()).isGreaterThan(KEYS / 2);
    }

    @Test
    void streamsAreDeterministicForASeed() {
        assertThat(KeyDistribution.zipf.stream(KEYS, 5)).isEqualTo(KeyDistribution.zipf.stream(KEYS, 5));
        assertThat(KeyDistribution.zipf.stream(KEYS, 5)).isNotEqualTo(KeyDistribution.zipf.stream(KEYS, 6));
    }

    private static long[] counts(int[] stream) {
        assertThat(stream).hasSize(KeyDistribution.STREAM_LENGTH);
        long[] counts = new long[KEYS];
        for (int key : stream) {
            counts[key]++;
        }
        return counts;
    }

    private static double topTenthShare(long[] counts) {
        long[] sorted = counts.clone();
        Arrays.sort(sorted);
        long top = 0;
        for (int i = sorted.length - sorted.length / 10; i < sorted.length; i++) {
            top += sorted[i];
        }
        return (double) top / KeyDistribution.STREAM_LENGTH;
    }
}

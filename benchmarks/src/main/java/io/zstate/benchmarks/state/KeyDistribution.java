package io.zstate.benchmarks.state;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The order in which a state benchmark visits its setup keys, precomputed so the measured loop
 * does one array read per access.
 *
 * <pre>
 *   uniform   setup keys in a shuffled order, cycled (what flink-benchmarks' KeyValue does)
 *   zipf      key of rank r drawn with probability ~ 1 / r^0.99; ranks are mapped to keys by a
 *             random permutation, so hot keys are scattered over key groups and pages
 * </pre>
 *
 * Zipf draws invert the cumulative distribution by binary search over a table of the 500,000
 * rank weights, once per JVM.
 */
public enum KeyDistribution {
    uniform,
    zipf;

    /** Zipf exponent of the skewed distribution (0.99, as YCSB and the issue use). */
    public static final double ZIPF_EXPONENT = 0.99;

    /** Accesses precomputed per stream; a power of two, so the cursor wraps with a mask. */
    public static final int STREAM_LENGTH = 1 << 22;

    /**
     * {@link #STREAM_LENGTH} indexes into {@code [0, keys)}, deterministic for a seed.
     */
    public int[] stream(int keys, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int[] order = permutation(keys, random);
        int[] stream = new int[STREAM_LENGTH];
        if (this == uniform) {
            for (int i = 0; i < STREAM_LENGTH; i++) {
                stream[i] = order[i % keys];
            }
            return stream;
        }
        double[] cumulative = new double[keys];
        double sum = 0;
        for (int rank = 0; rank < keys; rank++) {
            sum += 1.0 / Math.pow(rank + 1, ZIPF_EXPONENT);
            cumulative[rank] = sum;
        }
        for (int i = 0; i < STREAM_LENGTH; i++) {
            int rank = Arrays.binarySearch(cumulative, random.nextDouble() * sum);
            rank = rank >= 0 ? rank : Math.min(-rank - 1, keys - 1);
            stream[i] = order[rank];
        }
        return stream;
    }

    /** A random permutation of {@code [0, n)} (Fisher-Yates). */
    static int[] permutation(int n, SplittableRandom random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }
}

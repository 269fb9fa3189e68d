package io.zstate.benchmarks;

import io.zstate.allocator.PoolTrace;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Synthetic pool traces of 4 KiB pages whose compressed sizes follow a distribution published from
 * the kernel world, so the kernel's allocator relations (zbud against zsmalloc, zsmalloc after
 * compaction, z3fold against zsmalloc) can be set beside ours on the kernel's own kind of data.
 *
 * <pre>
 * Distributions (fixed before any replay; docs/allocator.md, "The kernel's relations"):
 *   magenheimer2013    zswap's zsize as Dan Magenheimer measured it (LKML, 2013-02-28, "RE: zsmalloc
 *                      limitations and related topics"): mean 694 B, standard deviation 474 B,
 *                      11% zero pages compressing to 28 B. No histogram was published, so: 11% of
 *                      28 B, the other 89% log-normal with the mean and deviation that give the
 *                      whole mixture 694 and 474 (776.3 and 436.9 B), clipped to 16..3,968 B
 *   magenheimer2013x2  the same draws doubled, as his own second experiment did (he reported mean
 *                      1,340, deviation 842 for it), clipped likewise
 *
 * Trace phases, objects numbered in store order:
 *   fill      store n objects
 *   free      free a random half (seeded shuffle)
 *   refill    store n/2 new objects
 *   free      free a random half of the live ones
 * Each live object is read once after each phase, so copies per read are counted.
 * </pre>
 */
public final class KernelSizeTrace {

    /** The published compressed-size distributions this class draws from. */
    public enum Distribution {
        magenheimer2013(1),
        magenheimer2013x2(2);

        /** Share of zero pages and their compressed size (Magenheimer 2013). */
        static final double ZERO_SHARE = 0.11;
        static final int ZERO_SIZE = 28;
        /** Mean and deviation of the non-zero pages, derived from the published 694 / 474 overall. */
        static final double REST_MEAN = 776.3;
        static final double REST_SD = 436.9;
        /** Clip: a floor for the log-normal's tail, and zbud's largest object in a 4 KiB frame. */
        static final int MIN_SIZE = 16;
        static final int MAX_SIZE = 3968;

        final int scale;

        Distribution(int scale) {
            this.scale = scale;
        }

        /** One compressed size. */
        int draw(SplittableRandom random) {
            double size;
            if (random.nextDouble() < ZERO_SHARE) {
                size = ZERO_SIZE;
            } else {
                double sigma2 = Math.log(1 + (REST_SD * REST_SD) / (REST_MEAN * REST_MEAN));
                double mu = Math.log(REST_MEAN) - sigma2 / 2;
                size = Math.exp(mu + Math.sqrt(sigma2) * random.nextGaussian());
            }
            return (int) Math.max(MIN_SIZE, Math.min(MAX_SIZE, Math.round(size * scale)));
        }
    }

    /** Objects the fill stores by default (about 35 MB for magenheimer2013). */
    public static final int DEFAULT_OBJECTS = 50_000;

    private KernelSizeTrace() {}

    /** Writes the trace of {@code distribution} with {@code objects} in the fill to {@code file}. */
    public static void write(Path file, Distribution distribution, int objects, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed);
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        int total = objects + objects / 2;
        int[] live = new int[total];
        int liveCount = 0;
        int nextId = 0;
        try (OutputStream out = Files.newOutputStream(file); PoolTrace.Writer w = new PoolTrace.Writer(out, 4096)) {
            for (int i = 0; i < objects; i++) {
                w.malloc(nextId, distribution.draw(random));
                live[liveCount++] = nextId++;
            }
            liveCount = readAll(w, live, liveCount);
            liveCount = freeHalf(w, live, liveCount, random);
            liveCount = readAll(w, live, liveCount);
            for (int i = 0; i < objects / 2; i++) {
                w.malloc(nextId, distribution.draw(random));
                live[liveCount++] = nextId++;
            }
            liveCount = readAll(w, live, liveCount);
            liveCount = freeHalf(w, live, liveCount, random);
            readAll(w, live, liveCount);
            if (w.failure() != null) {
                throw w.failure();
            }
        }
    }

    private static int readAll(PoolTrace.Writer w, int[] live, int count) {
        for (int i = 0; i < count; i++) {
            w.event(PoolTrace.READ, live[i]);
        }
        return count;
    }

    /** Frees a random half of {@code live[0..count)} (a partial Fisher-Yates); returns the count left. */
    private static int freeHalf(PoolTrace.Writer w, int[] live, int count, SplittableRandom random) {
        int frees = count / 2;
        for (int i = 0; i < frees; i++) {
            int j = i + random.nextInt(count - i);
            int t = live[i];
            live[i] = live[j];
            live[j] = t;
            w.event(PoolTrace.FREE, live[i]);
        }
        System.arraycopy(live, frees, live, 0, count - frees);
        return count - frees;
    }

    /** The file name a distribution's trace is written under. */
    static String fileName(Distribution d) {
        return String.format(Locale.ROOT, "kernel-%s.trace.gz", d.name());
    }
}

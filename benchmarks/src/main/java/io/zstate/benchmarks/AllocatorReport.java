package io.zstate.benchmarks;

import io.zstate.allocator.FrameSource;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The allocator report: zbud, z3fold, zlog, xcfmalloc and zsmalloc (chain sizes 4, 8, 16) filled
 * with LZ4-compressed Flink state pages from {@link StatePageCorpus}, measured after a fill to the
 * budget, after freeing a random half, after compaction (with a read of every survivor), and while
 * reclaiming (see {@link PoolExperiment}).
 *
 * <p>Run it with {@code mvn -q -DskipTests -Pallocator-report verify} from the repository root;
 * {@code -Dreport.args="--budget-mib 64 --seed 7 --describe"} passes arguments ({@link
 * ReportOptions#USAGE}); {@code --page-size 1024} uses the page store's default page size
 * instead of 4 KiB. Any broken invariant, mismatching byte or leaked frame throws.
 */
public final class AllocatorReport {

    private AllocatorReport() {}

    public static void main(String[] args) {
        try {
            run(ReportOptions.parse(args), System.out);
        } catch (IllegalArgumentException e) { // a bad argument, or a page size whose pages do not fit a frame
            System.err.println(e.getMessage());
            throw e;
        }
    }

    /**
     * Runs every phase for every allocator, prints the tables to {@code out}, returns the results.
     *
     * @throws IllegalArgumentException if a corpus page compresses to more than an allocator
     *     stores in a 4 KiB frame (page sizes of 8 KiB and more)
     */
    public static List<PoolResult> run(ReportOptions options, PrintStream out) {
        long t = System.nanoTime();
        out.printf("Allocator report: %s%n", options);
        out.printf("JVM: %s %s, %d processors%n%n", System.getProperty("java.vm.name"),
                System.getProperty("java.runtime.version"), Runtime.getRuntime().availableProcessors());
        StatePageCorpus corpus = StatePageCorpus.generate(options.seed(), options.pages(), options.pageSize());
        out.println(corpus.summary());
        List<PoolConfig> configs = new ArrayList<>();
        configs.add(PoolConfig.zbud());
        configs.add(PoolConfig.z3fold());
        configs.add(PoolConfig.zlog());
        configs.add(PoolConfig.xcfmalloc());
        for (int chain : options.chainSizes()) {
            configs.add(PoolConfig.zsmalloc(chain));
        }
        for (PoolConfig config : configs) {
            int max = config.maxObjectSize();
            if (corpus.maxSize() > max) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "--page-size %d: pages compress to up to %d B, more than %s stores in a %d-B frame (%d B);"
                                + " use a smaller --page-size",
                        options.pageSize(), corpus.maxSize(), config.label(), FrameSource.DEFAULT_FRAME_SIZE, max));
            }
        }
        List<PoolResult> results = new ArrayList<>();
        for (PoolConfig config : configs) {
            PoolResult r = new PoolExperiment(config, corpus, options.budgetBytes(), options.seed()).run(options.describe());
            out.printf("%-12s done: fill %d ms, free %d ms, compact %d ms, reclaim %d ms%n", config.label(),
                    r.fill().millis(), r.afterFree().millis(), r.afterCompact().millis(), r.reclaim().millis());
            results.add(r);
        }
        out.println();
        ReportTables.print(results, options.budgetBytes() / FrameSource.DEFAULT_FRAME_SIZE, out);
        out.printf("%nLeak check: every pool closed with 0 frames in use at its frame source. Total %.1f s.%n",
                (System.nanoTime() - t) / 1e9);
        return results;
    }
}

package io.zstate.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The command line of {@link AllocatorReport}: budget, seed, corpus size, page size, chain sizes
 * and whether to print the per-class table. Plain {@code --name value} pairs; blank arguments are
 * ignored (Maven passes one for an empty {@code -Dreport.args}).
 */
public record ReportOptions(long budgetBytes, long seed, int pages, int pageSize, int[] chainSizes, boolean describe) {

    public static final long DEFAULT_BUDGET_MIB = 256;
    public static final long DEFAULT_SEED = 42;

    static final String USAGE = String.join(System.lineSeparator(),
            "usage: AllocatorReport [--budget-mib N] [--seed N] [--pages N] [--page-size N] [--chains 4,8,16]"
                    + " [--describe]",
            "  --budget-mib N   frame budget of each pool in MiB of 4 KiB frames (default 256)",
            "  --seed N         seed of the corpus and of the random frees (default 42)",
            "  --pages N        corpus pages whose compressed sizes the pools cycle through (default 20000)",
            "  --page-size N    bytes of an uncompressed corpus page: 1024, 2048, 4096, 8192, 16384 or 32768",
            "                   (default 4096; the page store's default is 1024). The report stops if a page",
            "                   compresses to more than an allocator stores in a 4 KiB frame (zbud 3968 B,",
            "                   zlog and xcfmalloc 4072 B,",
            "                   zsmalloc 4088 B), which in practice rules out 8192 and above",
            "  --chains LIST    zsmalloc chain sizes, comma-separated, 4..16 (default 4,8,16)",
            "  --describe       print the zsmalloc per-class table after compaction");

    public static ReportOptions defaults() {
        return new ReportOptions(DEFAULT_BUDGET_MIB << 20, DEFAULT_SEED, StatePageCorpus.DEFAULT_PAGES,
                StatePageCorpus.DEFAULT_PAGE_SIZE, new int[] {4, 8, 16}, false);
    }

    /**
     * Parses the arguments.
     *
     * @throws IllegalArgumentException naming the bad argument, with the usage text
     */
    public static ReportOptions parse(String... args) {
        ReportOptions o = defaults();
        long budget = o.budgetBytes;
        long seed = o.seed;
        int pages = o.pages;
        int pageSize = o.pageSize;
        int[] chains = o.chainSizes;
        boolean describe = false;
        List<String> list = new ArrayList<>();
        for (String a : args) {
            if (a != null && !a.isBlank()) {
                list.add(a.trim());
            }
        }
        for (int i = 0; i < list.size(); i++) {
            String name = list.get(i);
            switch (name) {
                case "--describe":
                    describe = true;
                    break;
                case "--budget-mib":
                    budget = positive(name, value(list, ++i, name)) << 20;
                    break;
                case "--seed":
                    seed = number(name, value(list, ++i, name));
                    break;
                case "--pages":
                    pages = (int) Math.min(Integer.MAX_VALUE, positive(name, value(list, ++i, name)));
                    break;
                case "--page-size":
                    pageSize = pageSize(value(list, ++i, name));
                    break;
                case "--chains":
                    chains = chainList(value(list, ++i, name));
                    break;
                default:
                    throw new IllegalArgumentException("unknown argument '" + name + "'\n" + USAGE);
            }
        }
        return new ReportOptions(budget, seed, pages, pageSize, chains, describe);
    }

    private static String value(List<String> args, int i, String name) {
        if (i >= args.size()) {
            throw new IllegalArgumentException(name + " needs a value\n" + USAGE);
        }
        return args.get(i);
    }

    private static long number(String name, String text) {
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " needs a whole number, not '" + text + "'\n" + USAGE, e);
        }
    }

    private static long positive(String name, String text) {
        long v = number(name, text);
        if (v < 1) {
            throw new IllegalArgumentException(name + " must be at least 1, not " + v + "\n" + USAGE);
        }
        return v;
    }

    private static int pageSize(String text) {
        long v;
        try {
            v = Long.parseLong(text);
        } catch (NumberFormatException e) {
            v = -1;
        }
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE || !StatePageCorpus.isValidPageSize((int) v)) {
            throw new IllegalArgumentException("--page-size must be a power of two from "
                    + StatePageCorpus.MIN_PAGE_SIZE + " to " + StatePageCorpus.MAX_PAGE_SIZE
                    + " (1024, 2048, 4096, 8192, 16384 or 32768), not '" + text + "'\n" + USAGE);
        }
        return (int) v;
    }

    private static int[] chainList(String text) {
        String[] parts = text.split(",");
        int[] chains = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            chains[i] = (int) positive("--chains", parts[i].trim());
        }
        return chains;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int c : chainSizes) {
            sb.append(sb.length() == 0 ? "" : ",").append(c);
        }
        return String.format(Locale.ROOT, "budget %d MiB, seed %d, corpus %d pages of %d B, zsmalloc chains %s%s",
                budgetBytes >> 20, seed, pages, pageSize, sb, describe ? ", describe" : "");
    }
}

package io.zstate.pagestore.layout;

/**
 * Same-filled pages (the kernel's zswap same-filled pages): a page whose every 8-byte word is
 * the same is kept as that word, with no allocation. An empty bucket is all zeros, so a bucket
 * emptied by deletes costs nothing.
 */
public final class SameFilled {

    private SameFilled() {}

    /** Whether every word of the page equals its first. */
    public static boolean is(byte[] page) {
        long first = word(page);
        for (int i = 8; i < page.length; i += 8) {
            if ((long) Pages.I64.get(page, i) != first) {
                return false;
            }
        }
        return true;
    }

    /** The page's first word: for a same-filled page, the word it repeats. */
    public static long word(byte[] page) {
        return (long) Pages.I64.get(page, 0);
    }

    /** Writes {@code word} over the whole page. */
    public static void fill(byte[] page, long word) {
        for (int i = 0; i < page.length; i += 8) {
            Pages.I64.set(page, i, word);
        }
    }
}

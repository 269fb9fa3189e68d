package io.zstate.pagestore.index;

import java.util.Arrays;

/**
 * The extendible-hashing directory of one table and key-group: {@code 2^depth} bucket-chain
 * heads indexed by the low bits of a key prefix's hash. Buckets split but never merge.
 *
 * <pre>
 *   pages[hash & (2^depth - 1)] = head page of the bucket chain the hash falls in
 *   a bucket of local depth d < depth appears at every index that agrees with it in d low bits;
 *   its first index (the lowest) is the one below 2^d
 * </pre>
 *
 * The directory is bounded: it doubles only while it has fewer than {@link
 * #ENTRIES_PER_BUCKET} entries per bucket chain (or fewer than {@link #FREE_DOUBLING} entries).
 * Without a bound, a few entries whose hashes share many low bits force doubling after doubling:
 * with map state (ten entries of a key share one prefix, two keys fill a 1 KiB page) the
 * directories of 5,000,000 entries grew to 120 MB of int[] for 360,000 pages. Past the bound a
 * full bucket grows an overflow page instead, and splits once buckets catch up.
 *
 * <p>Plain heap data: touches no page. {@link BucketIndex} decides when to split. A frozen view
 * shares the array until the next split copies it.
 */
final class Directory {

    static final int ENTRIES_PER_BUCKET = 4;
    static final int FREE_DOUBLING = 64;
    /** The deepest a bucket may split. */
    static final int MAX_DEPTH = 24;

    int[] pages = new int[1];
    /**
     * Whether a frozen view holds {@link #pages} (Tables.freeze): the next change copies the
     * array first (copy on write), so a freeze costs nothing per bucket.
     */
    boolean shared;
    int depth;
    /** Distinct bucket chains. */
    int buckets = 1;
    /** The table's hash seed (Hashing), the same for every key-group of the table. */
    final int seed;

    Directory(int firstBucket, int seed) {
        pages[0] = firstBucket;
        this.seed = seed;
    }

    /**
     * A directory placed from a checkpoint: its heads as they were, the depth their count says,
     * the bucket chains counted by their first indexes ({@code depthOf} a head's local depth).
     */
    static Directory placed(int[] heads, int seed, java.util.function.IntUnaryOperator depthOf) {
        Directory d = new Directory(heads[0], seed);
        d.pages = heads;
        d.depth = Integer.numberOfTrailingZeros(heads.length);
        d.buckets = 0;
        for (int i = 0; i < heads.length; i++) {
            if (isFirstIndex(i, depthOf.applyAsInt(heads[i]))) {
                d.buckets++;
            }
        }
        return d;
    }

    /** The head of the bucket chain a prefix hash falls in. */
    int head(int hash) {
        return pages[hash & ((1 << depth) - 1)];
    }

    /** Whether a full bucket of {@code localDepth} may split (and so perhaps double the directory). */
    boolean maySplit(int localDepth) {
        if (localDepth >= MAX_DEPTH) {
            return false;
        }
        return localDepth < depth || pages.length < FREE_DOUBLING
                || pages.length < (long) ENTRIES_PER_BUCKET * buckets;
    }

    /**
     * Splits the bucket {@code hash} falls in, of {@code localDepth}, into itself and {@code
     * sibling} on hash bit {@code localDepth}, doubling the directory first if the bucket is as
     * deep as it.
     */
    void split(int hash, int localDepth, int sibling) {
        if (localDepth == depth) {
            int[] doubled = Arrays.copyOf(pages, pages.length * 2);
            System.arraycopy(pages, 0, doubled, pages.length, pages.length);
            pages = doubled;
            shared = false;
            depth++;
        } else if (shared) {
            pages = pages.clone();
            shared = false;
        }
        int bit = 1 << localDepth;
        int low = hash & (bit - 1);
        for (int i = 0; i < pages.length; i++) {
            if ((i & (bit - 1)) == low && (i & bit) != 0) {
                pages[i] = sibling;
            }
        }
        buckets++;
    }

    /** Whether index {@code i} is the first (lowest) index of a bucket of {@code localDepth}. */
    static boolean isFirstIndex(int i, int localDepth) {
        return i < 1 << localDepth;
    }

    /** Heap bytes of this directory. */
    long heapBytes() {
        return 32 + 4L * pages.length;
    }

    /** Size agrees with depth, the bucket count with the distinct heads, the bound holds. */
    void checkInvariants(String table, java.util.function.IntPredicate isLive) {
        if (pages.length != 1 << depth) {
            throw new IllegalStateException("table " + table + ": directory size disagrees with its depth");
        }
        java.util.Set<Integer> heads = new java.util.HashSet<>();
        for (int pageId : pages) {
            if (!isLive.test(pageId)) {
                throw new IllegalStateException("table " + table + ": directory points at freed page " + pageId);
            }
            heads.add(pageId);
        }
        if (heads.size() != buckets) {
            throw new IllegalStateException("table " + table + ": directory has " + heads.size()
                    + " bucket chains but counts " + buckets);
        }
        if (pages.length > Math.max(2 * FREE_DOUBLING, 2L * ENTRIES_PER_BUCKET * buckets)) {
            throw new IllegalStateException("table " + table + ": directory of " + pages.length
                    + " entries for " + buckets + " buckets is past its bound");
        }
    }
}

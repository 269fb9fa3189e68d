package io.zstate.pagestore.entry;

import java.util.Arrays;

/**
 * Which keys missed recently: the entry cache's admission filter (TinyLFU's doorkeeper), so a key
 * is admitted at its second miss and a key seen once never is; and which keys left the cache
 * unreferenced recently, so a miss on one says a larger cache would have hit (ARC's ghost list).
 *
 * <pre>
 *   now:     Bloom filter, 3 bits a key, 16 to 32 bits per key it takes    <- a first miss is remembered here
 *   before:  the previous generation, read only                            <- a key is seen if either has it
 *   after `generation` remembered keys: before := now, now := cleared
 * </pre>
 *
 * A key is remembered for one to two generations of first misses, whatever other keys do: unlike
 * a table of hashes (a ghost queue), no key can push another out, so hot keys whose hashes collide
 * are each still seen at their second miss. The price is false positives: about 1% of keys never
 * seen before are taken as seen (two filters at 16 bits a key and three bits: (1 -
 * e^(-3/16))^3 = 0.5% each, less at up to 32 bits). Remembering is amortized O(1): clearing a
 * filter costs a word per 2 to 4 keys it took.
 *
 * <p>Invariant: {@code remembered < generation}. Not thread-safe: its entry cache's.
 */
final class Doorkeeper {

    private long[] now;
    private long[] before;
    private final int shift;
    private final int generation;
    private int remembered;

    /** A filter remembering {@code keys} first misses a generation (at least 16). */
    Doorkeeper(int keys) {
        this.generation = Math.max(16, keys);
        int bits = Math.max(64, Integer.highestOneBit(generation - 1) << 5); // 16 to 32 bits a key
        this.now = new long[bits >>> 6];
        this.before = new long[bits >>> 6];
        this.shift = 32 - Integer.numberOfTrailingZeros(bits);
    }

    /** Whether a key's hash was seen in this or the last generation; if not, it is remembered now. */
    boolean seenOrRemember(int hash) {
        int a = first(hash);
        int b = second(hash);
        int c = third(hash);
        if (has(now, a, b, c) || has(before, a, b, c)) {
            return true;
        }
        remember(a, b, c);
        return false;
    }

    /** Whether a key's hash was remembered in this or the last generation (or is a false positive). */
    boolean seen(int hash) {
        int a = first(hash);
        int b = second(hash);
        int c = third(hash);
        return has(now, a, b, c) || has(before, a, b, c);
    }

    /** Remembers a key's hash for one to two generations. */
    void remember(int hash) {
        remember(first(hash), second(hash), third(hash));
    }

    // the three bits of a hash: one place for their positions
    private int first(int hash) {
        return (hash * 0x9e3779b9) >>> shift;
    }

    private int second(int hash) {
        return (hash * 0x85ebca6b + 0x2545f491) >>> shift;
    }

    private int third(int hash) {
        return (Integer.rotateLeft(hash, 16) * 0xc2b2ae35) >>> shift;
    }

    private void remember(int a, int b, int c) {
        set(now, a);
        set(now, b);
        set(now, c);
        if (++remembered == generation) {
            long[] cleared = before;
            Arrays.fill(cleared, 0L);
            before = now;
            now = cleared;
            remembered = 0;
        }
    }

    long heapBytes() {
        return 8L * (now.length + before.length);
    }

    private static boolean has(long[] filter, int a, int b, int c) {
        return bit(filter, a) && bit(filter, b) && bit(filter, c);
    }

    private static boolean bit(long[] filter, int index) {
        return (filter[index >>> 6] & 1L << index) != 0;
    }

    private static void set(long[] filter, int index) {
        filter[index >>> 6] |= 1L << index;
    }
}

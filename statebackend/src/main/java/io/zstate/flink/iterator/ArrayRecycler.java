package io.zstate.flink.iterator;

import java.util.Arrays;

/**
 * Byte arrays of exact lengths, handed out again once their user is done with them: the
 * checkpoint walk gives Flink's writer a fresh, exact-length array per key and value (the writer
 * keeps the previous pair and flags the last key of a run in place), and without recycling those
 * arrays are most of what a checkpoint allocates (18% of the counter job's allocation, in bursts
 * that set its peak heap).
 *
 * <pre>
 *   free[length] a stack of arrays of that length, for lengths 1..MAX_LENGTH; longer arrays are
 *                neither kept nor recycled (rare, and a map's big values would pin memory)
 *   at most MAX_PER_LENGTH arrays per length: what it holds is bounded by a batch of entries
 * </pre>
 *
 * <p>Contract: an array goes back only when nobody holds it any more: Flink's writer keeps one
 * pair back (ZFrozenStatesIterator recycles a batch's last pair one batch later), TTL notes take
 * copies of their own, and a snapshot transformer returns its input, null or a fresh array,
 * never one it keeps (Flink's TTL transformers do so). Not thread-safe: one per walk, on the
 * snapshot's thread.
 */
final class ArrayRecycler {

    static final int MAX_LENGTH = 256;
    static final int MAX_PER_LENGTH = 4096;

    private final byte[][][] free = new byte[MAX_LENGTH + 1][][];
    private final int[] count = new int[MAX_LENGTH + 1];

    /** An array of {@code length} bytes holding a copy of {@code src[offset, offset + length)}. */
    byte[] copyOf(byte[] src, int offset, int length) {
        byte[] array = take(length);
        System.arraycopy(src, offset, array, 0, length);
        return array;
    }

    /** An array of exactly {@code length} bytes, of undefined contents. */
    byte[] take(int length) {
        if (length > 0 && length <= MAX_LENGTH && count[length] > 0) {
            byte[] array = free[length][--count[length]];
            free[length][count[length]] = null;
            return array;
        }
        return new byte[length];
    }

    /** Gives an array back; the caller must hold no reference to it any more. */
    void recycle(byte[] array) {
        int length = array.length;
        if (length == 0 || length > MAX_LENGTH || count[length] == MAX_PER_LENGTH) {
            return;
        }
        byte[][] stack = free[length];
        if (stack == null) {
            stack = free[length] = new byte[16][];
        } else if (count[length] == stack.length) {
            stack = free[length] = Arrays.copyOf(stack, stack.length * 2);
        }
        stack[count[length]++] = array;
    }
}

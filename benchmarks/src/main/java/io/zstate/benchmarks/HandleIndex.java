package io.zstate.benchmarks;

/**
 * Maps live pool handles to the corpus page whose bytes they hold: an open-addressing long-to-int
 * table without boxing, so an evictor can check every object it receives. Handles are never 0
 * ({@code ZPool.NO_SPACE}), which marks an empty cell.
 */
final class HandleIndex {

    private final long[] keys;
    private final int[] values;
    private final int mask;

    /** A table for up to {@code capacity} handles. */
    HandleIndex(int capacity) {
        int cells = Integer.highestOneBit(Math.max(2, capacity) * 2 - 1) << 1;
        keys = new long[cells];
        values = new int[cells];
        mask = cells - 1;
    }

    void put(long handle, int page) {
        if (handle == 0) {
            throw new IllegalArgumentException("0 is not a handle");
        }
        int i = cell(handle);
        while (keys[i] != 0 && keys[i] != handle) {
            i = (i + 1) & mask;
        }
        keys[i] = handle;
        values[i] = page;
    }

    /** The page of {@code handle}, or -1 if it was never put. */
    int get(long handle) {
        for (int i = cell(handle); keys[i] != 0; i = (i + 1) & mask) {
            if (keys[i] == handle) {
                return values[i];
            }
        }
        return -1;
    }

    private int cell(long handle) {
        long h = handle * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }
}

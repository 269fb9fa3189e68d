package io.zstate.pagestore.snapshot;

import java.util.Arrays;

/**
 * The page buffers a {@link io.zstate.pagestore.index.PageSource} over copies hands out: a walk
 * holds at most a few pages at a time and releases them in the reverse order, so the buffers are a
 * stack, each page-sized, allocated once and reused by every later walk.
 */
final class HeldPages {

    private final int pageSize;
    private byte[][] buffers = new byte[2][];
    private int held;

    HeldPages(int pageSize) {
        this.pageSize = pageSize;
    }

    /** The buffer the next page goes into; it counts as held only after {@link #hold}. */
    byte[] next() {
        if (held == buffers.length) {
            buffers = Arrays.copyOf(buffers, held * 2);
        }
        if (buffers[held] == null) {
            buffers[held] = new byte[pageSize];
        }
        return buffers[held];
    }

    /** The buffer {@link #next} gave holds a page now (a failed read holds nothing). */
    void hold() {
        held++;
    }

    /** The page held last is given back. */
    void release() {
        held--;
    }

    /** Nothing is held (a walk that threw left pages held). */
    void clear() {
        held = 0;
    }
}

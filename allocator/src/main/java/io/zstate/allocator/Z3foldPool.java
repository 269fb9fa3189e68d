package io.zstate.allocator;

/**
 * z3fold: up to three objects ("buddies") per frame, first, middle and last; after Linux {@code
 * mm/z3fold.c} (2016 until its removal in 6.15). zbud's two ends plus a middle buddy, kept next
 * to the first by in-frame compaction, for about a third more objects per frame than zbud at the
 * same simplicity: every reclaim of a frame evicts at most three objects, nothing ever crosses a
 * frame, no compaction between frames.
 *
 * <pre>
 * Notation:
 *   chunk     frameSize / 64 bytes (64 at 4 KiB), the unit of allocation
 *   H         1: the header chunk;  T = 64: the frame's end, in chunks
 *
 *   frame:  | header | first ->| middle ->|      free chunks      |<- last |
 *           0        H         H+first    H+first+middle            T-last   T
 *
 * Frame header (chunk 0; BuddyPool's layout for three buddies, 0 first, 1 middle, 2 last): magic
 * 0x7A33666C ("z3fl"), chunks, sizes and handle slots of the three. Location in the handle
 * table: frame << 2 | buddy.
 *
 * Invariant of the in-frame compaction: a middle buddy exists only beside a first one, starting
 * where it ends (H + first), so a frame's free chunks are always one run, between the low side
 * (first, middle) and the last buddy.
 *
 * Algorithm:
 *   malloc   chunks = ceil(size / chunk); take the first frame of the first non-empty list
 *            with at least that many free chunks and a free buddy (lists[i]: frames whose free
 *            run is i chunks and that have a buddy free; a frame with all three is on the full
 *            list); place the object first if that buddy is free, else last if free, else
 *            middle, right after the first. No such frame: a new frame, as first buddy. The
 *            frame moves to the hot end of the LRU.
 *   free     clear the buddy. An empty frame returns to the frame source. A middle buddy left
 *            without a first moves down into the first's place (z3fold_compact_page: the
 *            kernel's in-page compaction), so the free run stays whole.
 *   reclaim  take frames from the cold end of the LRU, evict first, middle and last; the
 *            emptied frame returns to the source. A refusal puts the frame back at the hot end.
 *   compact  nothing between frames (the kernel's z3fold had none either); within frames it
 *            is done on free.
 *
 * Largest object: frameSize - 2 chunks (3968 bytes at 4 KiB), as the kernel's z3fold_alloc.
 * Cost outside the frames: 8 bytes per handle; 8 + 8 + 1 bytes per frame of list links.
 * </pre>
 */
final class Z3foldPool extends BuddyPool {

    static final int MAGIC = 0x7A33666C;

    private static final int H = 1;
    private static final int T = CHUNKS_PER_FRAME;
    private static final int FIRST = 0;
    private static final int MIDDLE = 1;
    private static final int LAST = 2;

    private final byte[] moveScratch;

    Z3foldPool(FrameSource source) {
        super(source, 3, MAGIC);
        this.moveScratch = new byte[frameSize];
    }

    @Override
    public String type() {
        return "z3fold";
    }

    @Override
    protected long allocate(int size) {
        int chunks = (size + chunkSize - 1) >>> chunkShift;
        int frame = frameWithRoom(chunks);
        if (frame == NIL) {
            frame = newFrame();
            if (frame == FrameSource.NO_FRAME) {
                return NO_SPACE;
            }
        }
        return place(frame, buddyFor(frame, chunks), chunks, size);
    }

    /** The free buddy of a listed (or new) frame that takes {@code chunks}: first, else last, else middle. */
    private int buddyFor(int frame, int chunks) {
        if (chunks(frame, FIRST) == 0 && chunks <= firstRoom(frame)) {
            return FIRST;
        }
        if (chunks(frame, LAST) == 0 && chunks <= lastRoom(frame)) {
            return LAST;
        }
        if (chunks(frame, MIDDLE) == 0 && chunks <= middleRoom(frame)) {
            return MIDDLE;
        }
        throw new IllegalStateException("z3fold frame " + frame + " on free list " + listFor(frame)
                + " has no buddy with room for " + chunks + " chunks");
    }

    /** Chunks a first buddy could take (only when there is none, and so no middle either). */
    private int firstRoom(int frame) {
        return T - chunks(frame, LAST) - H;
    }

    /** Chunks a last buddy could take (when there is none). */
    private int lastRoom(int frame) {
        return T - H - chunks(frame, FIRST) - chunks(frame, MIDDLE);
    }

    /** Chunks a middle buddy could take (when there is none and the first and last are there). */
    private int middleRoom(int frame) {
        return T - chunks(frame, LAST) - H - chunks(frame, FIRST);
    }

    /** The list a frame belongs on: its free run if a buddy that fits there is free, else full. */
    @Override
    protected int listFor(int frame) {
        int first = chunks(frame, FIRST);
        int middle = chunks(frame, MIDDLE);
        int last = chunks(frame, LAST);
        if (first == 0 || last == 0 || middle == 0) {
            int free = T - H - first - middle - last;
            return free > 0 ? free : FULL;
        }
        return FULL;
    }

    @Override
    protected void release(int handleSlot) {
        long location = handles.location(handleSlot);
        int frame = frameOfLocation(location);
        int buddy = buddyOfLocation(location);
        int freed = chunks(frame, buddy);
        handles.release(handleSlot);
        if (clear(frame, buddy)) {
            return;
        }
        if (buddy == FIRST && chunks(frame, MIDDLE) != 0) {
            moveMiddleToFirst(frame, H + freed);
        }
        relist(frame);
    }

    /**
     * In-frame compaction: the middle object, which starts at chunk {@code middleAt} (right after
     * the first buddy just freed), moves down into the first buddy's place.
     */
    private void moveMiddleToFirst(int frame, int middleAt) {
        int size = size(frame, MIDDLE);
        java.nio.ByteBuffer arena = source.arena(frame);
        int base = source.offset(frame);
        arena.get(base + (middleAt << chunkShift), moveScratch, 0, size);
        arena.put(base + (H << chunkShift), moveScratch, 0, size);
        rename(frame, MIDDLE, FIRST);
        movedObjects++;
    }

    @Override
    protected int payloadOffset(int handleSlot) {
        long location = handles.location(handleSlot);
        int frame = frameOfLocation(location);
        return switch (buddyOfLocation(location)) {
            case FIRST -> H << chunkShift;
            case MIDDLE -> (H + chunks(frame, FIRST)) << chunkShift; // right after the first
            default -> (T - chunks(frame, LAST)) << chunkShift;
        };
    }

    /** The compaction invariant: a middle buddy exists only beside a first. */
    @Override
    protected void checkFrame(int frame, String where) {
        if (chunks(frame, MIDDLE) != 0 && chunks(frame, FIRST) == 0) {
            throw new IllegalStateException(where + ": a middle buddy without a first (compaction missed)");
        }
    }
}

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
 * Frame header (chunk 0, in the frame):
 *   0 magic      int  0x7A33666C ("z3fl"), checked by checkInvariants
 *   4 chunks     3 ints: chunks of the first, middle and last buddy (0 = none)
 *  16 sizes      3 ints: bytes of each object
 *  28 slots      3 ints: handle slot of each object
 *
 * Location in the handle table: frame << 2 | buddy (0 first, 1 middle, 2 last).
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
final class Z3foldPool extends AbstractZPool {

    static final int MAGIC = 0x7A33666C;

    private static final int CHUNKS_PER_FRAME = 64;
    private static final int H = 1;
    private static final int T = CHUNKS_PER_FRAME;
    private static final int NCHUNKS = T - H;
    private static final int FULL = NCHUNKS; // list index after the ones by free chunks
    private static final int FIRST = 0;
    private static final int MIDDLE = 1;
    private static final int LAST = 2;
    private static final int NIL = IntLinkedLists.NIL;

    private static final int H_MAGIC = 0;
    private static final int H_CHUNKS = 4; // + 4 * buddy
    private static final int H_SIZE = 16; // + 4 * buddy
    private static final int H_SLOT = 28; // + 4 * buddy

    private final int chunkShift;
    private final int chunkSize;
    private final IntLinkedLists freeLists;
    private final IntLinkedLists lru;
    /** The list each frame is on (by frame id), or -1. */
    private byte[] frameList = new byte[0];
    private final byte[] moveScratch;

    Z3foldPool(FrameSource source) {
        super(source);
        this.chunkShift = frameShift - Integer.numberOfTrailingZeros(CHUNKS_PER_FRAME);
        this.chunkSize = 1 << chunkShift;
        this.freeLists = new IntLinkedLists(FULL + 1, source.maxFrames());
        this.lru = new IntLinkedLists(1, source.maxFrames());
        this.moveScratch = new byte[frameSize];
    }

    @Override
    public String type() {
        return "z3fold";
    }

    @Override
    public int maxObjectSize() {
        return maxObjectSize(frameSize);
    }

    /** The largest object of a z3fold frame: the frame less its header chunk and one chunk of rounding. */
    static int maxObjectSize(int frameSize) {
        return frameSize - 2 * (frameSize / CHUNKS_PER_FRAME);
    }

    @Override
    protected long allocate(int size) {
        int chunks = (size + chunkSize - 1) >>> chunkShift;
        int frame = NIL;
        for (int free = chunks; free < FULL && frame == NIL; free++) {
            frame = freeLists.first(free);
        }
        if (frame == NIL) {
            frame = source.allocate();
            if (frame == FrameSource.NO_FRAME) {
                return NO_SPACE;
            }
            freeLists.ensureCapacity(frame + 1);
            lru.ensureCapacity(frame + 1);
            if (frame >= frameList.length) {
                int old = frameList.length;
                frameList = java.util.Arrays.copyOf(frameList,
                        Math.min(source.maxFrames(), Math.max(frame + 1, old + (old >> 3) + 256)));
                java.util.Arrays.fill(frameList, old, frameList.length, (byte) -1);
            }
            int base = source.offset(frame);
            java.nio.ByteBuffer arena = source.arena(frame);
            arena.putInt(base + H_MAGIC, MAGIC);
            for (int buddy = FIRST; buddy <= LAST; buddy++) {
                arena.putInt(base + H_CHUNKS + 4 * buddy, 0);
            }
            framesHeld++;
        }
        int buddy = buddyFor(frame, chunks);
        long handle = handles.allocate(((long) frame << 2) | buddy);
        setHeader(frame, H_CHUNKS + 4 * buddy, chunks);
        setHeader(frame, H_SIZE + 4 * buddy, size);
        setHeader(frame, H_SLOT + 4 * buddy, handles.slot(handle));
        relist(frame);
        lru.moveToFirst(0, frame);
        return handle;
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
        throw new IllegalStateException("z3fold frame " + frame + " on free list " + frameList[frame]
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
    private int listFor(int frame) {
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
        int frame = (int) (location >>> 2);
        int buddy = (int) location & 3;
        int freed = chunks(frame, buddy);
        handles.release(handleSlot);
        setHeader(frame, H_CHUNKS + 4 * buddy, 0);
        setHeader(frame, H_SIZE + 4 * buddy, 0);
        if (chunks(frame, FIRST) == 0 && chunks(frame, MIDDLE) == 0 && chunks(frame, LAST) == 0) {
            unlist(frame);
            if (lru.contains(frame)) {
                lru.remove(0, frame);
            }
            setHeader(frame, H_MAGIC, 0);
            source.release(frame);
            framesHeld--;
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
        int chunks = chunks(frame, MIDDLE);
        int size = header(frame, H_SIZE + 4 * MIDDLE);
        int slot = header(frame, H_SLOT + 4 * MIDDLE);
        java.nio.ByteBuffer arena = source.arena(frame);
        int base = source.offset(frame);
        arena.get(base + (middleAt << chunkShift), moveScratch, 0, size);
        arena.put(base + (H << chunkShift), moveScratch, 0, size);
        setHeader(frame, H_CHUNKS + 4 * FIRST, chunks);
        setHeader(frame, H_SIZE + 4 * FIRST, size);
        setHeader(frame, H_SLOT + 4 * FIRST, slot);
        setHeader(frame, H_CHUNKS + 4 * MIDDLE, 0);
        setHeader(frame, H_SIZE + 4 * MIDDLE, 0);
        handles.relocate(slot, ((long) frame << 2) | FIRST);
        movedObjects++;
    }

    /** Where a middle buddy starts, in chunks: right after the first (the compaction invariant). */
    private int middleStart(int frame) {
        return H + chunks(frame, FIRST);
    }

    @Override
    protected int sizeOf(int handleSlot) {
        long location = handles.location(handleSlot);
        return header((int) (location >>> 2), H_SIZE + 4 * ((int) location & 3));
    }

    @Override
    protected int payloadFrame(int handleSlot) {
        return (int) (handles.location(handleSlot) >>> 2);
    }

    @Override
    protected int payloadOffset(int handleSlot) {
        long location = handles.location(handleSlot);
        int frame = (int) (location >>> 2);
        return switch ((int) location & 3) {
            case FIRST -> H << chunkShift;
            case MIDDLE -> middleStart(frame) << chunkShift;
            default -> (T - chunks(frame, LAST)) << chunkShift;
        };
    }

    @Override
    protected int continuationFrame(int handleSlot) {
        throw new AssertionError("a z3fold object never leaves its frame");
    }

    @Override
    protected void reclaimFrames(int maxFrames, Evictor evictor) {
        int emptied = 0;
        for (int attempts = lru.size(0); emptied < maxFrames && attempts > 0; attempts--) {
            int frame = lru.last(0);
            if (frame == NIL) {
                break;
            }
            lru.remove(0, frame);
            lru.addFirst(0, frame); // the hot end; released when its objects are freed after the flush
            boolean all = true;
            for (int buddy = FIRST; buddy <= LAST; buddy++) {
                if (chunks(frame, buddy) != 0 && !evict(header(frame, H_SLOT + 4 * buddy), evictor)) {
                    all = false;
                    break;
                }
            }
            if (all) {
                emptied++;
            }
        }
    }

    @Override
    protected int compactFrames() {
        return 0;
    }

    @Override
    protected void releaseAllFrames() {
        for (int frame = lru.first(0); frame != NIL; ) {
            int next = lru.next(frame);
            lru.remove(0, frame);
            unlist(frame);
            source.release(frame);
            frame = next;
        }
    }

    @Override
    protected long structureMetadataBytes() {
        return freeLists.metadataBytes() + lru.metadataBytes() + frameList.length;
    }

    private void relist(int frame) {
        int list = listFor(frame);
        if (frameList[frame] != list) {
            unlist(frame);
            freeLists.addFirst(list, frame);
            frameList[frame] = (byte) list;
        }
    }

    private void unlist(int frame) {
        if (frameList[frame] >= 0) {
            freeLists.remove(frameList[frame], frame);
            frameList[frame] = -1;
        }
    }

    private int chunks(int frame, int buddy) {
        return header(frame, H_CHUNKS + 4 * buddy);
    }

    private int header(int frame, int field) {
        return source.arena(frame).getInt(source.offset(frame) + field);
    }

    private void setHeader(int frame, int field, int value) {
        source.arena(frame).putInt(source.offset(frame) + field, value);
    }

    @Override
    public void checkInvariants() {
        int[] listOf = freeLists.checkInvariants("z3fold free");
        lru.checkInvariants("z3fold LRU");
        long objects = 0;
        long payload = 0;
        long frames = 0;
        for (int frame = lru.first(0); frame != NIL; frame = lru.next(frame)) {
            String where = "z3fold frame " + frame;
            if (!source.isInUse(frame)) {
                throw new IllegalStateException(where + ": held but not in use at the frame source");
            }
            if (header(frame, H_MAGIC) != MAGIC) {
                throw new IllegalStateException(where + ": bad magic 0x" + Integer.toHexString(header(frame, H_MAGIC)));
            }
            int first = chunks(frame, FIRST);
            int middle = chunks(frame, MIDDLE);
            int last = chunks(frame, LAST);
            if (first < 0 || middle < 0 || last < 0 || first + middle + last > NCHUNKS
                    || first + middle + last == 0) {
                throw new IllegalStateException(where + ": buddies of " + first + ", " + middle + " and " + last
                        + " chunks overlap or are absent");
            }
            if (middle != 0 && first == 0) {
                throw new IllegalStateException(where + ": a middle buddy without a first (compaction missed)");
            }
            for (int buddy = FIRST; buddy <= LAST; buddy++) {
                int chunks = chunks(frame, buddy);
                if (chunks == 0) {
                    continue;
                }
                int size = header(frame, H_SIZE + 4 * buddy);
                int slot = header(frame, H_SLOT + 4 * buddy);
                if (size < 1 || size > chunks << chunkShift || size <= (chunks - 1) << chunkShift) {
                    throw new IllegalStateException(
                            where + " buddy " + buddy + ": size " + size + " does not match " + chunks + " chunks");
                }
                if (!handles.isLive(slot) || handles.location(slot) != (((long) frame << 2) | buddy)) {
                    throw new IllegalStateException(
                            where + " buddy " + buddy + ": handle slot " + slot + " does not point back here");
                }
                objects++;
                payload += size;
            }
            int expected = listFor(frame);
            if (listOf[frame] != expected || frameList[frame] != expected) {
                throw new IllegalStateException(where + ": on free list " + listOf[frame] + ", expected " + expected);
            }
            frames++;
        }
        long listed = 0;
        for (int list = 0; list < freeLists.lists(); list++) {
            listed += freeLists.size(list);
        }
        if (listed != frames) {
            throw new IllegalStateException("z3fold: free lists hold " + listed + " frames, the LRU " + frames);
        }
        checkCommonInvariants(objects, payload, frames);
    }
}

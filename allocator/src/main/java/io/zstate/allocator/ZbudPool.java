package io.zstate.allocator;

/**
 * zbud: at most two objects ("buddies") per frame, one at each end; after Linux {@code
 * mm/zbud.c}. Simple and predictable, and every reclaim of a frame evicts at most two objects;
 * the price is density, since a frame never holds more than two.
 *
 * <pre>
 * Notation:
 *   chunk     frameSize / 64 bytes (64 at 4 KiB), the unit of allocation
 *   NCHUNKS   63: the chunks of a frame after its header chunk
 *
 *   frame:  | header chunk | first buddy ->      free chunks      <- last buddy |
 *           0            chunk                                          frameSize
 *
 * Frame header (chunk 0, in the frame):
 *   0 magic      int  0x7A627564 ("zbud"), checked by checkInvariants
 *   4 first      int  chunks of the first buddy (0 = none)
 *   8 last       int  chunks of the last buddy (0 = none)
 *  12 firstSize  int  bytes of the first object
 *  16 lastSize   int  bytes of the last object
 *  20 firstSlot  int  handle slot of the first object
 *  24 lastSlot   int  handle slot of the last object
 *
 * Location in the handle table: frame << 1 | buddy (0 first, 1 last).
 *
 * Algorithm:
 *   malloc   chunks = ceil(size / chunk); take the first frame of the first non-empty
 *            unbuddied list with at least that many free chunks (unbuddied[i] holds frames
 *            with one buddy and i free chunks), filling its free buddy; else a new frame, as
 *            first buddy. A frame with both buddies goes to the buddied list. The frame moves
 *            to the hot end of the LRU.
 *   free     clear the buddy; a frame with none left returns to the frame source.
 *   reclaim  take frames from the cold end of the LRU, evict the first then the last buddy;
 *            the emptied frame returns to the source. A refusal puts the frame back at the
 *            hot end (zbud_reclaim_page).
 *   compact  nothing to do: zbud cannot move objects (as in the kernel).
 *
 * Largest object: frameSize - 2 chunks (3968 bytes at 4 KiB), as the kernel's zbud_alloc.
 * Cost outside the frames: 8 bytes per handle; 8 + 8 + 1 bytes per frame of list links.
 * </pre>
 */
final class ZbudPool extends AbstractZPool {

    static final int MAGIC = 0x7A627564;

    private static final int CHUNKS_PER_FRAME = 64;
    private static final int NCHUNKS = CHUNKS_PER_FRAME - 1;
    private static final int BUDDIED = NCHUNKS; // list index after the unbuddied ones
    private static final int FIRST = 0;
    private static final int LAST = 1;
    private static final int NIL = IntLinkedLists.NIL;

    private static final int H_MAGIC = 0;
    private static final int H_CHUNKS = 4; // + 4 * buddy
    private static final int H_SIZE = 12; // + 4 * buddy
    private static final int H_SLOT = 20; // + 4 * buddy

    private final int chunkShift;
    private final int chunkSize;
    private final IntLinkedLists buddyLists;
    private final IntLinkedLists lru;
    /** The buddy list each frame is on (by frame id), or -1. */
    private byte[] frameList = new byte[0];

    ZbudPool(FrameSource source) {
        super(source);
        this.chunkShift = frameShift - Integer.numberOfTrailingZeros(CHUNKS_PER_FRAME);
        this.chunkSize = 1 << chunkShift;
        this.buddyLists = new IntLinkedLists(NCHUNKS + 1, source.maxFrames());
        this.lru = new IntLinkedLists(1, source.maxFrames());
    }

    @Override
    public String type() {
        return "zbud";
    }

    @Override
    public int maxObjectSize() {
        return maxObjectSize(frameSize);
    }

    /** The largest object of a zbud frame: the frame less its header chunk and one chunk of rounding. */
    static int maxObjectSize(int frameSize) {
        return frameSize - 2 * (frameSize / CHUNKS_PER_FRAME);
    }

    @Override
    protected long allocate(int size) {
        int chunks = (size + chunkSize - 1) >>> chunkShift;
        int frame = NIL;
        int buddy = FIRST;
        for (int free = chunks; free < NCHUNKS; free++) {
            frame = buddyLists.first(free);
            if (frame != NIL) {
                buddy = header(frame, H_CHUNKS + 4 * FIRST) == 0 ? FIRST : LAST;
                break;
            }
        }
        if (frame == NIL) {
            frame = source.allocate();
            if (frame == FrameSource.NO_FRAME) {
                return NO_SPACE;
            }
            buddyLists.ensureCapacity(frame + 1);
            lru.ensureCapacity(frame + 1);
            if (frame >= frameList.length) {
                int old = frameList.length;
                frameList = java.util.Arrays.copyOf(frameList,
                        Math.min(source.maxFrames(), Math.max(frame + 1, old + (old >> 3) + 256)));
                java.util.Arrays.fill(frameList, old, frameList.length, (byte) -1);
            }
            int base = source.offset(frame);
            source.arena(frame)
                    .putInt(base + H_MAGIC, MAGIC)
                    .putInt(base + H_CHUNKS, 0)
                    .putInt(base + H_CHUNKS + 4, 0);
            framesHeld++;
        }
        long handle = handles.allocate(((long) frame << 1) | buddy);
        setHeader(frame, H_CHUNKS + 4 * buddy, chunks);
        setHeader(frame, H_SIZE + 4 * buddy, size);
        setHeader(frame, H_SLOT + 4 * buddy, handles.slot(handle));
        relist(frame);
        lru.moveToFirst(0, frame);
        return handle;
    }

    @Override
    protected void release(int handleSlot) {
        long location = handles.location(handleSlot);
        int frame = (int) (location >>> 1);
        int buddy = (int) location & 1;
        handles.release(handleSlot);
        setHeader(frame, H_CHUNKS + 4 * buddy, 0);
        setHeader(frame, H_SIZE + 4 * buddy, 0);
        if (header(frame, H_CHUNKS) == 0 && header(frame, H_CHUNKS + 4) == 0) {
            unlistBuddy(frame);
            if (lru.contains(frame)) {
                lru.remove(0, frame);
            }
            setHeader(frame, H_MAGIC, 0);
            source.release(frame);
            framesHeld--;
        } else {
            relist(frame);
        }
    }

    @Override
    protected int sizeOf(int handleSlot) {
        long location = handles.location(handleSlot);
        return header((int) (location >>> 1), H_SIZE + 4 * ((int) location & 1));
    }

    @Override
    protected int payloadFrame(int handleSlot) {
        return (int) (handles.location(handleSlot) >>> 1);
    }

    @Override
    protected int payloadOffset(int handleSlot) {
        long location = handles.location(handleSlot);
        if ((location & 1) == FIRST) {
            return chunkSize;
        }
        return frameSize - (header((int) (location >>> 1), H_CHUNKS + 4 * LAST) << chunkShift);
    }

    @Override
    protected int continuationFrame(int handleSlot) {
        throw new AssertionError("a zbud object never leaves its frame");
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
                if (header(frame, H_CHUNKS + 4 * buddy) != 0 && !evict(header(frame, H_SLOT + 4 * buddy), evictor)) {
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
            unlistBuddy(frame);
            source.release(frame);
            frame = next;
        }
    }

    @Override
    protected long structureMetadataBytes() {
        return buddyLists.metadataBytes() + lru.metadataBytes() + frameList.length;
    }

    /** Puts a frame on the list its buddies call for: buddied, or unbuddied by free chunks. */
    private void relist(int frame) {
        int first = header(frame, H_CHUNKS);
        int last = header(frame, H_CHUNKS + 4);
        int list = first != 0 && last != 0 ? BUDDIED : NCHUNKS - first - last;
        if (frameList[frame] != list) {
            unlistBuddy(frame);
            buddyLists.addFirst(list, frame);
            frameList[frame] = (byte) list;
        }
    }

    private void unlistBuddy(int frame) {
        if (frameList[frame] >= 0) {
            buddyLists.remove(frameList[frame], frame);
            frameList[frame] = -1;
        }
    }

    private int header(int frame, int field) {
        return source.arena(frame).getInt(source.offset(frame) + field);
    }

    private void setHeader(int frame, int field, int value) {
        source.arena(frame).putInt(source.offset(frame) + field, value);
    }

    @Override
    public void checkInvariants() {
        int[] listOf = buddyLists.checkInvariants("zbud buddy");
        lru.checkInvariants("zbud LRU");
        long objects = 0;
        long payload = 0;
        long frames = 0;
        for (int frame = lru.first(0); frame != NIL; frame = lru.next(frame)) {
            String where = "zbud frame " + frame;
            if (!source.isInUse(frame)) {
                throw new IllegalStateException(where + ": held but not in use at the frame source");
            }
            if (header(frame, H_MAGIC) != MAGIC) {
                throw new IllegalStateException(
                        where + ": bad magic 0x" + Integer.toHexString(header(frame, H_MAGIC)));
            }
            int first = header(frame, H_CHUNKS);
            int last = header(frame, H_CHUNKS + 4);
            if (first < 0 || last < 0 || first + last > NCHUNKS || first + last == 0) {
                throw new IllegalStateException(
                        where + ": buddies of " + first + " and " + last + " chunks overlap or are absent");
            }
            for (int buddy = FIRST; buddy <= LAST; buddy++) {
                int chunks = buddy == FIRST ? first : last;
                if (chunks == 0) {
                    continue;
                }
                int size = header(frame, H_SIZE + 4 * buddy);
                int slot = header(frame, H_SLOT + 4 * buddy);
                if (size < 1 || size > chunks << chunkShift || size <= (chunks - 1) << chunkShift) {
                    throw new IllegalStateException(
                            where + " buddy " + buddy + ": size " + size + " does not match " + chunks + " chunks");
                }
                if (!handles.isLive(slot) || handles.location(slot) != (((long) frame << 1) | buddy)) {
                    throw new IllegalStateException(
                            where + " buddy " + buddy + ": handle slot " + slot + " does not point back here");
                }
                objects++;
                payload += size;
            }
            int expected = first != 0 && last != 0 ? BUDDIED : NCHUNKS - first - last;
            if (listOf[frame] != expected || frameList[frame] != expected) {
                throw new IllegalStateException(
                        where + ": on buddy list " + listOf[frame] + ", expected " + expected);
            }
            frames++;
        }
        long listed = 0;
        for (int list = 0; list < buddyLists.lists(); list++) {
            listed += buddyLists.size(list);
        }
        if (listed != frames) {
            throw new IllegalStateException(
                    "zbud: buddy lists hold " + listed + " frames, the LRU " + frames);
        }
        checkCommonInvariants(objects, payload, frames);
    }
}

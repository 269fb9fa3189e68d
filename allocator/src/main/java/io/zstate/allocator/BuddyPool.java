package io.zstate.allocator;

/**
 * What zbud and z3fold share: frames of 64 chunks holding a fixed number of buddies, a header in
 * chunk 0, free lists by free chunks, an LRU of frames, whole-frame reclaim. The subclasses say
 * where each buddy goes and which list a frame belongs on.
 *
 * <pre>
 * Frame header (chunk 0, in the frame), for B buddies:
 *   0            magic  int
 *   4            chunks B ints: chunks of each buddy (0 = none)
 *   4 + 4B       sizes  B ints: bytes of each object
 *   4 + 8B       slots  B ints: handle slot of each object
 *
 * Location in the handle table: frame << 2 | buddy.
 * Lists: lists[i] for i < FULL, frames with i free chunks a new buddy can take; lists[FULL],
 * frames that take no more. Every held frame is on exactly one list and on the LRU.
 * </pre>
 */
abstract class BuddyPool extends AbstractZPool {

    static final int CHUNKS_PER_FRAME = 64;
    static final int NCHUNKS = CHUNKS_PER_FRAME - 1;
    /** The list of frames that take no more buddies, after the ones by free chunks. */
    static final int FULL = NCHUNKS;
    static final int NIL = IntLinkedLists.NIL;

    private static final int H_MAGIC = 0;
    private static final int H_CHUNKS = 4;

    protected final int chunkShift;
    protected final int chunkSize;
    private final int buddies;
    private final int magic;
    private final int sizeField;
    private final int slotField;
    private final IntLinkedLists lists;
    protected final IntLinkedLists lru;
    /** The list each frame is on (by frame id), or -1. */
    private byte[] frameList = new byte[0];

    BuddyPool(FrameSource source, int buddies, int magic) {
        super(source);
        this.chunkShift = frameShift - Integer.numberOfTrailingZeros(CHUNKS_PER_FRAME);
        this.chunkSize = 1 << chunkShift;
        this.buddies = buddies;
        this.magic = magic;
        this.sizeField = H_CHUNKS + 4 * buddies;
        this.slotField = H_CHUNKS + 8 * buddies;
        this.lists = new IntLinkedLists(FULL + 1, source.maxFrames());
        this.lru = new IntLinkedLists(1, source.maxFrames());
    }

    /** The largest object of a buddy frame: the frame less its header chunk and one chunk of rounding. */
    static int maxObjectSize(int frameSize) {
        return frameSize - 2 * (frameSize / CHUNKS_PER_FRAME);
    }

    @Override
    public final int maxObjectSize() {
        return maxObjectSize(frameSize);
    }

    /** The list a frame belongs on, by what its buddies leave free. */
    protected abstract int listFor(int frame);

    /** Layout checks of one frame beyond the shared ones; throws naming {@code where}. */
    protected abstract void checkFrame(int frame, String where);

    // ---- placing --------------------------------------------------------------------------------

    /** The first frame of the first list from {@code chunks} free chunks on, or NIL. */
    protected final int frameWithRoom(int chunks) {
        int frame = NIL;
        for (int free = chunks; free < FULL && frame == NIL; free++) {
            frame = lists.first(free);
        }
        return frame;
    }

    /** A new frame with no buddy (not yet listed), or FrameSource.NO_FRAME. */
    protected final int newFrame() {
        int frame = source.allocate();
        if (frame == FrameSource.NO_FRAME) {
            return frame;
        }
        lists.ensureCapacity(frame + 1);
        lru.ensureCapacity(frame + 1);
        if (frame >= frameList.length) {
            int old = frameList.length;
            frameList = java.util.Arrays.copyOf(frameList,
                    Math.min(source.maxFrames(), Math.max(frame + 1, old + (old >> 3) + 256)));
            java.util.Arrays.fill(frameList, old, frameList.length, (byte) -1);
        }
        setHeader(frame, H_MAGIC, magic);
        for (int buddy = 0; buddy < buddies; buddy++) {
            setHeader(frame, H_CHUNKS + 4 * buddy, 0);
        }
        framesHeld++;
        return frame;
    }

    /** Places an object of {@code size} bytes and {@code chunks} chunks as {@code buddy} of {@code frame}. */
    protected final long place(int frame, int buddy, int chunks, int size) {
        long handle = handles.allocate(((long) frame << 2) | buddy);
        setHeader(frame, H_CHUNKS + 4 * buddy, chunks);
        setHeader(frame, sizeField + 4 * buddy, size);
        setHeader(frame, slotField + 4 * buddy, handles.slot(handle));
        relist(frame);
        lru.moveToFirst(0, frame);
        return handle;
    }

    /** Clears a buddy; releases the frame if none is left (then: true). */
    protected final boolean clear(int frame, int buddy) {
        setHeader(frame, H_CHUNKS + 4 * buddy, 0);
        setHeader(frame, sizeField + 4 * buddy, 0);
        for (int b = 0; b < buddies; b++) {
            if (chunks(frame, b) != 0) {
                return false;
            }
        }
        unlist(frame);
        if (lru.contains(frame)) {
            lru.remove(0, frame);
        }
        setHeader(frame, H_MAGIC, 0);
        source.release(frame);
        framesHeld--;
        return true;
    }

    /** Moves the object of buddy {@code from} to buddy {@code to} of the same frame (header and handle; not its bytes). */
    protected final void rename(int frame, int from, int to) {
        int slot = slot(frame, from);
        setHeader(frame, H_CHUNKS + 4 * to, chunks(frame, from));
        setHeader(frame, sizeField + 4 * to, size(frame, from));
        setHeader(frame, slotField + 4 * to, slot);
        setHeader(frame, H_CHUNKS + 4 * from, 0);
        setHeader(frame, sizeField + 4 * from, 0);
        handles.relocate(slot, ((long) frame << 2) | to);
    }

    protected final void relist(int frame) {
        int list = listFor(frame);
        if (frameList[frame] != list) {
            unlist(frame);
            lists.addFirst(list, frame);
            frameList[frame] = (byte) list;
        }
    }

    private void unlist(int frame) {
        if (frameList[frame] >= 0) {
            lists.remove(frameList[frame], frame);
            frameList[frame] = -1;
        }
    }

    // ---- the header -----------------------------------------------------------------------------

    protected final int chunks(int frame, int buddy) {
        return header(frame, H_CHUNKS + 4 * buddy);
    }

    protected final int size(int frame, int buddy) {
        return header(frame, sizeField + 4 * buddy);
    }

    protected final int slot(int frame, int buddy) {
        return header(frame, slotField + 4 * buddy);
    }

    protected static int frameOfLocation(long location) {
        return (int) (location >>> 2);
    }

    protected static int buddyOfLocation(long location) {
        return (int) location & 3;
    }

    private int header(int frame, int field) {
        return source.arena(frame).getInt(source.offset(frame) + field);
    }

    private void setHeader(int frame, int field, int value) {
        source.arena(frame).putInt(source.offset(frame) + field, value);
    }

    // ---- AbstractZPool ------------------------------------------------------------------------

    @Override
    protected final int sizeOf(int handleSlot) {
        long location = handles.location(handleSlot);
        return size(frameOfLocation(location), buddyOfLocation(location));
    }

    @Override
    protected final int payloadFrame(int handleSlot) {
        return frameOfLocation(handles.location(handleSlot));
    }

    @Override
    protected final int continuationFrame(int handleSlot) {
        throw new AssertionError("a " + type() + " object never leaves its frame");
    }

    @Override
    protected final void reclaimFrames(int maxFrames, Evictor evictor) {
        reclaimColdFrames(lru, maxFrames, evictor, (frame, e) -> {
            for (int buddy = 0; buddy < buddies; buddy++) {
                if (chunks(frame, buddy) != 0 && !evict(slot(frame, buddy), e)) {
                    return false;
                }
            }
            return true;
        });
    }

    @Override
    protected final int compactFrames() {
        return 0; // nothing moves between frames (as in the kernel)
    }

    @Override
    protected final void releaseAllFrames() {
        for (int frame = lru.first(0); frame != NIL; ) {
            int next = lru.next(frame);
            lru.remove(0, frame);
            unlist(frame);
            source.release(frame);
            frame = next;
        }
    }

    @Override
    protected final long structureMetadataBytes() {
        return lists.metadataBytes() + lru.metadataBytes() + frameList.length;
    }

    /** The header chunk of every frame. */
    @Override
    protected final long inFrameMetadataBytes() {
        return (long) chunkSize * framesHeld;
    }

    /**
     * The shared checks (each held frame in use, magic, sizes match chunks, handles point back, on
     * the list its buddies call for; lists and LRU agree; the common counters), plus {@link
     * #checkFrame} for each frame.
     */
    @Override
    public final void checkInvariants() {
        int[] listOf = lists.checkInvariants(type() + " free");
        lru.checkInvariants(type() + " LRU");
        long objects = 0;
        long payload = 0;
        long frames = 0;
        for (int frame = lru.first(0); frame != NIL; frame = lru.next(frame)) {
            String where = type() + " frame " + frame;
            if (!source.isInUse(frame)) {
                throw new IllegalStateException(where + ": held but not in use at the frame source");
            }
            if (header(frame, H_MAGIC) != magic) {
                throw new IllegalStateException(where + ": bad magic 0x" + Integer.toHexString(header(frame, H_MAGIC)));
            }
            int total = 0;
            for (int buddy = 0; buddy < buddies; buddy++) {
                int chunks = chunks(frame, buddy);
                if (chunks < 0) {
                    throw new IllegalStateException(where + " buddy " + buddy + ": " + chunks + " chunks");
                }
                total += chunks;
                if (chunks == 0) {
                    continue;
                }
                int size = size(frame, buddy);
                int slot = slot(frame, buddy);
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
            if (total == 0 || total > NCHUNKS) {
                throw new IllegalStateException(where + ": buddies of " + total + " chunks overlap or are absent");
            }
            checkFrame(frame, where);
            int expected = listFor(frame);
            if (listOf[frame] != expected || frameList[frame] != expected) {
                throw new IllegalStateException(where + ": on free list " + listOf[frame] + ", expected " + expected);
            }
            frames++;
        }
        long listed = 0;
        for (int list = 0; list < lists.lists(); list++) {
            listed += lists.size(list);
        }
        if (listed != frames) {
            throw new IllegalStateException(type() + ": free lists hold " + listed + " frames, the LRU " + frames);
        }
        checkCommonInvariants(objects, payload, frames);
    }
}

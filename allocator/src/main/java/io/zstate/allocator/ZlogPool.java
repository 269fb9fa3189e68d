package io.zstate.allocator;

/**
 * zlog: frames filled as logs, the "best of both" allocator sketched in the seed thread of
 * 2013 (seeds/000): no size classes; every allocation is appended to the most recently opened
 * frame, so objects stored together (pages evicted together) sit together and tend to die
 * together, and frames empty without compaction; LRU per frame; whole-frame reclaim; dozens of
 * small objects per frame; compaction optional (a log cleaner). Its nearest real relative is
 * zblock (proposed in 2025, not merged), which packs a whole number of same-size objects per
 * block; zlog packs any sizes.
 *
 * <pre>
 * Frame (a log):
 *   | header | record | record | ... | record |        free        |
 *   0        16                                used               frameSize
 *
 *   header:  0 magic int 0x7A6C6F67 ("zlog")   4 used int (the log's end)
 *            8 live int (records alive)        12 liveBytes int (their record bytes)
 *   record:  0 size int (payload bytes)        4 slot int (handle slot; -1 once freed)
 *            8 payload, the record rounded up to 4 bytes
 *
 * Location in the handle table: frame << 14 | record offset / 4.
 *
 * Algorithm:
 *   malloc   append to the open frame if the record fits before its end; else open a new
 *            frame (the old one is sealed: it never takes another record). The open frame
 *            moves to the hot end of the LRU.
 *   free     mark the record dead; a frame with no live record returns to the frame source
 *            (the open one too: the next malloc opens another).
 *   reclaim  take frames from the cold end of the LRU and evict every live record of each;
 *            the emptied frame returns to the source. A refusal puts the frame back at the
 *            hot end.
 *   compact  the log cleaner: sealed frames, emptiest first, append their live records to the
 *            open frame while they fit in its room (handles relocated) and return to the
 *            source; when one no longer fits, a fresh frame takes the emptiest that fit
 *            together, two at least; sweeps repeat until one frees nothing.
 *
 * Largest object: frameSize - 24 bytes (header and one record header).
 * Cost outside the frames: 8 bytes per handle; 8 bytes per frame of LRU links. Frames
 * addressable: 2^25 (a location is frame << 14 | offset / 4 in the handle table's 39 bits).
 * Cost inside: 8 bytes and up to 3 bytes of rounding per object, the open frame's unused end,
 * and dead records in sealed frames until their frame empties or is cleaned.
 * </pre>
 */
final class ZlogPool extends AbstractZPool {

    static final int MAGIC = 0x7A6C6F67;

    private static final int HEADER = 16;
    private static final int RECORD = 8;
    private static final int OFFSET_BITS = 14; // frames of 64 KiB at most, records at 4-byte offsets
    private static final int NIL = IntLinkedLists.NIL;

    private static final int H_MAGIC = 0;
    private static final int H_USED = 4;
    private static final int H_LIVE = 8;
    private static final int H_LIVE_BYTES = 12;

    private final IntLinkedLists lru;
    private final byte[] moveScratch;
    /** The frame allocations are appended to, or NIL. */
    private int open = NIL;

    /** Frames a location can name: the handle table's 39 location bits less the offset's 14. */
    static final long MAX_FRAMES = 1L << (HandleTable.LOCATION_BITS - OFFSET_BITS);

    ZlogPool(FrameSource source) {
        super(source);
        if (source.maxFrames() > MAX_FRAMES) {
            throw new IllegalArgumentException("zlog addresses at most " + MAX_FRAMES + " frames; a budget of "
                    + source.budgetBytes() + " bytes in " + frameSize + "-byte frames may need more: use larger frames");
        }
        this.lru = new IntLinkedLists(1, source.maxFrames());
        this.moveScratch = new byte[frameSize];
    }

    @Override
    public String type() {
        return "zlog";
    }

    @Override
    public int maxObjectSize() {
        return maxObjectSize(frameSize);
    }

    /** The largest object of a zlog frame: the frame less its header and one record header. */
    static int maxObjectSize(int frameSize) {
        return frameSize - HEADER - RECORD;
    }

    private static int recordBytes(int size) {
        return RECORD + ((size + 3) & ~3);
    }

    @Override
    protected long allocate(int size) {
        int offset = append(size);
        if (offset < 0) {
            return NO_SPACE;
        }
        long handle = handles.allocate(location(open, offset));
        setInt(open, offset + 4, handles.slot(handle));
        return handle;
    }

    /**
     * Appends a record of {@code size} payload bytes to the open frame (opening a new one if it
     * does not fit) and returns its offset, its slot left for the caller; -1 if no frame is to
     * be had.
     */
    private int append(int size) {
        int need = recordBytes(size);
        if ((open == NIL || getInt(open, H_USED) + need > frameSize) && !openFresh()) {
            return -1;
        }
        int offset = getInt(open, H_USED);
        setInt(open, offset, size);
        setInt(open, H_USED, offset + need);
        setInt(open, H_LIVE, getInt(open, H_LIVE) + 1);
        setInt(open, H_LIVE_BYTES, getInt(open, H_LIVE_BYTES) + need);
        lru.moveToFirst(0, open);
        return offset;
    }

    private static long location(int frame, int offset) {
        return ((long) frame << OFFSET_BITS) | (offset >>> 2);
    }

    private static int frameAt(long location) {
        return (int) (location >>> OFFSET_BITS);
    }

    private static int offsetOf(long location) {
        return ((int) location & ((1 << OFFSET_BITS) - 1)) << 2;
    }

    @Override
    protected void release(int handleSlot) {
        long location = handles.location(handleSlot);
        handles.release(handleSlot);
        kill(frameAt(location), offsetOf(location));
    }

    /** Marks a record dead; a frame left with no live record returns to the source (then: true). */
    private boolean kill(int frame, int offset) {
        int need = recordBytes(getInt(frame, offset));
        setInt(frame, offset + 4, -1);
        int live = getInt(frame, H_LIVE) - 1;
        setInt(frame, H_LIVE, live);
        setInt(frame, H_LIVE_BYTES, getInt(frame, H_LIVE_BYTES) - need);
        if (live == 0) {
            lru.remove(0, frame);
            setInt(frame, H_MAGIC, 0);
            source.release(frame);
            framesHeld--;
            if (frame == open) {
                open = NIL;
            }
            return true;
        }
        return false;
    }

    @Override
    protected int sizeOf(int handleSlot) {
        long location = handles.location(handleSlot);
        return getInt(frameAt(location), offsetOf(location));
    }

    @Override
    protected int payloadFrame(int handleSlot) {
        return frameAt(handles.location(handleSlot));
    }

    @Override
    protected int payloadOffset(int handleSlot) {
        return offsetOf(handles.location(handleSlot)) + RECORD;
    }

    @Override
    protected int continuationFrame(int handleSlot) {
        throw new AssertionError("a zlog object never leaves its frame");
    }

    @Override
    protected void reclaimFrames(int maxFrames, Evictor evictor) {
        reclaimColdFrames(lru, maxFrames, evictor, (frame, e) -> {
            int used = getInt(frame, H_USED);
            for (int offset = HEADER; offset < used; offset += recordBytes(getInt(frame, offset))) {
                int slot = getInt(frame, offset + 4);
                if (slot >= 0 && !evict(slot, e)) {
                    return false;
                }
            }
            return true;
        });
    }

    /**
     * The log cleaner, sweep after sweep until one frees nothing: the sealed frames, emptiest
     * first, move their live records into the open frame while they fit in its room; when the
     * next does not fit, a fresh frame is opened for the emptiest that fit together, if at least
     * two do. Every move empties a frame and only whole frames move, so each sweep holds fewer
     * frames or changes nothing, and compacting again right after finds nothing to do.
     */
    @Override
    protected int compactFrames() {
        long heldBefore = framesHeld;
        long held;
        do {
            held = framesHeld;
            sweep();
        } while (framesHeld < held);
        return (int) (heldBefore - framesHeld);
    }

    private void sweep() {
        int capacity = frameSize - HEADER;
        long[] sealed = new long[lru.size(0)]; // live bytes << 32 | frame, sorted: emptiest first
        int n = 0;
        for (int frame = lru.first(0); frame != NIL; frame = lru.next(frame)) {
            if (frame != open) {
                sealed[n++] = ((long) getInt(frame, H_LIVE_BYTES) << 32) | frame;
            }
        }
        java.util.Arrays.sort(sealed, 0, n);
        int i = 0;
        while (i < n) {
            int room = open == NIL ? 0 : frameSize - getInt(open, H_USED);
            if ((int) (sealed[i] >>> 32) <= room) {
                moveAll((int) sealed[i++]);
                continue;
            }
            int k = i;
            long sum = 0;
            while (k < n && sum + (sealed[k] >>> 32) <= capacity) {
                sum += sealed[k++] >>> 32;
            }
            if (k - i < 2 || !openFresh()) {
                return;
            }
            while (i < k) {
                moveAll((int) sealed[i++]);
            }
        }
    }

    /** Opens a new, empty frame for appends; false if none is to be had. */
    private boolean openFresh() {
        int frame = source.allocate();
        if (frame == FrameSource.NO_FRAME) {
            return false;
        }
        lru.ensureCapacity(frame + 1);
        setInt(frame, H_MAGIC, MAGIC);
        setInt(frame, H_USED, HEADER);
        setInt(frame, H_LIVE, 0);
        setInt(frame, H_LIVE_BYTES, 0);
        lru.addFirst(0, frame);
        framesHeld++;
        open = frame;
        return true;
    }

    /** Appends every live record of a sealed frame to the open frame, which has room for them all. */
    private void moveAll(int frame) {
        int used = getInt(frame, H_USED);
        for (int offset = HEADER; offset < used; ) {
            int size = getInt(frame, offset);
            int next = offset + recordBytes(size);
            int slot = getInt(frame, offset + 4);
            if (slot >= 0) {
                source.arena(frame).get(source.offset(frame) + offset + RECORD, moveScratch, 0, size);
                int to = append(size);
                source.arena(open).put(source.offset(open) + to + RECORD, moveScratch, 0, size);
                setInt(open, to + 4, slot);
                handles.relocate(slot, location(open, to));
                movedObjects++;
                if (kill(frame, offset)) {
                    return; // its last record: the frame went back to the source
                }
            }
            offset = next;
        }
    }

    @Override
    protected void releaseAllFrames() {
        for (int frame = lru.first(0); frame != NIL; ) {
            int next = lru.next(frame);
            lru.remove(0, frame);
            source.release(frame);
            frame = next;
        }
        open = NIL;
    }

    @Override
    protected long structureMetadataBytes() {
        return lru.metadataBytes();
    }

    /** Each frame's header and each live record's; dead records are waste, not bookkeeping. */
    @Override
    protected long inFrameMetadataBytes() {
        return (long) HEADER * framesHeld + (long) RECORD * handles.live();
    }

    private int getInt(int frame, int at) {
        return source.arena(frame).getInt(source.offset(frame) + at);
    }

    private void setInt(int frame, int at, int value) {
        source.arena(frame).putInt(source.offset(frame) + at, value);
    }

    @Override
    public void checkInvariants() {
        lru.checkInvariants("zlog LRU");
        long objects = 0;
        long payload = 0;
        long frames = 0;
        boolean openSeen = open == NIL;
        for (int frame = lru.first(0); frame != NIL; frame = lru.next(frame)) {
            String where = "zlog frame " + frame;
            if (!source.isInUse(frame)) {
                throw new IllegalStateException(where + ": held but not in use at the frame source");
            }
            if (getInt(frame, H_MAGIC) != MAGIC) {
                throw new IllegalStateException(where + ": bad magic 0x" + Integer.toHexString(getInt(frame, H_MAGIC)));
            }
            int used = getInt(frame, H_USED);
            if (used < HEADER || used > frameSize) {
                throw new IllegalStateException(where + ": log end " + used + " outside the frame");
            }
            int live = 0;
            int liveBytes = 0;
            int offset = HEADER;
            while (offset < used) {
                int size = getInt(frame, offset);
                if (size < 1 || offset + recordBytes(size) > used) {
                    throw new IllegalStateException(where + ": record at " + offset + " of " + size + " bytes runs past"
                            + " the log's end " + used);
                }
                int slot = getInt(frame, offset + 4);
                if (slot >= 0) {
                    if (!handles.isLive(slot) || handles.location(slot) != location(frame, offset)) {
                        throw new IllegalStateException(where + ": record at " + offset + ": handle slot " + slot
                                + " does not point back here");
                    }
                    live++;
                    liveBytes += recordBytes(size);
                    payload += size;
                } else if (slot != -1) {
                    throw new IllegalStateException(where + ": record at " + offset + " has slot " + slot);
                }
                offset += recordBytes(size);
            }
            if (offset != used || live != getInt(frame, H_LIVE) || liveBytes != getInt(frame, H_LIVE_BYTES)
                    || live == 0) {
                throw new IllegalStateException(where + ": header counts " + getInt(frame, H_LIVE) + " live records"
                        + " of " + getInt(frame, H_LIVE_BYTES) + " bytes, the log " + live + " of " + liveBytes
                        + " (a frame with none is released)");
            }
            openSeen |= frame == open;
            objects += live;
            frames++;
        }
        if (!openSeen) {
            throw new IllegalStateException("zlog: the open frame " + open + " is not held");
        }
        checkCommonInvariants(objects, payload, frames);
    }
}

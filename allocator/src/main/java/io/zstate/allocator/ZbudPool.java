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
 * Frame header (chunk 0; BuddyPool's layout for two buddies, 0 first and 1 last): magic
 * 0x7A627564 ("zbud"), chunks, sizes and handle slots of the two. Location in the handle table:
 * frame << 2 | buddy.
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
final class ZbudPool extends BuddyPool {

    static final int MAGIC = 0x7A627564;

    private static final int FIRST = 0;
    private static final int LAST = 1;

    ZbudPool(FrameSource source) {
        super(source, 2, MAGIC);
    }

    @Override
    public String type() {
        return "zbud";
    }

    @Override
    protected long allocate(int size) {
        int chunks = (size + chunkSize - 1) >>> chunkShift;
        int frame = frameWithRoom(chunks);
        int buddy = FIRST;
        if (frame != NIL) {
            buddy = chunks(frame, FIRST) == 0 ? FIRST : LAST;
        } else {
            frame = newFrame();
            if (frame == FrameSource.NO_FRAME) {
                return NO_SPACE;
            }
        }
        return place(frame, buddy, chunks, size);
    }

    @Override
    protected void release(int handleSlot) {
        long location = handles.location(handleSlot);
        handles.release(handleSlot);
        int frame = frameOfLocation(location);
        if (!clear(frame, buddyOfLocation(location))) {
            relist(frame);
        }
    }

    @Override
    protected int payloadOffset(int handleSlot) {
        long location = handles.location(handleSlot);
        if (buddyOfLocation(location) == FIRST) {
            return chunkSize;
        }
        return frameSize - (chunks(frameOfLocation(location), LAST) << chunkShift);
    }

    /** Both buddies taken: full; else unbuddied by the chunks left free. */
    @Override
    protected int listFor(int frame) {
        int first = chunks(frame, FIRST);
        int last = chunks(frame, LAST);
        return first != 0 && last != 0 ? FULL : NCHUNKS - first - last;
    }

    @Override
    protected void checkFrame(int frame, String where) {
        // the shared checks cover zbud: two buddies within the frame's 63 chunks
    }
}

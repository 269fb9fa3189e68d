package io.zstate.allocator;

import java.util.Arrays;

/**
 * The one level of indirection between a pool's handles and where its objects sit, so objects
 * can move (compaction) while the handles their owners hold stay valid. Nobody else decodes
 * handle bits.
 *
 * <pre>
 * Handle (what callers hold), one long:
 *
 *   tttttttt gggggggg gggggggg gggggggg ssssssss ssssssss ssssssss ssssssss
 *   t: pool tag (8 bits, never 0, so no handle is 0 == ZPool.NO_SPACE)
 *   g: generation of the slot when the handle was issued (24 bits)
 *   s: slot in this table (32 bits)
 *
 * Entry (one long per slot, on heap, in chunks of 4096 slots):
 *
 *   gggggggg gggggggg gggggggg aLLLLLLL LLLLLLLL LLLLLLLL LLLLLLLL LLLLLLLL
 *   g: current generation of the slot; bumped on every free
 *   a: 1 while the slot holds a live object
 *   L: allocated: the object's location (39 bits, meaning owned by the pool)
 *      free: the next free slot (low 32 bits, -1 ends the list)
 * </pre>
 *
 * <p>A handle whose tag is not this table's belongs to another pool; one whose generation is not
 * the slot's, or whose slot is free, was freed (double free, use after free). Both are refused
 * with {@link InvalidHandleException} before anything is touched. Tags are 255 values, so a
 * foreign handle is caught unless the two pools happen to share a tag; a stale one unless its
 * slot was reused 2^24 times since.
 *
 * <p>Cost: 8 bytes per slot ever live at once, plus at most one partly used chunk.
 */
final class HandleTable {

    static final int LOCATION_BITS = 39;
    static final long MAX_LOCATION = (1L << LOCATION_BITS) - 1;

    private static final int CHUNK_SHIFT = 12;
    private static final int CHUNK_SIZE = 1 << CHUNK_SHIFT;
    private static final int CHUNK_MASK = CHUNK_SIZE - 1;
    private static final long ALLOCATED = 1L << LOCATION_BITS;
    private static final int GEN_SHIFT = 40;
    private static final int GEN_MASK = (1 << 24) - 1;
    private static final int TAG_SHIFT = 56;
    private static final int NO_SLOT = -1;

    private static int nextTag;

    private final int tag;
    private long[][] chunks = new long[4][];
    private int slotsUsed; // high-water mark: slots below it have been handed out once
    private int freeHead = NO_SLOT;
    private int live;

    HandleTable() {
        synchronized (HandleTable.class) {
            nextTag = nextTag % 255 + 1;
            this.tag = nextTag;
        }
    }

    /** Issues a handle for an object at {@code location}. */
    long allocate(long location) {
        assert location >= 0 && location <= MAX_LOCATION : location;
        int slot;
        long gen;
        if (freeHead != NO_SLOT) {
            slot = freeHead;
            long entry = entry(slot);
            freeHead = (int) entry;
            gen = entry >>> GEN_SHIFT;
        } else {
            slot = slotsUsed++;
            int chunk = slot >>> CHUNK_SHIFT;
            if (chunk == chunks.length) {
                chunks = Arrays.copyOf(chunks, chunks.length * 2);
            }
            if (chunks[chunk] == null) {
                chunks[chunk] = new long[CHUNK_SIZE];
            }
            gen = 0;
        }
        chunks[slot >>> CHUNK_SHIFT][slot & CHUNK_MASK] = (gen << GEN_SHIFT) | ALLOCATED | location;
        live++;
        return ((long) tag << TAG_SHIFT) | (gen << 32) | (slot & 0xFFFFFFFFL);
    }

    /**
     * The slot of a live handle.
     *
     * @throws InvalidHandleException if the handle is foreign, never issued, or freed
     */
    int slot(long handle) {
        int slot = (int) handle;
        if ((int) (handle >>> TAG_SHIFT) != tag || slot < 0 || slot >= slotsUsed) {
            throw foreignOrUnknown(handle, slot);
        }
        long entry = entry(slot);
        if ((entry & ALLOCATED) == 0 || (entry >>> GEN_SHIFT) != ((handle >>> 32) & GEN_MASK)) {
            throw new InvalidHandleException(
                    "handle "
                            + describe(handle)
                            + " is stale: its object was freed (double free or use after free);"
                            + " the slot is now at generation "
                            + (entry >>> GEN_SHIFT)
                            + ((entry & ALLOCATED) == 0 ? " and free" : " and reused"));
        }
        return slot;
    }

    /** The handle that names the live object in {@code slot}. */
    long handleOf(int slot) {
        long entry = entry(slot);
        assert (entry & ALLOCATED) != 0 : "slot " + slot + " is free";
        return ((long) tag << TAG_SHIFT) | ((entry >>> GEN_SHIFT) << 32) | (slot & 0xFFFFFFFFL);
    }

    long location(int slot) {
        return entry(slot) & MAX_LOCATION;
    }

    /** Moves the object of a live slot (compaction); its handle stays valid. */
    void relocate(int slot, long location) {
        assert location >= 0 && location <= MAX_LOCATION : location;
        long[] chunk = chunks[slot >>> CHUNK_SHIFT];
        int i = slot & CHUNK_MASK;
        chunk[i] = (chunk[i] & ~MAX_LOCATION) | location;
    }

    /** Frees a live slot: its generation moves on, so every handle to it is stale from now. */
    void release(int slot) {
        long entry = entry(slot);
        assert (entry & ALLOCATED) != 0 : "slot " + slot + " is already free";
        long gen = ((entry >>> GEN_SHIFT) + 1) & GEN_MASK;
        chunks[slot >>> CHUNK_SHIFT][slot & CHUNK_MASK] = (gen << GEN_SHIFT) | (freeHead & 0xFFFFFFFFL);
        freeHead = slot;
        live--;
    }

    boolean isLive(int slot) {
        return slot >= 0 && slot < slotsUsed && (entry(slot) & ALLOCATED) != 0;
    }

    int live() {
        return live;
    }

    /** Slots handed out at least once; live ones are below this mark. */
    int slotsUsed() {
        return slotsUsed;
    }

    /** On-heap bytes of this table. */
    long metadataBytes() {
        long bytes = 16L + 8L * chunks.length;
        for (long[] chunk : chunks) {
            if (chunk != null) {
                bytes += 16L + 8L * chunk.length;
            }
        }
        return bytes;
    }

    /** Checks the free list against the live count. */
    void checkInvariants() {
        int free = 0;
        for (int s = freeHead; s != NO_SLOT; s = (int) entry(s)) {
            if ((entry(s) & ALLOCATED) != 0) {
                throw new IllegalStateException("handle slot " + s + " is on the free list but live");
            }
            if (++free > slotsUsed) {
                throw new IllegalStateException("handle free list has a cycle");
            }
        }
        if (free + live != slotsUsed) {
            throw new IllegalStateException(
                    "handle accounting: " + live + " live + " + free + " free != " + slotsUsed + " slots");
        }
    }

    static String describe(long handle) {
        return "0x" + Long.toHexString(handle);
    }

    private long entry(int slot) {
        return chunks[slot >>> CHUNK_SHIFT][slot & CHUNK_MASK];
    }

    private InvalidHandleException foreignOrUnknown(long handle, int slot) {
        if (handle == ZPool.NO_SPACE) {
            return new InvalidHandleException(
                    "handle 0 is ZPool.NO_SPACE, the answer of a malloc that found no space, not an object");
        }
        int handleTag = (int) (handle >>> TAG_SHIFT);
        if (handleTag != tag) {
            return new InvalidHandleException(
                    "handle "
                            + describe(handle)
                            + " was not issued by this pool (its tag is "
                            + handleTag
                            + ", this pool's is "
                            + tag
                            + ")");
        }
        return new InvalidHandleException(
                "handle " + describe(handle) + " was never issued by this pool (slot " + slot + ")");
    }
}

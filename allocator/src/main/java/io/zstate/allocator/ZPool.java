package io.zstate.allocator;

import java.nio.ByteBuffer;

/**
 * A pool of variable-size objects in off-heap frames, addressed by opaque handles: the zpool API
 * of Linux's compressed-memory allocators, for compressed state pages.
 *
 * <p>Handles are {@code long}s with one level of indirection, so a pool may move objects
 * ({@link #compact()}) without invalidating them. {@link #NO_SPACE} (0) is never a handle. A
 * stale, freed or foreign handle is refused with {@link InvalidHandleException} and damages
 * nothing.
 *
 * <p>Recency is kept per frame (zbud) or per span of frames (zsmalloc), never per object, and
 * {@link #reclaim} evicts whole frames from the cold end: evicting objects that free no frame
 * would be worthless.
 *
 * <p>A pool is not thread-safe; it is confined to one thread or guarded by its owner, which is
 * also why a reader can never observe an object half-moved by compaction.
 */
public interface ZPool extends AutoCloseable {

    /** The answer of {@link #malloc} when no frame is left in the budget. */
    long NO_SPACE = 0L;

    /**
     * Allocates an object of {@code size} bytes, 1 to {@link #maxObjectSize()}.
     *
     * @return its handle, or {@link #NO_SPACE}: the pool never throws for lack of memory
     * @throws IllegalArgumentException for a size outside the allowed range
     */
    long malloc(int size);

    /** Frees the object; its handle is stale from now on. */
    void free(long handle);

    /** Writes {@code length} bytes, at most the object's size, to the start of the object. */
    void write(long handle, byte[] src, int srcOffset, int length);

    /**
     * Writes {@code src.remaining()} bytes, at most the object's size, to the start of the object
     * and advances {@code src}'s position.
     */
    void write(long handle, ByteBuffer src);

    /**
     * Copies the whole object into {@code dst} from {@code dstOffset}.
     *
     * @return the object's size
     */
    int read(long handle, byte[] dst, int dstOffset);

    /**
     * Copies {@code length} bytes of the object, from its byte {@code at}, into {@code dst} from
     * {@code dstOffset} (a part of it: a header skipped, say, with no copy of the whole first).
     *
     * @throws IndexOutOfBoundsException if the range is not within the object or {@code dst}
     */
    void read(long handle, int at, byte[] dst, int dstOffset, int length);

    /**
     * Writes {@code length} bytes of {@code src} into the object from its byte {@code at}.
     *
     * @throws IndexOutOfBoundsException if the range is not within the object or {@code src}
     */
    void write(long handle, int at, byte[] src, int srcOffset, int length);

    /**
     * Copies the whole object into {@code dst} at its position, and advances the position.
     *
     * @return the object's size
     */
    int read(long handle, ByteBuffer dst);

    /** The size the object was allocated with. */
    int size(long handle);

    /**
     * Releases frames from the cold end of the LRU until at least {@code maxFrames} are released
     * or no victim is left: every live object in a victim frame (or span) is handed to {@code
     * evictor}, which copies it out; once the evictor has {@linkplain Evictor#flush() flushed},
     * the objects it accepted are freed. Victims are released whole, so zsmalloc may release up to
     * a span's frames (chain size) minus one more than asked; xcfmalloc, whose objects may span
     * frames, evicts every object with a block in a victim (bytes outside the victim too) and
     * releases any other frame that empties, so it may release many more. The evictor must not call back into
     * this pool. If the evictor throws (from evict or flush), nothing is freed and the exception
     * is rethrown; the victims go back to the hot end of the LRU.
     *
     * @return the number of frames actually released to the frame source
     */
    int reclaim(int maxFrames, Evictor evictor);

    /**
     * Writeback off the caller's thread, its first half (the kernel's zsmalloc isolating a zspage
     * while its pages migrate): takes victims from the cold end of the LRU, as {@link #reclaim}
     * does, until they hold at least {@code maxFrames} frames, and hands every live object in them
     * to {@code copier}; nothing is freed. The victims are <em>isolated</em> until {@link
     * #completeIsolated}: no malloc lands in them and reclaim and compaction pass them by, so the
     * frames their objects leave are the frames that were copied; reads, writes and frees of their
     * objects work as before (an object freed meanwhile is simply gone at completion, and a victim
     * a free empties returns its frames at once). A pool that cannot isolate (only zsmalloc can)
     * isolates nothing and returns 0: its owner reclaims directly. Call again only after
     * completing. The copier must not call into this pool (as an evictor must not); if it throws,
     * every victim is put back and the exception is rethrown.
     *
     * @return the frames isolated
     * @throws IllegalStateException if victims are isolated already
     */
    int isolateColdest(int maxFrames, ObjectCopier copier);

    /**
     * Ends the isolation: frees every live object of the isolated victims for which {@code free}
     * answers true (its copy is kept elsewhere now), returns the frames of victims that empty,
     * and puts the others back at the hot end of the LRU, open to mallocs again (as a reclaim
     * puts back a victim its evictor refused). {@code free} must not call into this pool; if it
     * throws, the objects it answered true for before are freed, the others stay and every victim
     * is put back; the exception is rethrown.
     *
     * @return the frames released
     */
    int completeIsolated(java.util.function.LongPredicate free);

    /** Frames in isolated victims ({@link #isolateColdest}). */
    int isolatedFrames();

    /** Takes a copy of one object of an isolated victim: {@code object} is valid during the call only. */
    @FunctionalInterface
    interface ObjectCopier {
        void copy(long handle, ByteBuffer object);
    }

    /**
     * Moves objects from sparse frames into dense ones and releases the frames emptied.
     *
     * @return the number of frames released (0 for allocators that cannot move objects)
     */
    int compact();

    /** A snapshot of the pool's occupancy and counters. */
    ZPoolStats stats();

    /** The largest size {@link #malloc} accepts. */
    int maxObjectSize();

    /**
     * The allocator's name: {@code zsmalloc}, {@code zbud}, {@code z3fold}, {@code zlog} or {@code
     * xcfmalloc}.
     */
    String type();

    /**
     * Verifies every invariant of the pool's structures: no overlapping objects, accounting adds
     * up, every live handle readable, LRU and free-space lists consistent.
     *
     * @throws IllegalStateException naming the first violation found
     */
    void checkInvariants();

    /**
     * Frees every object and returns every frame to the frame source; the pool is unusable
     * afterwards. Idempotent.
     */
    @Override
    void close();
}

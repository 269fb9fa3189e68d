package io.zstate.allocator;

import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * What every pool shares: argument and handle checks, the copies between callers' buffers and
 * frames (objects may continue into a second frame), the reclaim guard that keeps an evictor from
 * re-entering the pool, and the counters behind {@link #stats()}.
 *
 * <p>An implementation places objects and says where a payload starts ({@link
 * #payloadFrame}, {@link #payloadOffset}) and which frame it continues in ({@link
 * #continuationFrame}); this class does the copying. An allocator whose objects lie in more
 * than two pieces (xcfmalloc's block chains) overrides the four copy methods ({@link
 * #copyIn(int, byte[], int, int)} and the rest) instead.
 */
abstract class AbstractZPool implements ZPool {

    protected final FrameSource source;
    protected final HandleTable handles = new HandleTable();
    protected final int frameSize;
    protected final int frameShift;

    /** Bytes of live payload, as requested by malloc. */
    protected long payloadBytes;

    protected long framesHeld;
    protected long mallocs;
    protected long noSpace;
    protected long frees;
    protected long reclaimedFrames;
    protected long evictedObjects;
    protected long compactedFrames;
    protected long movedObjects;
    /** Reads by callers, and the contiguous copies out of frames they took (1 a piece). */
    protected long reads;
    protected long readCopies;
    protected long splitReads;

    private final ByteBuffer evictScratch;
    private final ByteBuffer evictView;
    /**
     * Whom the pool is handing objects to right now ("its evictor", "its copier", "a completion's
     * answer"), or null: the callee must not re-enter the pool (zswap's writeback-recursion rule).
     */
    private String handingTo;
    /** Handle slots an evictor accepted during the current reclaim, freed after its flush. */
    private int[] pending = new int[64];
    private int pendingCount;
    private boolean closed;

    AbstractZPool(FrameSource source) {
        this.source = Objects.requireNonNull(source, "source");
        this.frameSize = source.frameSize();
        this.frameShift = source.frameShift();
        this.evictScratch = ByteBuffer.allocate(frameSize);
        this.evictView = evictScratch.asReadOnlyBuffer();
    }

    // ---- what implementations provide --------------------------------------------------------

    /** Places a new object; returns its handle or {@link #NO_SPACE}. Size is already checked. */
    protected abstract long allocate(int size);

    /** Frees the object in a live handle slot. */
    protected abstract void release(int slot);

    /** Size of the object in a live handle slot. */
    protected abstract int sizeOf(int slot);

    /** Frame in which the object's payload starts. */
    protected abstract int payloadFrame(int slot);

    /** Offset within {@link #payloadFrame} at which the payload starts. */
    protected abstract int payloadOffset(int slot);

    /** Frame in which a payload that runs past the end of its first frame continues. */
    protected abstract int continuationFrame(int slot);

    /**
     * Hands the objects of victims from the cold end to the evictor ({@link #evict}) until the
     * victims whose every object was accepted hold {@code maxFrames} frames, or none is left.
     * Nothing is freed here: the accepted objects are freed after the evictor's flush, which
     * releases their frames. Every victim goes back to the hot end of the LRU (a frame emptied
     * by the frees leaves it then).
     */
    protected abstract void reclaimFrames(int maxFrames, Evictor evictor);

    protected abstract int compactFrames();

    /** Returns every frame to the source. */
    protected abstract void releaseAllFrames();

    protected abstract long structureMetadataBytes();

    /**
     * Bytes inside the held frames that are the pool's own bookkeeping (frame, slot, record or
     * block headers) rather than payload, free space or rounding.
     */
    protected abstract long inFrameMetadataBytes();

    // ---- the API -----------------------------------------------------------------------------

    @Override
    public final long malloc(int size) {
        checkMutable("malloc");
        if (size < 1 || size > maxObjectSize()) {
            throw new IllegalArgumentException(
                    "cannot allocate "
                            + size
                            + " bytes in "
                            + type()
                            + ": object sizes run from 1 to "
                            + maxObjectSize()
                            + " bytes with "
                            + frameSize
                            + "-byte frames");
        }
        long handle = allocate(size);
        if (handle == NO_SPACE) {
            noSpace++;
        } else {
            mallocs++;
            payloadBytes += size;
        }
        return handle;
    }

    @Override
    public final void free(long handle) {
        checkMutable("free");
        int slot = handles.slot(handle);
        payloadBytes -= sizeOf(slot);
        frees++;
        release(slot);
    }

    @Override
    public final int size(long handle) {
        checkOpen();
        return sizeOf(handles.slot(handle));
    }

    @Override
    public final void write(long handle, byte[] src, int srcOffset, int length) {
        checkMutable("write");
        int slot = handles.slot(handle);
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        checkFits(handle, slot, length);
        copyIn(slot, src, srcOffset, length);
    }

    @Override
    public final void write(long handle, ByteBuffer src) {
        checkMutable("write");
        int slot = handles.slot(handle);
        int length = src.remaining();
        checkFits(handle, slot, length);
        int pos = src.position();
        copyIn(slot, src, pos, length);
        src.position(pos + length);
    }

    @Override
    public final int read(long handle, byte[] dst, int dstOffset) {
        checkOpen();
        int slot = handles.slot(handle);
        int size = sizeOf(slot);
        Objects.checkFromIndexSize(dstOffset, size, dst.length);
        countRead(copyOut(slot, size, dst, dstOffset));
        return size;
    }

    @Override
    public final void read(long handle, int at, byte[] dst, int dstOffset, int length) {
        checkOpen();
        int slot = handles.slot(handle);
        Objects.checkFromIndexSize(at, length, sizeOf(slot));
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        countRead(copyOut(slot, at, length, dst, dstOffset));
    }

    @Override
    public final void write(long handle, int at, byte[] src, int srcOffset, int length) {
        checkMutable("write");
        int slot = handles.slot(handle);
        Objects.checkFromIndexSize(at, length, sizeOf(slot));
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        copyIn(slot, at, src, srcOffset, length);
    }

    @Override
    public final int read(long handle, ByteBuffer dst) {
        checkOpen();
        int slot = handles.slot(handle);
        int size = sizeOf(slot);
        if (dst.remaining() < size) {
            throw new IllegalArgumentException(
                    "object "
                            + HandleTable.describe(handle)
                            + " is "
                            + size
                            + " bytes but the buffer has room for "
                            + dst.remaining());
        }
        countRead(copyOut(slot, size, dst, dst.position()));
        dst.position(dst.position() + size);
        return size;
    }

    @Override
    public final int reclaim(int maxFrames, Evictor evictor) {
        checkMutable("reclaim");
        Objects.requireNonNull(evictor, "evictor");
        if (maxFrames <= 0) {
            return 0;
        }
        long heldBefore = framesHeld;
        handingTo = "its evictor";
        pendingCount = 0;
        try {
            reclaimFrames(maxFrames, evictor);
            evictor.flush();
        } catch (RuntimeException | Error e) {
            pendingCount = 0; // the writeback failed: every object stays
            throw e;
        } finally {
            handingTo = null;
        }
        for (int i = 0; i < pendingCount; i++) {
            releaseWrittenBack(pending[i]);
        }
        pendingCount = 0;
        int released = (int) (heldBefore - framesHeld);
        reclaimedFrames += released;
        return released;
    }

    @Override
    public final int isolateColdest(int maxFrames, ObjectCopier copier) {
        checkMutable("isolate");
        Objects.requireNonNull(copier, "copier");
        if (maxFrames <= 0) {
            return 0;
        }
        handingTo = "its copier";
        try {
            return isolateFrames(maxFrames, copier);
        } finally {
            handingTo = null;
        }
    }

    @Override
    public final int completeIsolated(java.util.function.LongPredicate free) {
        checkMutable("complete an isolation");
        Objects.requireNonNull(free, "free");
        long heldBefore = framesHeld;
        handingTo = "a completion's answer";
        try {
            completeIsolation(free);
        } finally {
            handingTo = null;
        }
        int released = (int) (heldBefore - framesHeld);
        reclaimedFrames += released;
        return released;
    }

    @Override
    public final int isolatedFrames() {
        return isolatedFrameCount();
    }

    /**
     * Isolates victims from the cold end and offers their objects ({@link #offerCopy}); see
     * {@link ZPool#isolateColdest}. A pool that cannot isolate keeps this default: nothing.
     */
    protected int isolateFrames(int maxFrames, ObjectCopier copier) {
        return 0;
    }

    /** Frees the written-back objects of the isolated victims ({@link #releaseWrittenBack}) and puts the rest back. */
    protected void completeIsolation(java.util.function.LongPredicate free) {
        // nothing is isolated in a pool that cannot isolate
    }

    /** Frames in isolated victims. */
    protected int isolatedFrameCount() {
        return 0;
    }

    @Override
    public final int compact() {
        checkMutable("compact");
        int released = compactFrames();
        compactedFrames += released;
        return released;
    }

    @Override
    public final ZPoolStats stats() {
        return new ZPoolStats(
                type(),
                frameSize,
                framesHeld,
                handles.live(),
                payloadBytes,
                metadataBytes(),
                mallocs,
                noSpace,
                frees,
                reclaimedFrames,
                evictedObjects,
                compactedFrames,
                movedObjects,
                inFrameMetadataBytes(),
                reads,
                readCopies,
                splitReads);
    }

    /** On-heap bytes of this pool's structures, handle table included. */
    public final long metadataBytes() {
        return handles.metadataBytes() + structureMetadataBytes();
    }

    @Override
    public final void close() {
        if (closed) {
            return;
        }
        if (handingTo != null) {
            throw new IllegalStateException("cannot close the " + type() + " pool from " + handingTo
                    + " while it hands objects to it");
        }
        closed = true;
        releaseAllFrames();
        framesHeld = 0;
        payloadBytes = 0;
    }

    public final boolean isClosed() {
        return closed;
    }

    /** The frame in which a live object's payload starts; for tests and checkers. */
    final int frameOf(long handle) {
        return payloadFrame(handles.slot(handle));
    }

    /** Every frame a live object has bytes in, first to last; for tests and checkers. */
    int[] framesOf(long handle) {
        int slot = handles.slot(handle);
        int frame = payloadFrame(slot);
        return payloadOffset(slot) + sizeOf(slot) > frameSize
                ? new int[] {frame, continuationFrame(slot)}
                : new int[] {frame};
    }

    // ---- helpers for implementations ---------------------------------------------------------

    /**
     * Offers one object to the evictor; an accepted object is remembered and freed after the
     * evictor's flush.
     *
     * @return whether the evictor accepted the object
     */
    protected final boolean evict(int slot, Evictor evictor) {
        boolean taken = evictor.evict(handles.handleOf(slot), scratchCopy(slot));
        if (taken) {
            if (pendingCount == pending.length) {
                pending = java.util.Arrays.copyOf(pending, pending.length * 2);
            }
            pending[pendingCount++] = slot; // freed after the evictor's flush
        }
        return taken;
    }

    /** Hands a copy of the object in a live handle slot to {@code copier} ({@link #isolateColdest}). */
    protected final void offerCopy(int slot, ObjectCopier copier) {
        copier.copy(handles.handleOf(slot), scratchCopy(slot));
    }

    /** A read-only view of a copy of the object in a live handle slot, in the pool's scratch (valid until the next). */
    private ByteBuffer scratchCopy(int slot) {
        int size = sizeOf(slot);
        evictScratch.clear();
        copyOut(slot, size, evictScratch, 0);
        return evictView.limit(size).position(0);
    }

    /**
     * Frees an object whose copy is kept elsewhere now: one a reclaim's evictor took, or one of an
     * isolated victim a completion was told is written back.
     */
    protected final void releaseWrittenBack(int slot) {
        payloadBytes -= sizeOf(slot);
        evictedObjects++;
        release(slot);
    }

    /** What a frame-LRU pool offers of one frame; true if the evictor took every object. */
    protected interface FrameObjects {
        boolean evictAll(int frame, Evictor evictor);
    }

    /**
     * Whole-frame reclaim over one LRU list of frames (zbud, z3fold, zlog, xcfmalloc): victims from
     * the cold end, each moved to the hot end first (a frame the evictor refused stays there; one it took
     * whole is released when its objects are freed after the flush), until {@code maxFrames}
     * victims were taken whole or every frame was tried once.
     */
    protected final void reclaimColdFrames(IntLinkedLists lru, int maxFrames, Evictor evictor, FrameObjects objects) {
        int emptied = 0;
        for (int attempts = lru.size(0); emptied < maxFrames && attempts > 0; attempts--) {
            int frame = lru.last(0);
            if (frame == IntLinkedLists.NIL) {
                break;
            }
            lru.remove(0, frame);
            lru.addFirst(0, frame);
            if (objects.evictAll(frame, evictor)) {
                emptied++;
            }
        }
    }

    /** Verifies the parts every pool shares; implementations call it from checkInvariants. */
    protected final void checkCommonInvariants(long countedObjects, long countedPayload, long countedFrames) {
        handles.checkInvariants();
        if (countedObjects != handles.live()) {
            throw new IllegalStateException(
                    type() + ": frames hold " + countedObjects + " objects, handle table " + handles.live());
        }
        if (countedPayload != payloadBytes) {
            throw new IllegalStateException(
                    type() + ": objects hold " + countedPayload + " payload bytes, counter " + payloadBytes);
        }
        if (countedFrames != framesHeld) {
            throw new IllegalStateException(
                    type() + ": structures hold " + countedFrames + " frames, counter " + framesHeld);
        }
    }

    // ---- copies between callers' buffers and frames ----------------------------------------------

    /**
     * Copies {@code length} bytes of {@code src} to the start of the object in a live slot: its
     * payload's first frame, then the continuation frame for what runs past that frame's end.
     */
    protected void copyIn(int slot, byte[] src, int srcOffset, int length) {
        copyIn(slot, 0, src, srcOffset, length);
    }

    /**
     * Copies {@code length} bytes of {@code src} into the object in a live slot from its byte
     * {@code at}: what lies before the payload's first frame ends there, the rest in the
     * continuation frame (which holds the object's bytes from {@code frameSize - payloadOffset}).
     */
    protected void copyIn(int slot, int at, byte[] src, int srcOffset, int length) {
        int start = payloadOffset(slot) + at;
        if (start >= frameSize) { // wholly in the continuation frame
            int next = continuationFrame(slot);
            source.arena(next).put(source.offset(next) + start - frameSize, src, srcOffset, length);
            return;
        }
        int frame = payloadFrame(slot);
        int first = Math.min(length, frameSize - start);
        source.arena(frame).put(source.offset(frame) + start, src, srcOffset, first);
        if (first < length) {
            int next = continuationFrame(slot);
            source.arena(next).put(source.offset(next), src, srcOffset + first, length - first);
        }
    }

    /** As {@link #copyIn(int, byte[], int, int)}, from {@code src} at index {@code pos}; positions stay. */
    protected void copyIn(int slot, ByteBuffer src, int pos, int length) {
        int frame = payloadFrame(slot);
        int offset = payloadOffset(slot);
        int first = Math.min(length, frameSize - offset);
        source.arena(frame).put(source.offset(frame) + offset, src, pos, first);
        if (first < length) {
            int next = continuationFrame(slot);
            source.arena(next).put(source.offset(next), src, pos + first, length - first);
        }
    }

    /**
     * Copies the {@code size} bytes of the object in a live slot into {@code dst} from {@code
     * dstOffset}.
     *
     * @return the contiguous copies it took (1, or 2 for an object that crosses into a second frame)
     */
    protected int copyOut(int slot, int size, byte[] dst, int dstOffset) {
        return copyOut(slot, 0, size, dst, dstOffset);
    }

    /**
     * Copies {@code length} bytes of the object in a live slot, from its byte {@code at}, into
     * {@code dst} from {@code dstOffset} (the layout of {@link #copyIn(int, int, byte[], int, int)}).
     *
     * @return the contiguous copies it took (1 or 2)
     */
    protected int copyOut(int slot, int at, int length, byte[] dst, int dstOffset) {
        int start = payloadOffset(slot) + at;
        if (start >= frameSize) { // wholly in the continuation frame
            int next = continuationFrame(slot);
            source.arena(next).get(source.offset(next) + start - frameSize, dst, dstOffset, length);
            return 1;
        }
        int frame = payloadFrame(slot);
        int first = Math.min(length, frameSize - start);
        source.arena(frame).get(source.offset(frame) + start, dst, dstOffset, first);
        if (first < length) {
            int next = continuationFrame(slot);
            source.arena(next).get(source.offset(next), dst, dstOffset + first, length - first);
            return 2;
        }
        return 1;
    }

    /** As {@link #copyOut(int, int, byte[], int)}, into {@code dst} at index {@code dstPos}; positions stay. */
    protected int copyOut(int slot, int size, ByteBuffer dst, int dstPos) {
        int frame = payloadFrame(slot);
        int offset = payloadOffset(slot);
        int first = Math.min(size, frameSize - offset);
        dst.put(dstPos, source.arena(frame), source.offset(frame) + offset, first);
        if (first < size) {
            int next = continuationFrame(slot);
            dst.put(dstPos + first, source.arena(next), source.offset(next), size - first);
            return 2;
        }
        return 1;
    }

    private void countRead(int copies) {
        reads++;
        readCopies += copies;
        if (copies > 1) {
            splitReads++;
        }
    }

    private void checkFits(long handle, int slot, int length) {
        int size = sizeOf(slot);
        if (length > size) {
            throw new IllegalArgumentException(
                    "cannot write "
                            + length
                            + " bytes to object "
                            + HandleTable.describe(handle)
                            + " of "
                            + size
                            + " bytes");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the " + type() + " pool is closed");
        }
    }

    private void checkMutable(String operation) {
        checkOpen();
        if (handingTo != null) {
            throw new IllegalStateException("cannot " + operation + " while the " + type()
                    + " pool hands objects to " + handingTo + ", which must not re-enter the pool it is"
                    + " called from (write the objects elsewhere)");
        }
    }
}

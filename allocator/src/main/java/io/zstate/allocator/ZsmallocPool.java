package io.zstate.allocator;

import java.util.Arrays;
import java.util.BitSet;

/**
 * zsmalloc: size classes over multi-frame spans, objects crossing frame boundaries, fullness
 * groups, handle indirection and compaction; after Linux {@code mm/zsmalloc.c}.
 *
 * <pre>
 * Notation:
 *   span      the kernel's zspage: framesPerSpan(c) frames, not contiguous in memory, chained
 *             by frameNext[] and listed in the span's frame table (spanFrames[], chainSize
 *             entries a span), so the frame of a byte of the span is one lookup; seen as one
 *             run of framesPerSpan * frameSize bytes
 *   slot      one object place in a span, slotSize(c) bytes; slot k starts at k * slotSize(c)
 *   class     a SizeClasses class: slot size and span geometry
 *
 *   span of class c (3 frames, 4 slots of 3008 bytes, 4 KiB frames):
 *   frame a                   frame b                   frame c
 *   +-----------------------+-------------------------+-----------------------+
 *   |hdr|obj 0     |hdr|obj 1 ..crosses..|hdr|obj 2     |hdr|obj 3     | waste |
 *   +-----------------------+-------------------------+-----------------------+
 *
 * Slot header (8 bytes at the start of every slot, in the frame; a slot starts 16-aligned so
 * a header never crosses a frame):
 *   allocated: int handleSlot (>= 0), int size            -- the kernel keeps the handle in the
 *   free:      int -2 - nextFreeSlot (-1 ends the list)      object too (obj_to_head)
 *   The payload follows the header and may run into the next frame of the span.
 *
 * Location in the handle table: span << 16 | slot (span < 2^23, slot < 2^16).
 *
 * Algorithm:
 *   malloc   class of size + 8; take a span from the fullest non-full fullness group of the
 *            class (kernel find_get_zspage), else a new span of framesPerSpan frames; pop its
 *            free slot; the span moves to the hot end of the LRU.
 *   free     push the slot on its span's free list; an empty span returns its frames.
 *   compact  per class, while the free slots add up to at least one span (zs_can_compact):
 *            move objects from the sparsest span into the fullest non-full one; a span
 *            emptied this way returns its frames (__zs_compact, migrate_zspage).
 *   reclaim  take spans from the cold end of the LRU; hand every object to the evictor;
 *            the emptied span returns its frames. A refusal stops that span; it goes back
 *            to the hot end with what is left.
 *   isolate  (writeback off the owner's thread) take spans from the cold end of the LRU out of
 *            it and out of their fullness groups (the kernel's zspage isolation): no malloc
 *            lands in them, reclaim and compaction pass them by; hand a copy of every object
 *            to the copier; free nothing. Frees still work (an isolated span a free empties
 *            returns its frames at once). complete: free the objects the owner says are
 *            written back, return the spans that empty, put the rest back at the LRU's hot end
 *            and in their groups.
 *
 * Fullness groups (kernel ZS_INUSE_RATIO_*): 1..10 for 0-9%, 10-19%, ... 90-99% in use;
 * 11 for full; a span with no object is freed at once, so group 0 stays empty.
 *
 * Cost outside the frames: 8 bytes per handle, 4 per frame (frameNext), 17 per span
 * (class, in use, free head, first frame, fullness group), 4 * chainSize per span (its frame
 * table) and 8 + 8 per span for the fullness and LRU links; span arrays grow by an eighth at
 * a time. The frame table is the kernel's obj encoding its page: without it, every read walked
 * the span's chain to its object's frame two or three times (the size, the payload, its
 * continuation), a dependent load a frame, and a pool fault spent 11-15% of a job's task
 * thread there.
 * </pre>
 */
final class ZsmallocPool extends AbstractZPool {

    static final int HEADER = 8;

    private static final int SLOT_BITS = 16;
    private static final int SLOT_MASK = (1 << SLOT_BITS) - 1;
    private static final int MAX_SPANS = 1 << (HandleTable.LOCATION_BITS - SLOT_BITS);
    private static final int GROUPS = 12;
    private static final int GROUP_FULL = 11;
    private static final int NIL = IntLinkedLists.NIL;
    private static final int FREE_END = -1;
    /** spanGroup of an isolated span: in no fullness group and not on the LRU. */
    private static final byte ISOLATED = -2;

    private final SizeClasses classes;
    private final int frameMask;
    private final IntLinkedLists fullness;
    private final IntLinkedLists lru;
    private final int[] classSpans;
    private final long[] classObjects;
    private final byte[] moveScratch;

    private int[] spanClass = new int[0];
    private int[] spanInUse = new int[0];
    private int[] spanFreeSlot = new int[0];
    private int[] spanFirstFrame = new int[0];
    /** Span s's frames, in order, at spanFrames[s * spanStride ...]. */
    private int[] spanFrames = new int[0];
    /** Entries of the frame table a span: the most frames a span has (the chain size). */
    private final int spanStride;
    /** The fullness group a span is listed in, or -1. */
    private byte[] spanGroup = new byte[0];
    private int spansUsed; // span ids below this mark have been handed out once
    private int freeSpanIds = NIL; // chained through spanFirstFrame
    private int[] frameNext = new int[0];
    /** The isolated spans, in the order isolated, and the frames they hold. */
    private int[] isolated = new int[16];
    private int isolatedCount;
    private int framesIsolated;

    ZsmallocPool(FrameSource source, int chainSize) {
        super(source);
        if (source.maxFrames() > MAX_SPANS) {
            throw new IllegalArgumentException(
                    "zsmalloc addresses at most "
                            + MAX_SPANS
                            + " spans; a budget of "
                            + source.budgetBytes()
                            + " bytes in "
                            + frameSize
                            + "-byte frames may need more: use larger frames");
        }
        this.classes = new SizeClasses(frameSize, chainSize);
        this.spanStride = classes.chainSize();
        this.frameMask = frameSize - 1;
        this.fullness = new IntLinkedLists(classes.classes() * GROUPS, source.maxFrames());
        this.lru = new IntLinkedLists(1, source.maxFrames());
        this.classSpans = new int[classes.classes()];
        this.classObjects = new long[classes.classes()];
        this.moveScratch = new byte[frameSize];
    }

    @Override
    public String type() {
        return "zsmalloc";
    }

    @Override
    public int maxObjectSize() {
        return maxObjectSize(frameSize);
    }

    /** The largest object of a zsmalloc pool: one frame less the slot header. */
    static int maxObjectSize(int frameSize) {
        return frameSize - HEADER;
    }

    SizeClasses sizeClasses() {
        return classes;
    }

    // ---- placement ---------------------------------------------------------------------------

    @Override
    protected long allocate(int size) {
        int clazz = classes.classOf(size + HEADER);
        int span = fullestNonFull(clazz);
        if (span == NIL) {
            span = newSpan(clazz);
            if (span == NIL) {
                return NO_SPACE;
            }
        }
        int slot = popFreeSlot(span);
        long handle = handles.allocate(location(span, slot));
        writeHeader(span, slot, handles.slot(handle), size);
        classObjects[clazz]++;
        regroup(span);
        lru.moveToFirst(0, span);
        return handle;
    }

    @Override
    protected void release(int handleSlot) {
        long location = handles.location(handleSlot);
        int span = spanOf(location);
        handles.release(handleSlot);
        pushFreeSlot(span, slotOf(location));
        classObjects[spanClass[span]]--;
        if (spanInUse[span] == 0) {
            freeSpan(span);
        } else {
            regroup(span);
        }
    }

    @Override
    protected int sizeOf(int handleSlot) {
        long location = handles.location(handleSlot);
        int span = spanOf(location);
        int at = slotOf(location) * classes.slotSize(spanClass[span]);
        int frame = frameAt(span, at >>> frameShift);
        return source.arena(frame).getInt(source.offset(frame) + (at & frameMask) + 4);
    }

    @Override
    protected int payloadFrame(int handleSlot) {
        long location = handles.location(handleSlot);
        int span = spanOf(location);
        int at = slotOf(location) * classes.slotSize(spanClass[span]) + HEADER;
        return frameAt(span, at >>> frameShift);
    }

    @Override
    protected int payloadOffset(int handleSlot) {
        long location = handles.location(handleSlot);
        int span = spanOf(location);
        return (slotOf(location) * classes.slotSize(spanClass[span]) + HEADER) & frameMask;
    }

    @Override
    protected int continuationFrame(int handleSlot) {
        return frameNext[payloadFrame(handleSlot)];
    }

    // ---- reclaim and compaction --------------------------------------------------------------

    @Override
    protected void reclaimFrames(int maxFrames, Evictor evictor) {
        int emptied = 0;
        for (int attempts = lru.size(0); emptied < maxFrames && attempts > 0; attempts--) {
            int span = lru.last(0);
            int clazz = spanClass[span];
            int slots = classes.objectsPerSpan(clazz);
            lru.remove(0, span);
            lru.addFirst(0, span); // the hot end; released when its objects are freed after the flush
            boolean all = true;
            for (int slot = 0; slot < slots; slot++) {
                int handleSlot = headerWord(span, slot);
                if (handleSlot >= 0 && !evict(handleSlot, evictor)) {
                    all = false;
                    break;
                }
            }
            if (all) {
                emptied += classes.framesPerSpan(clazz);
            }
        }
    }

    @Override
    protected int isolateFrames(int maxFrames, ObjectCopier copier) {
        if (isolatedCount > 0) {
            throw new IllegalStateException("zsmalloc: " + isolatedCount + " spans are isolated already: complete them"
                    + " before isolating more");
        }
        try {
            while (framesIsolated < maxFrames && lru.size(0) > 0) {
                int span = lru.last(0);
                lru.remove(0, span);
                unlistFullness(span);
                spanGroup[span] = ISOLATED;
                if (isolatedCount == isolated.length) {
                    isolated = Arrays.copyOf(isolated, isolatedCount * 2);
                }
                isolated[isolatedCount++] = span;
                framesIsolated += classes.framesPerSpan(spanClass[span]);
                for (int slot = 0, slots = classes.objectsPerSpan(spanClass[span]); slot < slots; slot++) {
                    int handleSlot = headerWord(span, slot);
                    if (handleSlot >= 0) {
                        offerCopy(handleSlot, copier);
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            completeIsolation(handle -> false); // every span back as it was
            throw e;
        }
        return framesIsolated;
    }

    @Override
    protected void completeIsolation(java.util.function.LongPredicate free) {
        Throwable failure = null;
        while (isolatedCount > 0) {
            int span = isolated[--isolatedCount];
            framesIsolated -= classes.framesPerSpan(spanClass[span]);
            spanGroup[span] = -1; // open again: a free that empties it now frees it, any other regroups it
            try {
                for (int slot = 0, slots = classes.objectsPerSpan(spanClass[span]); failure == null && slot < slots;
                        slot++) {
                    int handleSlot = headerWord(span, slot);
                    if (handleSlot >= 0 && free.test(handles.handleOf(handleSlot))) {
                        boolean last = spanInUse[span] == 1;
                        releaseWrittenBack(handleSlot);
                        if (last) {
                            break; // the span returned its frames
                        }
                    }
                }
            } catch (RuntimeException | Error e) {
                failure = e; // the rest go back with every object
            }
            if (spanClass[span] >= 0) {
                regroup(span);
                lru.addFirst(0, span);
            }
        }
        if (failure instanceof Error error) {
            throw error;
        }
        if (failure != null) {
            throw (RuntimeException) failure;
        }
    }

    @Override
    protected int isolatedFrameCount() {
        return framesIsolated;
    }

    /** Takes a span a free emptied out of the isolated ones. */
    private void unisolate(int span) {
        for (int i = 0; i < isolatedCount; i++) {
            if (isolated[i] == span) {
                isolated[i] = isolated[--isolatedCount];
                framesIsolated -= classes.framesPerSpan(spanClass[span]);
                spanGroup[span] = -1;
                return;
            }
        }
        throw new IllegalStateException("zsmalloc: span " + span + " is marked isolated but not listed");
    }

    @Override
    protected int compactFrames() {
        int released = 0;
        for (int clazz = 0; clazz < classes.classes(); clazz++) {
            int perSpan = classes.objectsPerSpan(clazz);
            while ((long) classSpans[clazz] * perSpan - classObjects[clazz] >= perSpan) {
                int dst = fullestNonFull(clazz);
                if (dst == NIL) {
                    break;
                }
                unlistFullness(dst);
                int src = sparsest(clazz);
                if (src == NIL) {
                    regroup(dst);
                    break;
                }
                unlistFullness(src);
                migrate(src, dst, clazz);
                regroup(dst);
                if (spanInUse[src] == 0) {
                    released += classes.framesPerSpan(clazz);
                    freeSpan(src);
                } else {
                    regroup(src);
                }
            }
        }
        return released;
    }

    /** Moves objects from src into dst until src is empty or dst is full (migrate_zspage). */
    private void migrate(int src, int dst, int clazz) {
        int slots = classes.objectsPerSpan(clazz);
        int slotSize = classes.slotSize(clazz);
        for (int slot = 0; slot < slots && spanInUse[src] > 0 && spanInUse[dst] < slots; slot++) {
            int handleSlot = headerWord(src, slot);
            if (handleSlot < 0) {
                continue;
            }
            int stored = HEADER + headerSize(src, slot);
            int to = popFreeSlot(dst);
            copySpanBytes(src, slot * slotSize, moveScratch, stored, true);
            copySpanBytes(dst, to * slotSize, moveScratch, stored, false);
            handles.relocate(handleSlot, location(dst, to));
            pushFreeSlot(src, slot);
            movedObjects++;
        }
    }

    // ---- spans -------------------------------------------------------------------------------

    private int newSpan(int clazz) {
        int frames = classes.framesPerSpan(clazz);
        if (source.framesAvailable() < frames) {
            return NIL;
        }
        int first = NIL;
        int prev = NIL;
        for (int i = 0; i < frames; i++) {
            int frame = source.allocate();
            if (frame == FrameSource.NO_FRAME) {
                // the budget had room but a shared budget or the memory refused: give back what we took
                for (int f = first, n = 0; n < i; n++) {
                    int next = frameNext[f];
                    source.release(f);
                    f = next;
                }
                return NIL;
            }
            ensureFrameCapacity(frame);
            frameNext[frame] = NIL;
            if (prev == NIL) {
                first = frame;
            } else {
                frameNext[prev] = frame;
            }
            prev = frame;
        }
        int span = takeSpanId();
        spanClass[span] = clazz;
        spanFirstFrame[span] = first;
        for (int i = 0, frame = first, at = span * spanStride; i < frames; i++, frame = frameNext[frame]) {
            spanFrames[at + i] = frame;
        }
        spanInUse[span] = 0;
        int slots = classes.objectsPerSpan(clazz);
        for (int slot = 0; slot < slots; slot++) {
            setHeaderWord(span, slot, encodeFree(slot + 1 < slots ? slot + 1 : FREE_END));
        }
        spanFreeSlot[span] = 0;
        framesHeld += frames;
        classSpans[clazz]++;
        return span;
    }

    private void freeSpan(int span) {
        assert spanInUse[span] == 0;
        if (spanGroup[span] == ISOLATED) {
            unisolate(span);
        }
        unlistFullness(span);
        if (lru.contains(span)) {
            lru.remove(0, span);
        }
        int clazz = spanClass[span];
        int frames = classes.framesPerSpan(clazz);
        for (int i = 0, frame = spanFirstFrame[span]; i < frames; i++) {
            int next = frameNext[frame];
            source.release(frame);
            frame = next;
        }
        framesHeld -= frames;
        classSpans[clazz]--;
        spanClass[span] = -1;
        spanFirstFrame[span] = freeSpanIds;
        freeSpanIds = span;
    }

    private int takeSpanId() {
        if (freeSpanIds != NIL) {
            int span = freeSpanIds;
            freeSpanIds = spanFirstFrame[span];
            return span;
        }
        int span = spansUsed++;
        if (span == spanClass.length) {
            // grow by an eighth: span ids never exceed the frames of the budget
            int grown = Math.min(source.maxFrames(), span + (span >> 3) + 64);
            spanClass = Arrays.copyOf(spanClass, grown);
            spanInUse = Arrays.copyOf(spanInUse, grown);
            spanFreeSlot = Arrays.copyOf(spanFreeSlot, grown);
            spanFirstFrame = Arrays.copyOf(spanFirstFrame, grown);
            spanFrames = Arrays.copyOf(spanFrames, grown * spanStride);
            spanGroup = Arrays.copyOf(spanGroup, grown);
            fullness.ensureCapacity(grown);
            lru.ensureCapacity(grown);
        }
        spanGroup[span] = -1;
        return span;
    }

    private void ensureFrameCapacity(int frame) {
        if (frame >= frameNext.length) {
            int grown = Math.min(source.maxFrames(),
                    Math.max(frame + 1, frameNext.length + (frameNext.length >> 3) + 256));
            frameNext = Arrays.copyOf(frameNext, grown);
        }
    }

    private int fullestNonFull(int clazz) {
        int base = clazz * GROUPS;
        for (int group = GROUP_FULL - 1; group >= 1; group--) {
            int span = fullness.first(base + group);
            if (span != NIL) {
                return span;
            }
        }
        return NIL;
    }

    private int sparsest(int clazz) {
        int base = clazz * GROUPS;
        for (int group = 1; group < GROUP_FULL; group++) {
            int span = fullness.first(base + group);
            if (span != NIL) {
                return span;
            }
        }
        return NIL;
    }

    /** Puts the span in the fullness list its occupancy calls for. */
    private void regroup(int span) {
        if (spanGroup[span] == ISOLATED) {
            return; // out of the groups until its isolation completes
        }
        int group = group(span);
        if (spanGroup[span] != group) {
            unlistFullness(span);
            fullness.addFirst(spanClass[span] * GROUPS + group, span);
            spanGroup[span] = (byte) group;
        }
    }

    private void unlistFullness(int span) {
        if (spanGroup[span] >= 0) {
            fullness.remove(spanClass[span] * GROUPS + spanGroup[span], span);
            spanGroup[span] = -1;
        }
    }

    private int group(int span) {
        int inUse = spanInUse[span];
        int slots = classes.objectsPerSpan(spanClass[span]);
        if (inUse == slots) {
            return GROUP_FULL;
        }
        return inUse * 100 / slots / 10 + 1;
    }

    private int popFreeSlot(int span) {
        int slot = spanFreeSlot[span];
        assert slot != FREE_END : "span " + span + " is full";
        spanFreeSlot[span] = decodeFree(headerWord(span, slot));
        spanInUse[span]++;
        return slot;
    }

    private void pushFreeSlot(int span, int slot) {
        setHeaderWord(span, slot, encodeFree(spanFreeSlot[span]));
        spanFreeSlot[span] = slot;
        spanInUse[span]--;
    }

    // ---- slot headers and span bytes ---------------------------------------------------------

    private int frameAt(int span, int index) {
        return spanFrames[span * spanStride + index];
    }

    private int headerWord(int span, int slot) {
        int at = slot * classes.slotSize(spanClass[span]);
        int frame = frameAt(span, at >>> frameShift);
        return source.arena(frame).getInt(source.offset(frame) + (at & frameMask));
    }

    private int headerSize(int span, int slot) {
        int at = slot * classes.slotSize(spanClass[span]);
        int frame = frameAt(span, at >>> frameShift);
        return source.arena(frame).getInt(source.offset(frame) + (at & frameMask) + 4);
    }

    private void setHeaderWord(int span, int slot, int word) {
        int at = slot * classes.slotSize(spanClass[span]);
        int frame = frameAt(span, at >>> frameShift);
        source.arena(frame).putInt(source.offset(frame) + (at & frameMask), word);
    }

    private void writeHeader(int span, int slot, int handleSlot, int size) {
        int at = slot * classes.slotSize(spanClass[span]);
        int frame = frameAt(span, at >>> frameShift);
        int offset = source.offset(frame) + (at & frameMask);
        source.arena(frame).putInt(offset, handleSlot).putInt(offset + 4, size);
    }

    /** Copies {@code length} bytes at byte {@code at} of a span to (out) or from (in) buf. */
    private void copySpanBytes(int span, int at, byte[] buf, int length, boolean out) {
        int frame = frameAt(span, at >>> frameShift);
        int offset = at & frameMask;
        int done = 0;
        while (done < length) {
            int n = Math.min(length - done, frameSize - offset);
            if (out) {
                source.arena(frame).get(source.offset(frame) + offset, buf, done, n);
            } else {
                source.arena(frame).put(source.offset(frame) + offset, buf, done, n);
            }
            done += n;
            offset = 0;
            frame = frameNext[frame];
        }
    }

    private static int encodeFree(int nextSlot) {
        return -2 - nextSlot;
    }

    private static int decodeFree(int word) {
        return -2 - word;
    }

    private static long location(int span, int slot) {
        return ((long) span << SLOT_BITS) | slot;
    }

    private static int spanOf(long location) {
        return (int) (location >>> SLOT_BITS);
    }

    private static int slotOf(long location) {
        return (int) location & SLOT_MASK;
    }

    // ---- lifecycle, metadata, checks -------------------------------------------------------

    @Override
    protected void releaseAllFrames() {
        for (int span = 0; span < spansUsed; span++) {
            if (spanClass[span] >= 0) {
                int frames = classes.framesPerSpan(spanClass[span]);
                for (int i = 0, frame = spanFirstFrame[span]; i < frames; i++) {
                    int next = frameNext[frame];
                    source.release(frame);
                    frame = next;
                }
                spanClass[span] = -1;
            }
        }
        isolatedCount = 0;
        framesIsolated = 0;
    }

    @Override
    protected long structureMetadataBytes() {
        return 17L * spanClass.length + 4L * isolated.length
                + 4L * frameNext.length
                + 4L * spanFrames.length
                + fullness.metadataBytes()
                + lru.metadataBytes()
                + 12L * classes.classes()
                + moveScratch.length;
    }

    /** The 8-byte header of every live object's slot. */
    @Override
    protected long inFrameMetadataBytes() {
        return (long) HEADER * handles.live();
    }

    @Override
    public void checkInvariants() {
        int[] fullnessOf = fullness.checkInvariants("zsmalloc fullness");
        int[] lruOf = lru.checkInvariants("zsmalloc LRU");
        BitSet framesSeen = new BitSet();
        long objects = 0;
        long payload = 0;
        long frames = 0;
        int liveSpans = 0;
        int isolatedSpans = 0;
        int isolatedSpanFrames = 0;
        int[] spansPerClass = new int[classes.classes()];
        long[] objectsPerClass = new long[classes.classes()];
        for (int span = 0; span < spansUsed; span++) {
            int clazz = spanClass[span];
            if (clazz < 0) {
                continue;
            }
            liveSpans++;
            String where = "zsmalloc span " + span + " (class " + clazz + ")";
            if (clazz >= classes.classes()) {
                throw new IllegalStateException(where + ": no such class");
            }
            spansPerClass[clazz]++;
            int slots = classes.objectsPerSpan(clazz);
            int slotSize = classes.slotSize(clazz);
            for (int i = 0, frame = spanFirstFrame[span]; i < classes.framesPerSpan(clazz); i++) {
                if (!source.isInUse(frame) || framesSeen.get(frame)) {
                    throw new IllegalStateException(
                            where + ": frame " + frame + " is not in use or belongs to two spans");
                }
                if (spanFrames[span * spanStride + i] != frame) {
                    throw new IllegalStateException(where + ": its frame table has frame "
                            + spanFrames[span * spanStride + i] + " at " + i + ", its chain " + frame);
                }
                framesSeen.set(frame);
                frames++;
                frame = frameNext[frame];
            }
            int inUse = 0;
            for (int slot = 0; slot < slots; slot++) {
                int word = headerWord(span, slot);
                if (word < 0) {
                    continue;
                }
                inUse++;
                int size = headerSize(span, slot);
                if (size < 1 || HEADER + size > slotSize) {
                    throw new IllegalStateException(
                            where + " slot " + slot + ": size " + size + " does not fit a slot of " + slotSize);
                }
                if (!handles.isLive(word) || handles.location(word) != location(span, slot)) {
                    throw new IllegalStateException(
                            where + " slot " + slot + ": handle slot " + word + " does not point back here");
                }
                payload += size;
            }
            if (inUse != spanInUse[span]) {
                throw new IllegalStateException(
                        where + ": headers show " + inUse + " objects, counter " + spanInUse[span]);
            }
            if (inUse == 0) {
                throw new IllegalStateException(where + ": empty span was not freed");
            }
            int free = 0;
            for (int slot = spanFreeSlot[span]; slot != FREE_END; slot = decodeFree(headerWord(span, slot))) {
                if (slot < 0 || slot >= slots || headerWord(span, slot) >= 0 || ++free > slots) {
                    throw new IllegalStateException(where + ": free list is corrupt at slot " + slot);
                }
            }
            if (free + inUse != slots) {
                throw new IllegalStateException(
                        where + ": " + free + " free + " + inUse + " used != " + slots + " slots");
            }
            if (spanGroup[span] == ISOLATED) {
                if (fullnessOf[span] != NIL || lruOf[span] != NIL) {
                    throw new IllegalStateException(where + ": isolated but in a fullness group or on the LRU");
                }
                isolatedSpans++;
                isolatedSpanFrames += classes.framesPerSpan(clazz);
            } else {
                if (fullnessOf[span] != clazz * GROUPS + group(span) || spanGroup[span] != group(span)) {
                    throw new IllegalStateException(where + ": in the wrong fullness group");
                }
                if (lruOf[span] != 0) {
                    throw new IllegalStateException(where + ": not on the LRU");
                }
            }
            objects += inUse;
            objectsPerClass[clazz] += inUse;
        }
        if (!Arrays.equals(spansPerClass, classSpans) || !Arrays.equals(objectsPerClass, classObjects)) {
            throw new IllegalStateException("zsmalloc: per-class span or object counters disagree with the spans");
        }
        if (lru.size(0) != liveSpans - isolatedSpans) {
            throw new IllegalStateException("zsmalloc: LRU holds " + lru.size(0) + " spans, " + liveSpans
                    + " are live and " + isolatedSpans + " of them isolated");
        }
        if (isolatedSpans != isolatedCount || isolatedSpanFrames != framesIsolated) {
            throw new IllegalStateException("zsmalloc: " + isolatedSpans + " spans in " + isolatedSpanFrames
                    + " frames are isolated, the list says " + isolatedCount + " in " + framesIsolated);
        }
        checkCommonInvariants(objects, payload, frames);
    }

    /** The most frames a span holds (the kernel's {@code CONFIG_ZSMALLOC_CHAIN_SIZE}). */
    int chainSize() {
        return classes.chainSize();
    }

    /** Per-class occupancy, one line a class in use: the kernel's zsmalloc stats file. */
    String classStats() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%5s %6s %6s %8s %8s %7s %9s%n",
                "class", "size", "spans", "objects", "slots", "frames", "freeable"));
        for (int c = 0; c < classes.classes(); c++) {
            if (classSpans[c] == 0) {
                continue;
            }
            int perSpan = classes.objectsPerSpan(c);
            long slots = (long) classSpans[c] * perSpan;
            sb.append(String.format("%5d %6d %6d %8d %8d %7d %9d%n",
                    c, classes.slotSize(c), classSpans[c], classObjects[c], slots,
                    (long) classSpans[c] * classes.framesPerSpan(c),
                    (slots - classObjects[c]) / perSpan * classes.framesPerSpan(c)));
        }
        return sb.toString();
    }
}

package io.zstate.allocator;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.BitSet;

/**
 * xcfmalloc: "cross-page-frame malloc", Seth Jennings' proposal for zcache (2011, seeds/001):
 * chunk-based blocks, an object spread over several blocks in different frames when no single
 * free block holds it (that is how it avoids xvmalloc's 50% external fragmentation for objects
 * larger than half a frame), a block descriptor per block behind the handle (the indirection
 * layer, xcf_blkdesc), reads and writes copied block by block (xcf_read/xcf_write), free blocks
 * merged with their neighbours in the frame, free lists by size, no compaction. Nitin Gupta's
 * objections in the thread: high metadata overhead, compaction hard, extra memcpy()s. It is here
 * to measure those claims beside zsmalloc and zlog, not as a default.
 *
 * <pre>
 * Notation:
 *   chunk     16 bytes, the unit of blocks; a frame has C = frameSize / 16 chunks (256 at
 *             4 KiB, 4096 at 64 KiB); chunk 0 is the frame header
 *   block     a run of chunks in one frame, starting with an 8-byte block header; free or
 *             used by one object; a used block's payload is (chunks * 16 - 8) bytes at most
 *   chain     an object's used blocks, in order, linked by their descriptors (at most
 *             MAX_BLOCKS = 4), possibly in different frames
 *
 *   frame:  | hdr | block a (used) | block b (free)    | block c (used, 2nd of x) | ... |
 *           0     1                                                                   C
 *
 * Frame header (chunk 0): 0 magic int 0x7863666D ("xcfm"); the rest unused.
 * Block header (8 bytes at the block's start, the kernel's xcf_blkhdr):
 *   0  int  chunks (bits 0-12) | chunks of the block before it in the frame, 0 for the first
 *           (bits 13-25, the prevoffset that merging walks back by) | used (bit 26)
 *   4  int  its descriptor
 * Descriptor d (on heap, parallel arrays; one per block, free or used):
 *   blockFrame[d], blockAt[d] (first chunk), blockBytes[d] (payload bytes of its object in
 *   this block, 0 when free), blockNext[d] (next block of the chain, NIL at its end),
 *   blockOwner[d] (the object's handle slot, -1 when free).
 * Location in the handle table: the descriptor of the object's first block.
 *
 * Algorithm:
 *   malloc   need = ceil((size + 8) / 16) chunks. Best fit: the first block of the first
 *            non-empty free list from need up (a bitmap of non-empty lists finds it); the
 *            rest of that block, if any, is split off as a free block. No single block holds
 *            the object: if the MAX_BLOCKS largest free blocks hold it together, spread it:
 *            take the largest whole, again and again, until what is left fits one block,
 *            which is taken by best fit and split. Otherwise a fresh frame (one free block of
 *            C - 1 chunks) takes it by best fit. Every frame of the chain moves to the hot end
 *            of the LRU.
 *   free     each block of the chain becomes free and merges with a free block after it and
 *            before it in its frame; a frame left as one free block returns to the source.
 *   reclaim  take frames from the cold end of the LRU; hand every object with a block in the
 *            victim to the evictor, once each (a mark on its first descriptor); its blocks in
 *            other frames are freed with it after the flush, so frames they empty go too. A
 *            refusal puts the victim back at the hot end.
 *   compact  nothing: objects never move (as in the patch).
 *   read     copy block after block: one contiguous copy per block of the chain.
 *
 * Invariants (checkInvariants): each held frame parses end to end into blocks whose prev field
 * is the size of the block before; no two free blocks are adjacent; each free block is on the
 * list of its size exactly once and nothing else is listed; each descriptor points at its
 * block and its block back at it; each live handle's chain has 1 to MAX_BLOCKS blocks owned by
 * it, all full but the last, none wasting a whole chunk; no frame is one free block (it would
 * have been released); the list bitmap, the block and descriptor counts agree.
 *
 * Largest object: frameSize - 24 bytes (the frame header chunk and one block header), so a
 * fresh frame always takes any object and malloc needs one frame at most.
 * Cost outside the frames: 8 bytes per handle; 16 bytes per descriptor (one per block, used or
 * free) and 8 more of free-list links; 8 bytes per frame of LRU links; a bit per descriptor
 * for reclaim's marks. Arrays grow by an eighth.
 * Cost inside: the 16-byte frame header, 8 bytes per block, up to 15 bytes of rounding in an
 * object's last block.
 * Blocks addressable: 2^31 - 64, so budgets are limited to about 32 GiB.
 * </pre>
 */
final class XcfmallocPool extends AbstractZPool {

    static final int MAGIC = 0x7863666D;

    /** Chunk size: a block's 8-byte header plus at most 15 bytes of rounding per block. */
    static final int CHUNK_SHIFT = 4;
    static final int CHUNK = 1 << CHUNK_SHIFT;
    /** Bytes of a block header. */
    static final int HDR = 8;
    /** Most blocks an object is spread over: bounds the copies per read and descriptors per object. */
    static final int MAX_BLOCKS = 4;

    private static final int NIL = IntLinkedLists.NIL;
    private static final int FIELD_BITS = 13;
    private static final int FIELD_MASK = (1 << FIELD_BITS) - 1;
    private static final int USED = 1 << (2 * FIELD_BITS);
    private static final long MAX_DESCRIPTORS = Integer.MAX_VALUE - 64;

    /** Chunks per frame; blocks occupy chunks 1 to C - 1. */
    private final int chunksPerFrame;
    private final int maxDescriptors;
    /** Free blocks by chunks (list i: blocks of i chunks), over descriptor ids. */
    private final IntLinkedLists free;
    /** Bit i set: free list i is not empty. */
    private final long[] nonEmpty;
    private final IntLinkedLists lru;

    private int[] blockFrame = new int[0];
    private char[] blockAt = new char[0];
    private char[] blockBytes = new char[0];
    private int[] blockNext = new int[0];
    private int[] blockOwner = new int[0];
    private int descriptorsUsed; // ids below this mark have been handed out once
    private int freeDescriptors = NIL; // ids not in use, chained through blockNext
    private int liveDescriptors;
    private long usedBlocks;

    /** Reclaim's marks: bit d set, the object whose chain starts at d was offered this reclaim. */
    private long[] offered = new long[0];
    private int[] offeredList = new int[64];
    private int offeredCount;

    XcfmallocPool(FrameSource source) {
        super(source);
        this.chunksPerFrame = frameSize >>> CHUNK_SHIFT;
        long blocks = (long) source.maxFrames() * (chunksPerFrame - 1);
        if (blocks > MAX_DESCRIPTORS) {
            throw new IllegalArgumentException("xcfmalloc addresses at most " + MAX_DESCRIPTORS + " blocks; a budget"
                    + " of " + source.budgetBytes() + " bytes may need " + blocks + ": use a smaller budget per pool");
        }
        this.maxDescriptors = (int) blocks;
        this.free = new IntLinkedLists(chunksPerFrame, maxDescriptors);
        this.nonEmpty = new long[(chunksPerFrame + 63) >>> 6];
        this.lru = new IntLinkedLists(1, source.maxFrames());
    }

    @Override
    public String type() {
        return "xcfmalloc";
    }

    @Override
    public int maxObjectSize() {
        return maxObjectSize(frameSize);
    }

    /** The largest object of an xcfmalloc pool: a frame less its header chunk and one block header. */
    static int maxObjectSize(int frameSize) {
        return frameSize - CHUNK - HDR;
    }

    private static int chunksFor(int bytes) {
        return (bytes + HDR + CHUNK - 1) >>> CHUNK_SHIFT;
    }

    private static int capacity(int chunks) {
        return (chunks << CHUNK_SHIFT) - HDR;
    }

    // ---- placement -----------------------------------------------------------------------------

    @Override
    protected long allocate(int size) {
        int head;
        int need = chunksFor(size);
        int fit = bestFit(need);
        if (fit != NIL) {
            head = take(fit, need, size);
        } else if (spreadFits(size)) {
            head = spread(size);
        } else {
            int fresh = newFrame();
            if (fresh == NIL) {
                return NO_SPACE;
            }
            head = take(fresh, need, size);
        }
        long handle = handles.allocate(head);
        int slot = handles.slot(handle);
        for (int d = head; d != NIL; d = blockNext[d]) {
            blockOwner[d] = slot;
            lru.moveToFirst(0, blockFrame[d]);
        }
        return handle;
    }

    /** Whether the MAX_BLOCKS largest free blocks hold {@code size} bytes together. */
    private boolean spreadFits(int size) {
        long room = 0;
        int blocks = 0;
        for (int list = prevNonEmpty(chunksPerFrame - 1); list > 0 && blocks < MAX_BLOCKS;
                list = prevNonEmpty(list - 1)) {
            for (int d = free.first(list); d != NIL && blocks < MAX_BLOCKS; d = free.next(d)) {
                room += capacity(list);
                blocks++;
            }
        }
        return room >= size;
    }

    /**
     * Spreads {@code size} bytes over free blocks, the largest whole first, until what is left
     * fits one block, taken by best fit; {@link #spreadFits} said this ends within MAX_BLOCKS.
     *
     * @return the chain's first descriptor
     */
    private int spread(int size) {
        int head = NIL;
        int tail = NIL;
        for (int left = size; left > 0; ) {
            int need = chunksFor(left);
            int d = bestFit(need);
            int bytes;
            if (d != NIL) {
                bytes = left;
                d = take(d, need, bytes);
            } else {
                int largest = prevNonEmpty(chunksPerFrame - 1);
                bytes = capacity(largest);
                d = take(free.first(largest), largest, bytes);
            }
            if (tail == NIL) {
                head = d;
            } else {
                blockNext[tail] = d;
            }
            tail = d;
            left -= bytes;
        }
        return head;
    }

    /**
     * Takes {@code chunks} chunks from the start of the free block {@code d} for {@code bytes}
     * of an object (the rest is split off as a free block) and makes it the end of a chain.
     *
     * @return {@code d}, now used
     */
    private int take(int d, int chunks, int bytes) {
        int frame = blockFrame[d];
        int at = blockAt[d];
        int word = header(frame, at);
        int have = chunksOf(word);
        unlist(d, have);
        if (have > chunks) {
            int rest = newDescriptor();
            blockFrame[rest] = frame;
            blockAt[rest] = (char) (at + chunks);
            setHeader(frame, at + chunks, have - chunks, chunks, false, rest);
            setPrev(frame, at + have, have - chunks);
            list(rest, have - chunks);
        }
        setHeader(frame, at, chunks, prevOf(word), true, d);
        blockBytes[d] = (char) bytes;
        blockNext[d] = NIL;
        usedBlocks++;
        return d;
    }

    /** A fresh frame as one free block (listed); its descriptor, or NIL if no frame is to be had. */
    private int newFrame() {
        int frame = source.allocate();
        if (frame == FrameSource.NO_FRAME) {
            return NIL;
        }
        lru.ensureCapacity(frame + 1);
        setInt(frame, 0, MAGIC);
        int d = newDescriptor();
        blockFrame[d] = frame;
        blockAt[d] = 1;
        setHeader(frame, 1, chunksPerFrame - 1, 0, false, d);
        list(d, chunksPerFrame - 1);
        lru.addFirst(0, frame);
        framesHeld++;
        return d;
    }

    // ---- freeing -------------------------------------------------------------------------------

    @Override
    protected void release(int handleSlot) {
        int d = (int) handles.location(handleSlot);
        handles.release(handleSlot);
        while (d != NIL) {
            int next = blockNext[d];
            freeBlock(d);
            d = next;
        }
    }

    /** Frees one block: merged with a free block after and before it; a frame left empty goes back. */
    private void freeBlock(int d) {
        int frame = blockFrame[d];
        int at = blockAt[d];
        int word = header(frame, at);
        int chunks = chunksOf(word);
        int prev = prevOf(word);
        blockBytes[d] = 0;
        blockOwner[d] = -1;
        blockNext[d] = NIL;
        usedBlocks--;
        int end = at + chunks;
        if (end < chunksPerFrame) {
            int after = header(frame, end);
            if (!isUsed(after)) {
                int n = descriptorOf(frame, end);
                unlist(n, chunksOf(after));
                dropDescriptor(n);
                chunks += chunksOf(after);
                end = at + chunks;
            }
        }
        if (prev > 0) {
            int before = header(frame, at - prev);
            if (!isUsed(before)) {
                int p = descriptorOf(frame, at - prev);
                unlist(p, prev);
                dropDescriptor(d);
                d = p;
                at -= prev;
                chunks += prev;
                prev = prevOf(before);
            }
        }
        if (chunks == chunksPerFrame - 1) {
            dropDescriptor(d);
            releaseFrame(frame);
            return;
        }
        setHeader(frame, at, chunks, prev, false, d);
        setPrev(frame, end, chunks);
        list(d, chunks);
    }

    private void releaseFrame(int frame) {
        lru.remove(0, frame);
        setInt(frame, 0, 0);
        source.release(frame);
        framesHeld--;
    }

    // ---- free lists and descriptors --------------------------------------------------------------

    /** The first block of the first non-empty list from {@code chunks} up, or NIL. */
    private int bestFit(int chunks) {
        int list = nextNonEmpty(chunks);
        return list < 0 ? NIL : free.first(list);
    }

    private void list(int d, int chunks) {
        free.addFirst(chunks, d);
        nonEmpty[chunks >>> 6] |= 1L << chunks;
    }

    private void unlist(int d, int chunks) {
        free.remove(chunks, d);
        if (free.size(chunks) == 0) {
            nonEmpty[chunks >>> 6] &= ~(1L << chunks);
        }
    }

    /** The first non-empty list at or above {@code from}, or -1. */
    private int nextNonEmpty(int from) {
        int w = from >>> 6;
        if (w >= nonEmpty.length) {
            return -1;
        }
        long word = nonEmpty[w] & (-1L << from);
        while (word == 0) {
            if (++w == nonEmpty.length) {
                return -1;
            }
            word = nonEmpty[w];
        }
        return (w << 6) + Long.numberOfTrailingZeros(word);
    }

    /** The last non-empty list at or below {@code from}, or -1. */
    private int prevNonEmpty(int from) {
        if (from < 0) {
            return -1;
        }
        int w = from >>> 6;
        long word = nonEmpty[w] & (-1L >>> (63 - (from & 63)));
        while (word == 0) {
            if (--w < 0) {
                return -1;
            }
            word = nonEmpty[w];
        }
        return (w << 6) + 63 - Long.numberOfLeadingZeros(word);
    }

    private int newDescriptor() {
        int d;
        if (freeDescriptors != NIL) {
            d = freeDescriptors;
            freeDescriptors = blockNext[d];
        } else {
            d = descriptorsUsed++;
            if (d == blockFrame.length) {
                int grown = Math.min(maxDescriptors, d + (d >> 3) + 256);
                blockFrame = Arrays.copyOf(blockFrame, grown);
                blockAt = Arrays.copyOf(blockAt, grown);
                blockBytes = Arrays.copyOf(blockBytes, grown);
                blockNext = Arrays.copyOf(blockNext, grown);
                blockOwner = Arrays.copyOf(blockOwner, grown);
                offered = Arrays.copyOf(offered, (grown + 63) >>> 6);
                free.ensureCapacity(grown);
            }
        }
        blockNext[d] = NIL;
        blockOwner[d] = -1;
        blockBytes[d] = 0;
        liveDescriptors++;
        return d;
    }

    private void dropDescriptor(int d) {
        blockFrame[d] = -1;
        blockOwner[d] = -1;
        blockNext[d] = freeDescriptors;
        freeDescriptors = d;
        liveDescriptors--;
    }

    // ---- block headers -------------------------------------------------------------------------

    private static int chunksOf(int word) {
        return word & FIELD_MASK;
    }

    private static int prevOf(int word) {
        return (word >>> FIELD_BITS) & FIELD_MASK;
    }

    private static boolean isUsed(int word) {
        return (word & USED) != 0;
    }

    private int header(int frame, int at) {
        return getInt(frame, at << CHUNK_SHIFT);
    }

    private int descriptorOf(int frame, int at) {
        return getInt(frame, (at << CHUNK_SHIFT) + 4);
    }

    private void setHeader(int frame, int at, int chunks, int prev, boolean used, int d) {
        int offset = source.offset(frame) + (at << CHUNK_SHIFT);
        source.arena(frame).putInt(offset, chunks | (prev << FIELD_BITS) | (used ? USED : 0)).putInt(offset + 4, d);
    }

    /** Sets the prev field of the block at {@code at}, if the frame has one there. */
    private void setPrev(int frame, int at, int prev) {
        if (at < chunksPerFrame) {
            int word = header(frame, at);
            setInt(frame, at << CHUNK_SHIFT, (word & ~(FIELD_MASK << FIELD_BITS)) | (prev << FIELD_BITS));
        }
    }

    private int getInt(int frame, int offset) {
        return source.arena(frame).getInt(source.offset(frame) + offset);
    }

    private void setInt(int frame, int offset, int value) {
        source.arena(frame).putInt(source.offset(frame) + offset, value);
    }

    private int payloadAt(int d) {
        return source.offset(blockFrame[d]) + (blockAt[d] << CHUNK_SHIFT) + HDR;
    }

    // ---- AbstractZPool: sizes and copies, block by block ---------------------------------------

    @Override
    protected int sizeOf(int handleSlot) {
        int size = 0;
        for (int d = (int) handles.location(handleSlot); d != NIL; d = blockNext[d]) {
            size += blockBytes[d];
        }
        return size;
    }

    @Override
    protected int payloadFrame(int handleSlot) {
        return blockFrame[(int) handles.location(handleSlot)];
    }

    @Override
    protected int payloadOffset(int handleSlot) {
        return (blockAt[(int) handles.location(handleSlot)] << CHUNK_SHIFT) + HDR;
    }

    @Override
    protected int continuationFrame(int handleSlot) {
        throw new AssertionError("xcfmalloc copies block by block; an object has no continuation frame");
    }

    @Override
    int[] framesOf(long handle) {
        int head = (int) handles.location(handles.slot(handle));
        int n = 0;
        for (int d = head; d != NIL; d = blockNext[d]) {
            n++;
        }
        int[] frames = new int[n];
        n = 0;
        for (int d = head; d != NIL; d = blockNext[d]) {
            frames[n++] = blockFrame[d];
        }
        return frames;
    }

    @Override
    protected void copyIn(int slot, int at, byte[] src, int srcOffset, int length) {
        for (int d = (int) handles.location(slot); length > 0; d = blockNext[d]) {
            if (at >= blockBytes[d]) { // the range starts in a later block
                at -= blockBytes[d];
                continue;
            }
            int n = Math.min(length, blockBytes[d] - at);
            source.arena(blockFrame[d]).put(payloadAt(d) + at, src, srcOffset, n);
            at = 0;
            srcOffset += n;
            length -= n;
        }
    }

    @Override
    protected void copyIn(int slot, ByteBuffer src, int pos, int length) {
        for (int d = (int) handles.location(slot); length > 0; d = blockNext[d]) {
            int n = Math.min(length, blockBytes[d]);
            source.arena(blockFrame[d]).put(payloadAt(d), src, pos, n);
            pos += n;
            length -= n;
        }
    }

    @Override
    protected int copyOut(int slot, int at, int length, byte[] dst, int dstOffset) {
        int copies = 0;
        for (int d = (int) handles.location(slot); d != NIL && length > 0; d = blockNext[d]) {
            if (at >= blockBytes[d]) { // the range starts in a later block
                at -= blockBytes[d];
                continue;
            }
            int n = Math.min(length, blockBytes[d] - at);
            source.arena(blockFrame[d]).get(payloadAt(d) + at, dst, dstOffset, n);
            at = 0;
            dstOffset += n;
            length -= n;
            copies++;
        }
        return copies;
    }

    @Override
    protected int copyOut(int slot, int size, ByteBuffer dst, int dstPos) {
        int copies = 0;
        for (int d = (int) handles.location(slot); d != NIL; d = blockNext[d]) {
            int n = blockBytes[d];
            dst.put(dstPos, source.arena(blockFrame[d]), payloadAt(d), n);
            dstPos += n;
            copies++;
        }
        return copies;
    }

    // ---- reclaim, compaction, lifecycle --------------------------------------------------------

    @Override
    protected void reclaimFrames(int maxFrames, Evictor evictor) {
        for (int i = 0; i < offeredCount; i++) { // the last reclaim's marks
            int d = offeredList[i];
            offered[d >>> 6] &= ~(1L << d);
        }
        offeredCount = 0;
        reclaimColdFrames(lru, maxFrames, evictor, (frame, e) -> {
            for (int at = 1; at < chunksPerFrame; at += chunksOf(header(frame, at))) {
                if (!isUsed(header(frame, at))) {
                    continue;
                }
                int slot = blockOwner[descriptorOf(frame, at)];
                int head = (int) handles.location(slot);
                if ((offered[head >>> 6] & (1L << head)) != 0) {
                    continue; // taken already, for a block in this or an earlier victim
                }
                if (!evict(slot, e)) {
                    return false;
                }
                offered[head >>> 6] |= 1L << head;
                if (offeredCount == offeredList.length) {
                    offeredList = Arrays.copyOf(offeredList, offeredCount * 2);
                }
                offeredList[offeredCount++] = head;
            }
            return true;
        });
    }

    @Override
    protected int compactFrames() {
        return 0; // objects never move (as in the patch)
    }

    @Override
    protected void releaseAllFrames() {
        for (int frame = lru.first(0); frame != NIL; ) {
            int next = lru.next(frame);
            lru.remove(0, frame);
            source.release(frame);
            frame = next;
        }
    }

    @Override
    protected long structureMetadataBytes() {
        return 16L * blockFrame.length // frame, at, bytes, next, owner
                + 8L * offered.length
                + 4L * offeredList.length
                + 8L * nonEmpty.length
                + free.metadataBytes()
                + lru.metadataBytes();
    }

    /** Each frame's header chunk and each used block's header; free blocks' headers are free space. */
    @Override
    protected long inFrameMetadataBytes() {
        return (long) CHUNK * framesHeld + (long) HDR * usedBlocks;
    }

    /** Used blocks: objects times the blocks each is spread over. */
    long usedBlocks() {
        return usedBlocks;
    }

    @Override
    public void checkInvariants() {
        lru.checkInvariants("xcfmalloc LRU");
        int[] listOf = free.checkInvariants("xcfmalloc free");
        BitSet seen = new BitSet();
        long frames = 0;
        long used = 0;
        long freeBlocks = 0;
        for (int frame = lru.first(0); frame != NIL; frame = lru.next(frame)) {
            String where = "xcfmalloc frame " + frame;
            if (!source.isInUse(frame)) {
                throw new IllegalStateException(where + ": held but not in use at the frame source");
            }
            if (getInt(frame, 0) != MAGIC) {
                throw new IllegalStateException(where + ": bad magic 0x" + Integer.toHexString(getInt(frame, 0)));
            }
            int at = 1;
            int prev = 0;
            boolean prevFree = false;
            while (at < chunksPerFrame) {
                int word = header(frame, at);
                int chunks = chunksOf(word);
                String block = where + " block at chunk " + at;
                if (chunks < 1 || at + chunks > chunksPerFrame) {
                    throw new IllegalStateException(block + ": " + chunks + " chunks run past the frame");
                }
                if (prevOf(word) != prev) {
                    throw new IllegalStateException(block + ": prev field " + prevOf(word) + ", the block before has "
                            + prev + " chunks");
                }
                int d = descriptorOf(frame, at);
                if (d < 0 || d >= descriptorsUsed || seen.get(d)) {
                    throw new IllegalStateException(block + ": descriptor " + d + " unknown or shared");
                }
                seen.set(d);
                if (blockFrame[d] != frame || blockAt[d] != at) {
                    throw new IllegalStateException(block + ": descriptor " + d + " points at frame " + blockFrame[d]
                            + " chunk " + (int) blockAt[d]);
                }
                if (isUsed(word)) {
                    int bytes = blockBytes[d];
                    if (bytes < 1 || bytes > capacity(chunks) || bytes <= capacity(chunks - 1)) {
                        throw new IllegalStateException(block + ": " + bytes + " bytes in " + chunks + " chunks");
                    }
                    if (!handles.isLive(blockOwner[d])) {
                        throw new IllegalStateException(block + ": owner slot " + blockOwner[d] + " is not live");
                    }
                    used++;
                } else {
                    if (prevFree) {
                        throw new IllegalStateException(block + ": two adjacent free blocks (not merged)");
                    }
                    if (listOf[d] != chunks || blockBytes[d] != 0 || blockOwner[d] != -1) {
                        throw new IllegalStateException(block + ": free block of " + chunks + " chunks on list "
                                + listOf[d]);
                    }
                    if (chunks == chunksPerFrame - 1) {
                        throw new IllegalStateException(where + ": all free but held (not released)");
                    }
                    freeBlocks++;
                }
                prevFree = !isUsed(word);
                prev = chunks;
                at += chunks;
            }
            frames++;
        }
        long listed = 0;
        for (int list = 0; list < chunksPerFrame; list++) {
            listed += free.size(list);
            if ((free.size(list) > 0) != ((nonEmpty[list >>> 6] & (1L << list)) != 0)) {
                throw new IllegalStateException("xcfmalloc: the bitmap disagrees with free list " + list);
            }
        }
        if (listed != freeBlocks) {
            throw new IllegalStateException("xcfmalloc: free lists hold " + listed + " blocks, frames " + freeBlocks);
        }
        if (used != usedBlocks || used + freeBlocks != liveDescriptors) {
            throw new IllegalStateException("xcfmalloc: frames hold " + used + " used and " + freeBlocks + " free"
                    + " blocks; counters " + usedBlocks + " used, " + liveDescriptors + " descriptors");
        }
        int idle = 0;
        for (int d = freeDescriptors; d != NIL; d = blockNext[d]) {
            if (blockFrame[d] != -1 || ++idle > descriptorsUsed) {
                throw new IllegalStateException("xcfmalloc: free descriptor list is corrupt at " + d);
            }
        }
        if (idle + liveDescriptors != descriptorsUsed) {
            throw new IllegalStateException("xcfmalloc: " + idle + " free + " + liveDescriptors + " live descriptors != "
                    + descriptorsUsed);
        }
        long objects = 0;
        long payload = 0;
        long chained = 0;
        for (int slot = 0; slot < handles.slotsUsed(); slot++) {
            if (!handles.isLive(slot)) {
                continue;
            }
            int blocks = 0;
            for (int d = (int) handles.location(slot); d != NIL; d = blockNext[d]) {
                String block = "xcfmalloc object in slot " + slot + ", block " + blocks + " (descriptor " + d + ")";
                if (d < 0 || d >= descriptorsUsed || blockFrame[d] < 0 || blockOwner[d] != slot
                        || !isUsed(header(blockFrame[d], blockAt[d]))) {
                    throw new IllegalStateException(block + ": not a used block of this object");
                }
                if (++blocks > MAX_BLOCKS) {
                    throw new IllegalStateException(block + ": more than " + MAX_BLOCKS + " blocks (or a cycle)");
                }
                int chunks = chunksOf(header(blockFrame[d], blockAt[d]));
                if (blockNext[d] != NIL && blockBytes[d] != capacity(chunks)) {
                    throw new IllegalStateException(block + ": " + (int) blockBytes[d] + " bytes in " + chunks
                            + " chunks, but only the last block may be partly filled");
                }
                payload += blockBytes[d];
            }
            chained += blocks;
            objects++;
        }
        if (chained != used) {
            throw new IllegalStateException("xcfmalloc: chains hold " + chained + " blocks, frames " + used);
        }
        checkCommonInvariants(objects, payload, frames);
    }
}

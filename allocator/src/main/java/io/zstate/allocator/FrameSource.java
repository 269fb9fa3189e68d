package io.zstate.allocator;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.BitSet;

/**
 * Hands out fixed-size frames of off-heap memory under a hard byte budget: the page allocator
 * underneath the compressed pools (the kernel's {@code alloc_page} for zbud, z3fold, zlog,
 * xcfmalloc and zsmalloc).
 *
 * <pre>
 * Notation:
 *   frame      a {@code frameSize}-byte slice of an arena (4 KiB by default; any power of two
 *              from 4 KiB to 64 KiB), named by an int frame id
 *   arena      a direct ByteBuffer of {@code framesPerArena} frames, allocated on first use
 *   frame id   arenaIndex * framesPerArena + slotInArena
 *
 *   arena 0                          arena 1
 *   +-------+-------+-----+-------+  +-------+-------+-----
 *   | f0    | f1    | ... | fN-1  |  | fN    | fN+1  | ...
 *   +-------+-------+-----+-------+  +-------+-------+-----
 *
 * Algorithm:
 *   allocate() pops the stack of released frames; when it is empty it hands out the next
 *   never-used frame, allocating the arena that holds it if needed. Beyond the budget it
 *   answers NO_FRAME; it never throws OutOfMemoryError for a frame the budget allows, because
 *   arenas are bounded by the budget too. An arena the memory refuses (OutOfMemoryError from
 *   the ArenaMemory) is answered NO_FRAME as well, and counted: the pool's callers treat it as
 *   running short (they spill), never as a failure.
 *
 * Invariants (checkInvariants):
 *   framesInUse + free-stack size == frames ever handed out <= maxFrames;
 *   a frame is either in use or on the free stack, never both.
 * </pre>
 *
 * <p>Arenas come from an {@link ArenaMemory}: direct ByteBuffers by default, which the JVM frees
 * when it collects them after {@link #close()} drops them; the state backend passes Flink's
 * unsafe off-heap memory instead, which {@code close()} frees at once. Accounting ({@link
 * #framesInUse()}, {@link #reservedBytes()}) is exact at all times and is what leak checks read.
 *
 * <p>Not thread-safe: a frame source is confined to the thread that owns its pools.
 */
public final class FrameSource implements AutoCloseable {

    /** The answer of {@link #allocate()} when the budget is exhausted. */
    public static final int NO_FRAME = -1;

    /** Smallest frame size: one Linux page. */
    public static final int MIN_FRAME_SIZE = 4 * 1024;

    /** Largest frame size. */
    public static final int MAX_FRAME_SIZE = 64 * 1024;

    /** Default frame size. */
    public static final int DEFAULT_FRAME_SIZE = MIN_FRAME_SIZE;

    /** Default arena size: large enough that arenas are few, small enough to grow gradually. */
    public static final int DEFAULT_ARENA_BYTES = 16 * 1024 * 1024;

    private final int frameSize;
    private final int frameShift;
    private final int maxFrames;
    private final int arenaShift; // log2(framesPerArena)
    private final int framesPerArena;
    private final ByteBuffer[] arenas;
    private final ArenaMemory memory;
    private final BitSet inUse;

    /** Shared budget the arenas are drawn from, or null when this source's own budget is all. */
    private final MemoryBudget shared;

    private int[] freeStack = new int[64];
    private int freeCount;
    private int nextUnused;
    private int framesInUse;
    private long reservedBytes;
    private boolean closed;

    /** A frame source of {@code budgetBytes} with 4 KiB frames. */
    public FrameSource(long budgetBytes) {
        this(budgetBytes, DEFAULT_FRAME_SIZE);
    }

    public FrameSource(long budgetBytes, int frameSize) {
        this(budgetBytes, frameSize, DEFAULT_ARENA_BYTES);
    }

    /**
     * @param budgetBytes hard limit of frame memory; rounded down to whole frames
     * @param frameSize a power of two from 4 KiB to 64 KiB
     * @param arenaBytes the size of one arena; rounded to a power-of-two number of frames and
     *     capped by the budget
     */
    public FrameSource(long budgetBytes, int frameSize, int arenaBytes) {
        this(budgetBytes, frameSize, arenaBytes, null);
    }

    /**
     * A frame source whose arenas are also drawn from a budget shared with other sources: a frame
     * is refused when either this source's budget or the shared one is exhausted. Arenas stay
     * reserved until {@link #close()}.
     */
    public FrameSource(long budgetBytes, int frameSize, int arenaBytes, MemoryBudget shared) {
        this(budgetBytes, frameSize, arenaBytes, shared, ArenaMemory.DIRECT);
    }

    /**
     * A frame source taking its arenas from {@code memory}, which gets every arena back on
     * {@link #close()}.
     */
    public FrameSource(long budgetBytes, int frameSize, int arenaBytes, MemoryBudget shared, ArenaMemory memory) {
        if (frameSize < MIN_FRAME_SIZE
                || frameSize > MAX_FRAME_SIZE
                || Integer.bitCount(frameSize) != 1) {
            throw new IllegalArgumentException(
                    "frame size "
                            + frameSize
                            + " is not allowed: use a power of two from "
                            + MIN_FRAME_SIZE
                            + " to "
                            + MAX_FRAME_SIZE
                            + " bytes");
        }
        long frames = budgetBytes / frameSize;
        if (frames < 1) {
            throw new IllegalArgumentException(
                    "budget of "
                            + budgetBytes
                            + " bytes holds no "
                            + frameSize
                            + "-byte frame: give at least one frame");
        }
        if (frames > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException(
                    "budget of " + budgetBytes + " bytes is more frames than a frame id can name");
        }
        if (arenaBytes < frameSize) {
            throw new IllegalArgumentException(
                    "arena of " + arenaBytes + " bytes is smaller than one frame of " + frameSize);
        }
        this.frameSize = frameSize;
        this.frameShift = Integer.numberOfTrailingZeros(frameSize);
        this.maxFrames = (int) frames;
        int perArena = Integer.highestOneBit(Math.min(arenaBytes / frameSize, maxFrames));
        if (perArena < maxFrames) {
            // keep arenas a power of two frames; the budget may end inside the last arena
            this.framesPerArena = perArena;
        } else {
            this.framesPerArena = Integer.highestOneBit(maxFrames) == maxFrames
                    ? maxFrames
                    : Integer.highestOneBit(maxFrames) << 1;
        }
        this.arenaShift = Integer.numberOfTrailingZeros(framesPerArena);
        this.arenas = new ByteBuffer[(maxFrames + framesPerArena - 1) >>> arenaShift];
        this.inUse = new BitSet(maxFrames);
        this.shared = shared;
        this.memory = java.util.Objects.requireNonNull(memory, "memory");
    }

    private long arenaRefusals;

    /** Arenas the {@link ArenaMemory} refused so far (each answered {@link #NO_FRAME}). */
    public long arenaRefusals() {
        return arenaRefusals;
    }

    /**
     * Returns a frame id, or {@link #NO_FRAME} when the budget is exhausted or the memory refuses
     * a new arena.
     */
    public int allocate() {
        ensureOpen();
        int frame;
        if (freeCount > 0) {
            frame = freeStack[--freeCount];
        } else if (nextUnused < maxFrames) {
            frame = nextUnused;
            int arena = frame >>> arenaShift;
            if (arenas[arena] == null) {
                int arenaFrames = Math.min(framesPerArena, maxFrames - (arena << arenaShift));
                long arenaBytes = (long) arenaFrames << frameShift;
                if (shared != null && !shared.tryReserve(arenaBytes)) {
                    return NO_FRAME;
                }
                ByteBuffer buffer;
                try {
                    buffer = memory.allocate((int) arenaBytes);
                } catch (OutOfMemoryError e) {
                    // the system refused the memory the budget allows: running short, not a failure
                    if (shared != null) {
                        shared.release(arenaBytes);
                    }
                    arenaRefusals++;
                    return NO_FRAME;
                }
                arenas[arena] = buffer;
                reservedBytes += arenaBytes;
            }
            nextUnused++;
        } else {
            return NO_FRAME;
        }
        inUse.set(frame);
        framesInUse++;
        return frame;
    }

    /** Returns a frame to the source. Its contents are left as they are. */
    public void release(int frame) {
        ensureOpen();
        if (frame < 0 || frame >= nextUnused || !inUse.get(frame)) {
            throw new IllegalStateException(
                    "frame " + frame + " is not in use: released twice, or never allocated");
        }
        inUse.clear(frame);
        framesInUse--;
        if (freeCount == freeStack.length) {
            freeStack = Arrays.copyOf(freeStack, freeStack.length * 2);
        }
        freeStack[freeCount++] = frame;
    }

    /** The arena holding {@code frame}; address it with {@link #offset(int)}. */
    ByteBuffer arena(int frame) {
        return arenas[frame >>> arenaShift];
    }

    /** The byte offset of {@code frame} within its {@link #arena(int)}. */
    int offset(int frame) {
        return (frame & (framesPerArena - 1)) << frameShift;
    }

    public boolean isInUse(int frame) {
        return frame >= 0 && frame < maxFrames && inUse.get(frame);
    }

    public int frameSize() {
        return frameSize;
    }

    public int frameShift() {
        return frameShift;
    }

    /** The budget in whole frames. */
    public int maxFrames() {
        return maxFrames;
    }

    public long budgetBytes() {
        return (long) maxFrames << frameShift;
    }

    public int framesInUse() {
        return framesInUse;
    }

    public int framesAvailable() {
        return maxFrames - framesInUse;
    }

    public long bytesInUse() {
        return (long) framesInUse << frameShift;
    }

    /** Off-heap bytes of the arenas allocated so far; 0 after {@link #close()}. */
    public long reservedBytes() {
        return reservedBytes;
    }

    /** On-heap bytes this source spends on bookkeeping. */
    public long metadataBytes() {
        return 4L * freeStack.length + maxFrames / 8 + 8L * arenas.length;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Verifies the accounting; throws {@link IllegalStateException} naming what is wrong. */
    public void checkInvariants() {
        if (framesInUse + freeCount != nextUnused) {
            throw new IllegalStateException(
                    "frame accounting: "
                            + framesInUse
                            + " in use + "
                            + freeCount
                            + " free != "
                            + nextUnused
                            + " handed out");
        }
        if (inUse.cardinality() != framesInUse) {
            throw new IllegalStateException(
                    "frame accounting: bitmap holds " + inUse.cardinality() + " frames, counter " + framesInUse);
        }
        for (int i = 0; i < freeCount; i++) {
            if (inUse.get(freeStack[i])) {
                throw new IllegalStateException("frame " + freeStack[i] + " is both free and in use");
            }
        }
    }

    /**
     * Releases every arena. Frames still in use are a leak of the pool that holds them; they are
     * released all the same, so an owner that checks for leaks reads {@link #framesInUse()} first.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (shared != null) {
            shared.release(reservedBytes);
        }
        RuntimeException failure = null;
        for (int i = 0; i < arenas.length; i++) {
            if (arenas[i] != null) {
                try {
                    memory.release(arenas[i]); // every arena, even if releasing one throws
                } catch (RuntimeException e) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
                arenas[i] = null;
            }
        }
        reservedBytes = 0;
        framesInUse = 0;
        freeCount = 0;
        inUse.clear();
        if (failure != null) {
            throw failure;
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("frame source is closed");
        }
    }

    @Override
    public String toString() {
        return "FrameSource{frameSize="
                + frameSize
                + ", framesInUse="
                + framesInUse
                + "/"
                + maxFrames
                + ", reservedBytes="
                + reservedBytes
                + '}';
    }
}

package io.zstate.allocator;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.BitSet;

/**
 * The frames of a set of arenas, handed out one at a time under a byte budget: what {@link
 * FrameSource}s draw their frames from. A frame source of its own budget owns one of these; the
 * frame sources of one Flink slot share one ({@link #shared}), so that a frame one pool gives up
 * is the next frame any other pool of the slot gets (the kernel's page allocator under every
 * zpool of a machine).
 *
 * <pre>
 * Notation:
 *   frame      a {@code frameSize}-byte slice of an arena, named by an int frame id
 *   arena      an off-heap ByteBuffer of {@code framesPerArena} frames, allocated on first use
 *   frame id   arenaIndex * framesPerArena + slotInArena
 *
 *   arena 0                          arena 1
 *   +-------+-------+-----+-------+  +-------+-------+-----
 *   | f0    | f1    | ... | fN-1  |  | fN    | fN+1  | ...
 *   +-------+-------+-----+-------+  +-------+-------+-----
 *
 * Algorithm:
 *   take() pops the stack of given-back frames; when it is empty it hands out the next never-used
 *   frame, allocating the arena that holds it if needed (reserving the arena's bytes from the
 *   MemoryBudget first, if there is one). Beyond the budget it answers NO_FRAME; an arena the
 *   ArenaMemory refuses (OutOfMemoryError) is answered NO_FRAME as well, and counted: running
 *   short, never a failure. Arenas stay until close(): frames move between the sources, not
 *   arenas, so no frame ever has to be moved to give memory back.
 *
 * Invariants (checkInvariants):
 *   taken + given-back stack == frames ever handed out <= maxFrames;
 *   a frame is either taken or on the stack, never both.
 *
 * Threads: every method that reads or changes the frame accounting takes the monitor, a leaf
 * lock (nothing is called under it but the ArenaMemory and the MemoryBudget); take and give,
 * the frequent two, skip it in an instance of one frame source's own, which is confined to that
 * source's thread. Reading an arena ({@link #arena}) takes no lock: a frame's arena was
 * published by the take that handed the frame out.
 * </pre>
 */
public final class ArenaFrames implements AutoCloseable {

    private final int frameSize;
    private final int frameShift;
    private final int maxFrames;
    private final int arenaShift; // log2(framesPerArena)
    private final int framesPerArena;
    private final ByteBuffer[] arenas;
    private final ArenaMemory memory;
    private final BitSet taken;
    /** The budget the arenas' bytes are also reserved from, or null. */
    private final MemoryBudget budget;
    /** Shared between the threads of a slot: every accounting method takes the monitor. */
    private final boolean concurrent;

    private int[] stack = new int[64];
    private int stackSize;
    private int nextUnused;
    private int framesTaken;
    private long reservedBytes;
    private long arenaRefusals;
    private boolean closed;

    /**
     * Frames for the frame sources of several threads: {@code budgetBytes} of frames of {@code
     * frameSize} in arenas of {@code arenaBytes}, each arena's bytes reserved from {@code budget}
     * (if not null) when it is allocated and released at {@link #close()}.
     */
    public static ArenaFrames shared(long budgetBytes, int frameSize, int arenaBytes, MemoryBudget budget,
            ArenaMemory memory) {
        return new ArenaFrames(budgetBytes, frameSize, arenaBytes, budget, memory, true);
    }

    /** The frames of one frame source, confined to its thread. */
    static ArenaFrames own(long budgetBytes, int frameSize, int arenaBytes, MemoryBudget budget, ArenaMemory memory) {
        return new ArenaFrames(budgetBytes, frameSize, arenaBytes, budget, memory, true);
    }

    private ArenaFrames(long budgetBytes, int frameSize, int arenaBytes, MemoryBudget budget, ArenaMemory memory,
            boolean concurrent) {
        if (frameSize < FrameSource.MIN_FRAME_SIZE
                || frameSize > FrameSource.MAX_FRAME_SIZE
                || Integer.bitCount(frameSize) != 1) {
            throw new IllegalArgumentException("frame size " + frameSize + " is not allowed: use a power of two from "
                    + FrameSource.MIN_FRAME_SIZE + " to " + FrameSource.MAX_FRAME_SIZE + " bytes");
        }
        long frames = budgetBytes / frameSize;
        if (frames < 1) {
            throw new IllegalArgumentException("budget of " + budgetBytes + " bytes holds no " + frameSize
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
        this.taken = new BitSet(maxFrames);
        this.budget = budget;
        this.memory = java.util.Objects.requireNonNull(memory, "memory");
        this.concurrent = concurrent;
    }

    /** A frame id, or {@link FrameSource#NO_FRAME} when the budget is exhausted or the memory refuses an arena. */
    public int take() {
        if (concurrent) {
            synchronized (this) {
                return takeFrame();
            }
        }
        return takeFrame();
    }

    private int takeFrame() {
        ensureOpen();
        int frame;
        if (stackSize > 0) {
            frame = stack[--stackSize];
        } else if (nextUnused < maxFrames) {
            frame = nextUnused;
            int arena = frame >>> arenaShift;
            if (arenas[arena] == null && !allocateArena(arena)) {
                return FrameSource.NO_FRAME;
            }
            nextUnused++;
        } else {
            return FrameSource.NO_FRAME;
        }
        taken.set(frame);
        framesTaken++;
        return frame;
    }

    private boolean allocateArena(int arena) {
        int arenaFrames = Math.min(framesPerArena, maxFrames - (arena << arenaShift));
        long arenaBytes = (long) arenaFrames << frameShift;
        if (budget != null && !budget.tryReserve(arenaBytes)) {
            return false;
        }
        ByteBuffer buffer;
        try {
            buffer = memory.allocate((int) arenaBytes);
        } catch (OutOfMemoryError e) {
            // the system refused the memory the budget allows: running short, not a failure
            if (budget != null) {
                budget.release(arenaBytes);
            }
            arenaRefusals++;
            return false;
        }
        arenas[arena] = buffer;
        reservedBytes += arenaBytes;
        return true;
    }

    /** Gives a taken frame back. Its contents are left as they are. */
    public void give(int frame) {
        if (concurrent) {
            synchronized (this) {
                giveFrame(frame);
            }
        } else {
            giveFrame(frame);
        }
    }

    private void giveFrame(int frame) {
        ensureOpen();
        if (frame < 0 || frame >= nextUnused || !taken.get(frame)) {
            throw new IllegalStateException(
                    "frame " + frame + " is not in use: released twice, or never allocated");
        }
        taken.clear(frame);
        framesTaken--;
        if (stackSize == stack.length) {
            stack = Arrays.copyOf(stack, stack.length * 2);
        }
        stack[stackSize++] = frame;
    }

    /** The arena holding {@code frame}, a frame taken and not given back; address it with {@link #offset}. */
    ByteBuffer arena(int frame) {
        return arenas[frame >>> arenaShift];
    }

    /** The byte offset of {@code frame} within its {@link #arena(int)}. */
    int offset(int frame) {
        return (frame & (framesPerArena - 1)) << frameShift;
    }

    /** Whether {@code frame} is taken (by any source). */
    public synchronized boolean isTaken(int frame) {
        return frame >= 0 && frame < maxFrames && taken.get(frame);
    }

    public int frameSize() {
        return frameSize;
    }

    int frameShift() {
        return frameShift;
    }

    /** The budget in whole frames, and the bound of every frame id. */
    public int maxFrames() {
        return maxFrames;
    }

    /** Frames taken now, by every source together. */
    public synchronized int framesTaken() {
        return framesTaken;
    }

    /** Frames that could still be taken (the memory may yet refuse an arena). */
    public int framesLeft() {
        return maxFrames - framesTaken();
    }

    /** Off-heap bytes of the arenas allocated so far; 0 after {@link #close()}. */
    public synchronized long reservedBytes() {
        return reservedBytes;
    }

    /** Arenas the {@link ArenaMemory} refused so far (each answered {@link FrameSource#NO_FRAME}). */
    public synchronized long arenaRefusals() {
        return arenaRefusals;
    }

    /** On-heap bytes of the bookkeeping. */
    public long metadataBytes() {
        return 4L * stack.length + maxFrames / 8 + 8L * arenas.length;
    }

    /** Whether the frame sources of several threads draw from these frames. */
    public boolean isShared() {
        return concurrent;
    }

    /** Whether {@link #close()} ran (a source sharing these frames asks from its own thread). */
    public synchronized boolean isClosed() {
        return closed;
    }

    /** Verifies the accounting; throws {@link IllegalStateException} naming what is wrong. */
    public synchronized void checkInvariants() {
        if (framesTaken + stackSize != nextUnused) {
            throw new IllegalStateException("frame accounting: " + framesTaken + " in use + " + stackSize
                    + " free != " + nextUnused + " handed out");
        }
        if (taken.cardinality() != framesTaken) {
            throw new IllegalStateException(
                    "frame accounting: bitmap holds " + taken.cardinality() + " frames, counter " + framesTaken);
        }
        for (int i = 0; i < stackSize; i++) {
            if (taken.get(stack[i])) {
                throw new IllegalStateException("frame " + stack[i] + " is both free and in use");
            }
        }
    }

    /**
     * Releases every arena, and their bytes to the budget. Frames still taken are a leak of the
     * source that holds them; they are released all the same, so an owner that checks for leaks
     * reads {@link #framesTaken()} first. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (budget != null) {
            budget.release(reservedBytes);
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
        framesTaken = 0;
        stackSize = 0;
        taken.clear();
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
        return "ArenaFrames{frameSize=" + frameSize + ", taken=" + framesTaken() + "/" + maxFrames
                + ", reservedBytes=" + reservedBytes() + (concurrent ? ", shared" : "") + '}';
    }
}

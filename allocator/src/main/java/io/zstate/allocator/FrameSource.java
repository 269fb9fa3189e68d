package io.zstate.allocator;

import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * Hands out fixed-size frames of off-heap memory under a hard byte budget: the page allocator
 * underneath one compressed pool (the kernel's {@code alloc_page} for zbud, z3fold, zlog,
 * xcfmalloc and zsmalloc).
 *
 * <pre>
 * A frame source is one pool's account of frames drawn from {@link ArenaFrames}:
 *
 *   own budget (the constructors with a budget)     a slot's frames ({@link #FrameSource(long, ArenaFrames)})
 *     FrameSource --owns--> ArenaFrames              FrameSource a --+
 *     (closed with it)                               FrameSource b --+--> ArenaFrames of the slot
 *                                                                         (closed by the slot)
 *
 * Algorithm:
 *   allocate() takes a frame from the arena frames unless this source already holds its own
 *   budget's worth; release() gives it back, where the next allocate() of any source sharing the
 *   frames finds it. Beyond either budget it answers NO_FRAME; it never throws OutOfMemoryError
 *   for a frame the budget allows: an arena the memory refuses is NO_FRAME too, and counted.
 *
 * Invariants (checkInvariants):
 *   framesInUse == the frames this source holds (its bitmap) <= its budget's frames;
 *   every frame it holds is taken in the arena frames.
 * </pre>
 *
 * <p>Frame ids are the arena frames' ({@link #maxFrames()} bounds them), so a pool sizes its
 * per-frame tables by them whatever its own budget. Accounting ({@link #framesInUse()}, {@link
 * #reservedBytes()}) is exact at all times and is what leak checks read.
 *
 * <p>Not thread-safe: a frame source is confined to the thread that owns its pool (the arena
 * frames it draws from may be shared: they lock for themselves).
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

    private final ArenaFrames frames;
    /** The arena frames are this source's own: closed with it. */
    private final boolean ownsFrames;
    private final int frameSize;
    private final int frameShift;
    /** This source's own budget, in frames (at most the arena frames'). */
    private final int budgetFrames;
    private final BitSet inUse;
    private int framesInUse;
    /** The last allocate() was refused, within this source's budget, by the frames it shares. */
    private boolean refusedByShared;
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
        this(ArenaFrames.own(budgetBytes, frameSize, arenaBytes, shared, memory), Long.MAX_VALUE, true);
    }

    /**
     * A frame source drawing its frames from {@code frames}, shared with other sources (a slot's):
     * at most {@code budgetBytes} of them at a time. {@link #close()} gives back the frames it holds
     * and leaves the arena frames open.
     */
    public FrameSource(long budgetBytes, ArenaFrames frames) {
        this(frames, budgetBytes, false);
        if (budgetBytes < frames.frameSize()) {
            throw new IllegalArgumentException("budget of " + budgetBytes + " bytes holds no " + frames.frameSize()
                    + "-byte frame: give at least one frame");
        }
    }

    private FrameSource(ArenaFrames frames, long budgetBytes, boolean ownsFrames) {
        this.frames = java.util.Objects.requireNonNull(frames, "frames");
        this.ownsFrames = ownsFrames;
        this.frameSize = frames.frameSize();
        this.frameShift = frames.frameShift();
        this.budgetFrames = (int) Math.min(frames.maxFrames(), budgetBytes / frameSize);
        this.inUse = ownsFrames ? null : new BitSet(frames.maxFrames()); // own frames: the arena frames' bitmap
    }

    /** Arenas the {@link ArenaMemory} refused so far (each answered {@link #NO_FRAME}). */
    public long arenaRefusals() {
        return frames.arenaRefusals();
    }

    /**
     * Returns a frame id, or {@link #NO_FRAME} when the budget is exhausted or the memory refuses
     * a new arena.
     */
    public int allocate() {
        ensureOpen();
        if (framesInUse >= budgetFrames) {
            refusedByShared = false;
            return NO_FRAME;
        }
        int frame = frames.take();
        refusedByShared = frame == NO_FRAME && !ownsFrames;
        if (frame == NO_FRAME) {
            return NO_FRAME;
        }
        if (!ownsFrames) {
            inUse.set(frame);
        }
        framesInUse++;
        return frame;
    }

    /** Returns a frame to the source. Its contents are left as they are. */
    public void release(int frame) {
        ensureOpen();
        if (!isInUse(frame)) {
            throw new IllegalStateException(
                    "frame " + frame + " is not in use: released twice, or never allocated");
        }
        frames.give(frame);
        if (!ownsFrames) {
            inUse.clear(frame);
        }
        framesInUse--;
    }

    /** The arena holding {@code frame}; address it with {@link #offset(int)}. */
    ByteBuffer arena(int frame) {
        return frames.arena(frame);
    }

    /** The byte offset of {@code frame} within its {@link #arena(int)}. */
    int offset(int frame) {
        return frames.offset(frame);
    }

    /** Whether this source holds {@code frame}. */
    public boolean isInUse(int frame) {
        return ownsFrames ? frames.isTaken(frame) : frame >= 0 && frame < frames.maxFrames() && inUse.get(frame);
    }

    public int frameSize() {
        return frameSize;
    }

    public int frameShift() {
        return frameShift;
    }

    /** The bound of every frame id: the arena frames' budget in whole frames. */
    public int maxFrames() {
        return frames.maxFrames();
    }

    /** This source's own budget in whole frames: the most it holds at a time. */
    public int budgetFrames() {
        return budgetFrames;
    }

    public long budgetBytes() {
        return (long) budgetFrames << frameShift;
    }

    public int framesInUse() {
        return framesInUse;
    }

    /** Frames this source could still get: within its budget and left in the frames it draws from. */
    public int framesAvailable() {
        return Math.min(budgetFrames - framesInUse, frames.framesLeft());
    }

    /**
     * Whether this source, sharing its frames, is held back by them rather than by its own budget:
     * the others hold more than its budget leaves it, or its last {@link #allocate()} was refused
     * within its budget (the slot's memory refused an arena). What a pool that could not get
     * frames asks to tell a short slot from a pool over its budget.
     */
    public boolean isShortOfSharedFrames() {
        return !ownsFrames && (refusedByShared || frames.framesLeft() < budgetFrames - framesInUse);
    }

    public long bytesInUse() {
        return (long) framesInUse << frameShift;
    }

    /**
     * Off-heap bytes held for this source: the arenas allocated so far when they are its own, the
     * frames it holds when it shares them; 0 after {@link #close()}.
     */
    public long reservedBytes() {
        return ownsFrames ? frames.reservedBytes() : closed ? 0 : bytesInUse();
    }

    /** The arena frames this source draws from. */
    public ArenaFrames frames() {
        return frames;
    }

    /** On-heap bytes this source spends on bookkeeping. */
    public long metadataBytes() {
        return ownsFrames ? frames.metadataBytes() : inUse.size() / 8;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Verifies the accounting; throws {@link IllegalStateException} naming what is wrong. */
    public void checkInvariants() {
        if (ownsFrames) {
            frames.checkInvariants();
            if (frames.framesTaken() != framesInUse) {
                throw new IllegalStateException("frame accounting: " + framesInUse + " in use, "
                        + frames.framesTaken() + " taken from the arenas");
            }
        }
        if (framesInUse > budgetFrames) {
            throw new IllegalStateException("frame accounting: " + framesInUse + " in use over a budget of "
                    + budgetFrames);
        }
        if (ownsFrames) {
            return;
        }
        if (inUse.cardinality() != framesInUse) {
            throw new IllegalStateException(
                    "frame accounting: bitmap holds " + inUse.cardinality() + " frames, counter " + framesInUse);
        }
        for (int f = inUse.nextSetBit(0); f >= 0; f = inUse.nextSetBit(f + 1)) {
            if (!frames.isTaken(f)) {
                throw new IllegalStateException("frame " + f + " is held but free in the arena frames");
            }
        }
    }

    /**
     * Gives every frame back: its own arenas are released, or the frames it holds go back to the
     * arena frames it shares. Frames still in use are a leak of the pool that holds them; they are
     * released all the same, so an owner that checks for leaks reads {@link #framesInUse()} first.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (ownsFrames) {
            frames.close();
        } else if (!frames.isClosed()) {
            for (int f = inUse.nextSetBit(0); f >= 0; f = inUse.nextSetBit(f + 1)) {
                frames.give(f);
            }
        }
        framesInUse = 0;
        if (!ownsFrames) {
            inUse.clear();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("frame source is closed");
        }
    }

    @Override
    public String toString() {
        return "FrameSource{frameSize=" + frameSize + ", framesInUse=" + framesInUse + "/" + budgetFrames
                + ", reservedBytes=" + reservedBytes() + (ownsFrames ? "" : ", shared") + '}';
    }
}

package io.zstate.allocator;

/**
 * zsmalloc's size classes and span geometry, from one formula, served from lookup arrays.
 *
 * <pre>
 * Formula (mm/zsmalloc.c):
 *   delta        = frameSize / 256                 (16 bytes at 4 KiB)
 *   size(i)      = min(MIN_SIZE + i * delta, frameSize),  MIN_SIZE = 32
 *   index(s)     = s <= MIN_SIZE ? 0 : ceil((s - MIN_SIZE) / delta)
 *   frames(c)    = the k in 1..chainSize with the least (k * frameSize) % size(c),
 *                  the first such k on ties; 1 for a power-of-two size
 *                  (calculate_zspage_chain_size)
 *   objects(c)   = frames(c) * frameSize / size(c)
 *
 * Merging: walking from the largest size down, a size whose (frames, objects) equal those of the
 * next larger class shares that class: its objects take the larger size, which wastes nothing
 * the geometry did not already waste. All sizes near the frame size collapse into one "huge"
 * class of one object per frame this way.
 *
 * Example, 4 KiB frames, chain size 8: size 3008 -> 3 frames hold 4 objects (256 bytes left);
 * size 1008 -> 8 frames hold 32 objects (512 bytes left, 1.6%).
 * </pre>
 */
final class SizeClasses {

    static final int MIN_SIZE = 32;
    static final int MIN_CHAIN_SIZE = 4;
    static final int MAX_CHAIN_SIZE = 16;
    static final int DEFAULT_CHAIN_SIZE = 8;

    private final int frameSize;
    private final int delta;
    private final int deltaShift;
    private final int chainSize;
    /** index(size) -> class id. */
    private final int[] classOfIndex;
    /** class id -> slot size, frames per span, objects per span. */
    private final int[] slotSize;
    private final int[] framesPerSpan;
    private final int[] objectsPerSpan;

    SizeClasses(int frameSize, int chainSize) {
        if (chainSize < MIN_CHAIN_SIZE || chainSize > MAX_CHAIN_SIZE) {
            throw new IllegalArgumentException(
                    "zsmalloc chain size "
                            + chainSize
                            + " is not allowed: use "
                            + MIN_CHAIN_SIZE
                            + " to "
                            + MAX_CHAIN_SIZE
                            + " frames per span");
        }
        this.frameSize = frameSize;
        this.delta = frameSize >>> 8;
        this.deltaShift = Integer.numberOfTrailingZeros(delta);
        this.chainSize = chainSize;
        int indexes = (frameSize - MIN_SIZE + delta - 1) / delta + 1;
        this.classOfIndex = new int[indexes];

        int[] sizes = new int[indexes];
        int[] frames = new int[indexes];
        int[] objects = new int[indexes];
        int classes = 0;
        int prevFrames = -1;
        int prevObjects = -1;
        // walk from the largest size down, merging into the previous (larger) class
        int[] indexToProvisional = new int[indexes];
        for (int i = indexes - 1; i >= 0; i--) {
            int size = sizeOfIndex(i);
            int f = chainFrames(size);
            int o = f * frameSize / size;
            if (f == prevFrames && o == prevObjects) {
                indexToProvisional[i] = classes - 1;
                continue;
            }
            sizes[classes] = size;
            frames[classes] = f;
            objects[classes] = o;
            indexToProvisional[i] = classes;
            classes++;
            prevFrames = f;
            prevObjects = o;
        }
        // number classes from the smallest up
        this.slotSize = new int[classes];
        this.framesPerSpan = new int[classes];
        this.objectsPerSpan = new int[classes];
        for (int c = 0; c < classes; c++) {
            int from = classes - 1 - c;
            slotSize[c] = sizes[from];
            framesPerSpan[c] = frames[from];
            objectsPerSpan[c] = objects[from];
        }
        for (int i = 0; i < indexes; i++) {
            classOfIndex[i] = classes - 1 - indexToProvisional[i];
        }
    }

    private int sizeOfIndex(int i) {
        return Math.min(MIN_SIZE + i * delta, frameSize);
    }

    private int chainFrames(int size) {
        if (Integer.bitCount(size) == 1) {
            return 1;
        }
        int best = 1;
        int minWaste = Integer.MAX_VALUE;
        for (int k = 1; k <= chainSize; k++) {
            int waste = (k * frameSize) % size;
            if (waste < minWaste) {
                minWaste = waste;
                best = k;
            }
        }
        return best;
    }

    /** The class that holds slots of at least {@code size} bytes; size is 1..frameSize. */
    int classOf(int size) {
        int index = size <= MIN_SIZE ? 0 : (size - MIN_SIZE + delta - 1) >>> deltaShift;
        return classOfIndex[index];
    }

    int classes() {
        return slotSize.length;
    }

    int slotSize(int clazz) {
        return slotSize[clazz];
    }

    int framesPerSpan(int clazz) {
        return framesPerSpan[clazz];
    }

    int objectsPerSpan(int clazz) {
        return objectsPerSpan[clazz];
    }

    int chainSize() {
        return chainSize;
    }

    int frameSize() {
        return frameSize;
    }

    /** The table, one class a line: id, slot size, frames and objects per span, waste. */
    String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%5s %6s %6s %7s %9s%n", "class", "size", "frames", "objects", "waste"));
        for (int c = 0; c < classes(); c++) {
            int spanBytes = framesPerSpan[c] * frameSize;
            int waste = spanBytes - objectsPerSpan[c] * slotSize[c];
            sb.append(
                    String.format(
                            "%5d %6d %6d %7d %8.2f%%%n",
                            c,
                            slotSize[c],
                            framesPerSpan[c],
                            objectsPerSpan[c],
                            100.0 * waste / spanBytes));
        }
        return sb.toString();
    }
}

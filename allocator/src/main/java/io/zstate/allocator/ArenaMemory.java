package io.zstate.allocator;

import java.nio.ByteBuffer;

/**
 * Where a {@link FrameSource} gets its arenas' memory and how it gives it back. The allocator
 * knows nothing of Flink; the state backend passes an implementation that takes arenas outside
 * the JVM's direct-memory limit, as Flink's MemoryManager does for managed memory (a
 * TaskManager's {@code -XX:MaxDirectMemorySize} leaves managed memory out).
 */
public interface ArenaMemory {

    /** Direct ByteBuffers: counted against {@code -XX:MaxDirectMemorySize}, freed when collected. */
    ArenaMemory DIRECT = new ArenaMemory() {
        @Override
        public ByteBuffer allocate(int bytes) {
            return ByteBuffer.allocateDirect(bytes);
        }

        @Override
        public void release(ByteBuffer arena) {
            // the garbage collector frees it once the frame source drops it
        }

        @Override
        public String toString() {
            return "direct ByteBuffers";
        }
    };

    /** An off-heap buffer of exactly {@code bytes} bytes, zero-based and with limit {@code bytes}. */
    ByteBuffer allocate(int bytes);

    /** Gives an arena's memory back; called once per arena, after which nothing touches it. */
    void release(ByteBuffer arena);
}

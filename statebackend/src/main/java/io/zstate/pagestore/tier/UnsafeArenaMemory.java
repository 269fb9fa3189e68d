package io.zstate.pagestore.tier;

import io.zstate.allocator.ArenaMemory;
import java.nio.ByteBuffer;
import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.flink.core.memory.MemorySegment;
import org.apache.flink.core.memory.MemorySegmentFactory;

/**
 * Pool arenas in unsafe off-heap memory, allocated and freed the way Flink's MemoryManager
 * allocates managed memory ({@link MemorySegmentFactory#allocateOffHeapUnsafeMemory}). A
 * TaskManager's {@code -XX:MaxDirectMemorySize} covers framework, task off-heap and network
 * memory but not managed memory; direct ByteBuffers for a pool sized from managed memory would
 * hit that limit long before the pool's budget. The memory is freed when the frame source
 * closes, not when a garbage collector gets round to it.
 */
final class UnsafeArenaMemory implements ArenaMemory {

    private final Map<ByteBuffer, MemorySegment> segments = new IdentityHashMap<>();

    @Override
    public synchronized ByteBuffer allocate(int bytes) {
        MemorySegment segment = MemorySegmentFactory.allocateOffHeapUnsafeMemory(bytes, this, () -> {});
        ByteBuffer buffer = segment.getOffHeapBuffer();
        segments.put(buffer, segment);
        return buffer;
    }

    @Override
    public synchronized void release(ByteBuffer arena) {
        MemorySegment segment = segments.remove(arena);
        if (segment == null) {
            throw new IllegalArgumentException("not an arena of this memory: " + arena);
        }
        segment.free();
    }

    /** Arenas allocated and not yet released. */
    synchronized int liveArenas() {
        return segments.size();
    }

    @Override
    public String toString() {
        return "unsafe off-heap memory (as Flink's managed memory)";
    }
}

package io.zstate.pagestore.tier;

import io.zstate.pagestore.Faults;
import io.zstate.allocator.ArenaMemory;
import java.nio.ByteBuffer;

/** Arena memory that refuses an arena when the {@link Faults} say so (the ARENA seam). */
final class FaultyArenaMemory implements ArenaMemory {

    private final ArenaMemory memory;
    private final Faults faults;

    FaultyArenaMemory(ArenaMemory memory, Faults faults) {
        this.memory = memory;
        this.faults = faults;
    }

    @Override
    public ByteBuffer allocate(int bytes) {
        if (faults.fail(Faults.Seam.ARENA)) {
            throw new OutOfMemoryError("injected: no memory for an arena of " + bytes + " bytes");
        }
        return memory.allocate(bytes);
    }

    @Override
    public void release(ByteBuffer arena) {
        memory.release(arena);
    }

    @Override
    public String toString() {
        return "faulty " + memory;
    }
}

package io.zstate.allocator;

import java.nio.ByteBuffer;

/**
 * Receives the objects of frames being reclaimed (zswap's writeback): it copies each one out,
 * for instance to the swap device, and the pool then frees it.
 *
 * <p>The evictor must not call back into the pool it is evicting from: a pool refuses every
 * mutating call (malloc, free, write, reclaim, compact) while it is reclaiming, with an {@link
 * IllegalStateException}. This is the writeback-recursion problem zswap solved by never storing
 * into itself from its own writeback path.
 */
@FunctionalInterface
public interface Evictor {

    /**
     * Takes one object out of the pool.
     *
     * @param handle the object's handle; it is freed by the pool when this returns {@code true}
     * @param data the object's bytes from position to limit; read-only and valid only during
     *     this call
     * @return {@code true} if the object was written back and may be freed; {@code false} to keep
     *     it (its frame is then not released and goes back to the hot end of the LRU)
     */
    boolean evict(long handle, ByteBuffer data);
}

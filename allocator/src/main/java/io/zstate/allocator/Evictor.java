package io.zstate.allocator;

import java.nio.ByteBuffer;

/**
 * Receives the objects of frames being reclaimed (zswap's writeback): it copies each one out,
 * for instance to the swap device, and the pool then frees it.
 *
 * <pre>
 *   reclaim:  evict(o1) evict(o2) ... evict(oN)   flush()   free o1..oN (whole frames released)
 *             ^ copies, nothing freed yet          ^ the writeback becomes durable here
 * </pre>
 *
 * No object is freed before {@link #flush()} returns, so an evictor may collect what it takes
 * (one write batch for the whole reclaim) and a failed write loses nothing: if {@link #evict} or
 * {@link #flush()} throws, the reclaim frees nothing at all, every object stays readable, and the
 * exception is rethrown.
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
     * @param handle the object's handle; when this returns {@code true} the pool frees it after
     *     {@link #flush()}
     * @param data the object's bytes from position to limit; read-only and valid only during
     *     this call
     * @return {@code true} if the object was written back and may be freed; {@code false} to keep
     *     it (its frame is then not released and goes back to the hot end of the LRU)
     */
    boolean evict(long handle, ByteBuffer data);

    /**
     * Called once after the last {@link #evict} of a reclaim and before any accepted object is
     * freed: make the copies durable (commit the write batch). If it throws, nothing is freed.
     */
    default void flush() {}
}

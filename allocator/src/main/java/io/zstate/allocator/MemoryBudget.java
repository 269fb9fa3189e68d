package io.zstate.allocator;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A byte budget that several frame sources draw their arenas from, such as all the keyed state
 * backends of one Flink slot sharing the slot's managed memory. Thread-safe: the sources may
 * live on different threads.
 */
public final class MemoryBudget implements AutoCloseable {

    private final long capacity;
    private final AtomicLong reserved = new AtomicLong();

    public MemoryBudget(long capacity) {
        if (capacity < 0) {
            throw new IllegalArgumentException("a memory budget cannot be negative: " + capacity);
        }
        this.capacity = capacity;
    }

    /** Reserves {@code bytes} if the budget has them; never blocks. */
    public boolean tryReserve(long bytes) {
        while (true) {
            long now = reserved.get();
            if (now + bytes > capacity) {
                return false;
            }
            if (reserved.compareAndSet(now, now + bytes)) {
                return true;
            }
        }
    }

    public void release(long bytes) {
        long after = reserved.addAndGet(-bytes);
        if (after < 0) {
            throw new IllegalStateException("memory budget released " + (-after) + " bytes more than it reserved");
        }
    }

    /** Nothing to release: the frame sources that drew from the budget return their own arenas. */
    @Override
    public void close() {}

    public long capacity() {
        return capacity;
    }

    public long reserved() {
        return reserved.get();
    }
}

package io.zstate.allocator;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * A pool that records the requests it passes on ({@link PoolTrace}): a debugging and measuring
 * tool, not for production (a map lookup per request, and the trace's I/O on the caller's thread).
 * Stores are traced when allocated (the size the page store asked for), frees and reads as they
 * come (reads as snapshot reads while {@link #snapshotReads} is on), and the objects the pool
 * evicts during reclaim once the evictor's flush succeeded. A failing trace never fails the pool
 * (the writer stops and logs).
 */
final class TracingZPool implements ZPool {

    private final ZPool pool;
    private final PoolTrace.Writer trace;
    private final Map<Long, Long> ids = new HashMap<>();
    private long nextId;
    private boolean snapshotReads;

    TracingZPool(ZPool pool, PoolTrace.Writer trace) {
        this.pool = pool;
        this.trace = trace;
    }

    /** The pool it records the requests of. */
    ZPool inner() {
        return pool;
    }

    @Override
    public long malloc(int size) {
        long handle = pool.malloc(size);
        if (handle != NO_SPACE) {
            long id = nextId++;
            ids.put(handle, id);
            trace.malloc(id, size);
        }
        return handle;
    }

    @Override
    public void free(long handle) {
        pool.free(handle);
        Long id = ids.remove(handle);
        if (id != null) {
            trace.event(PoolTrace.FREE, id);
        }
    }

    @Override
    public void write(long handle, byte[] src, int srcOffset, int length) {
        pool.write(handle, src, srcOffset, length);
    }

    @Override
    public void write(long handle, ByteBuffer src) {
        pool.write(handle, src);
    }

    @Override
    public int read(long handle, byte[] dst, int dstOffset) {
        int n = pool.read(handle, dst, dstOffset);
        traceRead(handle);
        return n;
    }

    @Override
    public void read(long handle, int at, byte[] dst, int dstOffset, int length) {
        pool.read(handle, at, dst, dstOffset, length);
        traceRead(handle);
    }

    @Override
    public void write(long handle, int at, byte[] src, int srcOffset, int length) {
        pool.write(handle, at, src, srcOffset, length);
    }

    @Override
    public int read(long handle, ByteBuffer dst) {
        int n = pool.read(handle, dst);
        traceRead(handle);
        return n;
    }

    private void traceRead(long handle) {
        Long id = ids.get(handle);
        if (id != null) {
            trace.event(snapshotReads ? PoolTrace.SNAPSHOT_READ : PoolTrace.READ, id);
        }
    }

    /** Reads from now on are a checkpoint's copies (on) or the page store's faults (off). */
    void snapshotReads(boolean on) {
        snapshotReads = on;
    }

    @Override
    public int size(long handle) {
        return pool.size(handle);
    }

    @Override
    public int reclaim(int maxFrames, Evictor evictor) {
        java.util.List<Long> evicted = new java.util.ArrayList<>();
        int released = pool.reclaim(maxFrames, new Evictor() {
            @Override
            public boolean evict(long handle, ByteBuffer data) {
                boolean taken = evictor.evict(handle, data);
                if (taken) {
                    evicted.add(handle);
                }
                return taken;
            }

            @Override
            public void flush() {
                evictor.flush();
            }
        });
        recordEvictions(evicted); // reached only when the flush succeeded: the objects are gone
        return released;
    }

    @Override
    public int isolateColdest(int maxFrames, ObjectCopier copier) {
        return pool.isolateColdest(maxFrames, copier);
    }

    /** Objects a completion frees were written back: recorded as evictions, as a reclaim's are. */
    @Override
    public int completeIsolated(java.util.function.LongPredicate free) {
        java.util.List<Long> written = new java.util.ArrayList<>();
        try {
            return pool.completeIsolated(handle -> {
                boolean freed = free.test(handle);
                if (freed) {
                    written.add(handle); // freed by the pool as soon as this returns
                }
                return freed;
            });
        } finally {
            recordEvictions(written);
        }
    }

    /** Records objects the pool freed as written back: an eviction each. */
    private void recordEvictions(java.util.List<Long> handles) {
        for (long handle : handles) {
            Long id = ids.remove(handle);
            if (id != null) {
                trace.event(PoolTrace.EVICT, id);
            }
        }
    }

    @Override
    public int isolatedFrames() {
        return pool.isolatedFrames();
    }

    @Override
    public int compact() {
        return pool.compact();
    }

    @Override
    public ZPoolStats stats() {
        return pool.stats();
    }

    @Override
    public int maxObjectSize() {
        return pool.maxObjectSize();
    }

    @Override
    public String type() {
        return pool.type();
    }

    @Override
    public void checkInvariants() {
        pool.checkInvariants();
    }

    @Override
    public void close() {
        pool.close(); // if it throws (closed from its own evictor), it stays usable and so does the trace
        try {
            trace.close();
        } catch (java.io.IOException e) {
            System.getLogger(TracingZPool.class.getName()).log(System.Logger.Level.WARNING,
                    "zstate: closing the pool trace failed; it will read as cut short", e);
        }
    }
}

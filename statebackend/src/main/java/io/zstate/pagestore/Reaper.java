package io.zstate.pagestore;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import io.zstate.pagestore.tier.CleaningRing;
import io.zstate.pagestore.tier.WritebackBatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The background reaper, kswapd's compression for the page stores of one Flink slot: a thread
 * that compresses dirty pages ahead of their eviction, so that the task's evictions only drop
 * clean pages. Compression shares no lock with the task: each store hands pages over through a
 * ring.
 *
 * <pre>
 *   task thread, at each eviction (store's lock held)       reaper thread (no store lock)
 *     install: pages the reaper compressed whose slot
 *       did not change since go into the pool (or
 *       RocksDB, as the store path decides); slots clean
 *     submit: copy the next dirty victims ahead of the
 *       CLOCK hand into the ring; wake the reaper
 *       once a batch of them waits                  ----->  compress every ring's submissions
 *                                                           (LZ4/zstd, same-filled test), publish
 *     complete a committed writeback; under the low
 *       mark isolate the coldest frames, copy their
 *       pages into the batch; wake the reaper       ----->  commit every copied batch to RocksDB
 *                                                           park when no ring or batch has work
 * </pre>
 *
 * The task never waits for the reaper: a full ring takes no more pages, a page not yet
 * compressed is installed at a later eviction, and an eviction that still finds a dirty victim
 * stores it itself (direct, as without a reaper).
 *
 * <p>Writeback, kswapd's other half ({@link WritebackBatch}): under the pool's low mark an
 * eviction isolates the pool's coldest frames and copies their pages into the store's batch; the
 * reaper commits them to RocksDB in one write, holding the batch's monitor and no store lock; a
 * later eviction frees the frames. The task waits for it only when it cannot go on without (the
 * pool out of frames, or a page of the batch meets a write of the task's to RocksDB): it then
 * commits the batch itself, or waits for the reaper's write to end. A failed commit is kept in the
 * batch and fails the store at its completion. Locks while compressing: none of the stores'; its own
 * monitor only to start the thread at the first registration (the wake-up takes none: a volatile
 * flag and an unpark). A ring whose
 * store closed is forgotten; an error compressing one (none is expected: a failing compressor
 * makes a raw entry) is logged and the ring forgotten, its pages then stored by the task.
 *
 * <p>A slot's reaper also balances the slot's pools ({@link PoolBalancer}): a store that {@link
 * #share}s its pool wakes it when the slot's frames are all held, and the reaper writes back frames
 * of the coldest pool, under that store's lock, one store at a time: the only store lock it ever
 * takes, never together with another, and never while it holds a codec's monitor (lock 3 in the
 * pager's order). It does this whether or not it compresses for the store (the option
 * background-reaper decides compression only).
 *
 * <p>CPU: bounded by a limit (a fraction of one core, the option reaper-cpu-limit): after each
 * round of work the thread sleeps while it has used more than its share of the current 100 ms
 * window (throttledNanos counts the sleep).
 *
 * <p>Lifecycle: the thread starts with the first store registered and ends at {@link #close()},
 * which does not wait for it. Memory: each store's ring (64 pages and their compressed forms,
 * about 130 KiB for 1 KiB pages) is heap, counted in the store's heap bytes.
 */
public final class Reaper implements AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Reaper.class);
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final java.util.concurrent.CopyOnWriteArrayList<CleaningRing> rings =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    private final java.util.concurrent.CopyOnWriteArrayList<WritebackBatch> batches =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    private final String name;
    private volatile Thread thread; // set once, under the monitor
    private volatile boolean closed;
    /** The thread is parked or about to: a submission must unpark it. */
    private volatile boolean idle;
    private volatile long pagesCompressed;
    private volatile long pagesWrittenBack;
    private final PoolBalancer balancer = new PoolBalancer(this::wake);

    /** The smallest CPU limit the reaper takes. */
    public static final double MIN_CPU_LIMIT = 0.05;

    /** The wall time over which the reaper's CPU is held to its bound. */
    static final long CPU_WINDOW_NANOS = 100_000_000L;

    /** The most CPU the thread may use, as a fraction of one core (1: unbounded). */
    private final double cpuLimit;
    private long windowStart;
    private long windowCpuStart;
    private volatile long throttledNanos;

    /** A reaper whose thread, once started, is named {@code zstate-reaper-<n> (<owner>)}, unbounded. */
    public Reaper(String owner) {
        this(owner, 1.0);
    }

    /**
     * A reaper whose thread uses at most {@code cpuLimit} of one core (0.05 to 1) over every
     * {@value #CPU_WINDOW_NANOS} ns of wall time: past it, the thread sleeps out the rest of
     * its share (the tasks meanwhile store and reclaim their pages themselves, as they do when
     * the reaper falls behind).
     */
    public Reaper(String owner, double cpuLimit) {
        if (!(cpuLimit >= MIN_CPU_LIMIT && cpuLimit <= 1.0)) {
            throw new IllegalArgumentException("the reaper's CPU limit must be from " + MIN_CPU_LIMIT
                    + " to 1 (of one core), not " + cpuLimit);
        }
        this.name = "zstate-reaper-" + THREADS.incrementAndGet() + " (" + owner + ")";
        this.cpuLimit = cpuLimit;
    }

    /**
     * Compresses {@code store}'s dirty victims from now on. Call under the store's lock, or before
     * the store is shared with other threads.
     */
    public void register(PageStore store) {
        thread();
        rings.add(store.cleanInBackground(this::wake));
        batches.add(store.writeBackInBackground(this::wake));
    }

    /**
     * Balances {@code store}'s pool with the other pools of the slot from now on (they share one
     * set of arena frames): the reaper may take the store's lock to write back its coldest frames
     * for a hotter pool. Call under the store's lock, once it is ready for use (after its restore).
     */
    public void share(PageStore store) {
        thread();
        balancer.add(store);
    }

    /** Unparks the thread if it sleeps; takes no lock (called under a store's lock). */
    private void wake() {
        Thread t = thread;
        if (idle && t != null) {
            LockSupport.unpark(t);
        }
    }

    private synchronized Thread thread() {
        if (thread == null) {
            thread = new Thread(this::run, name);
            thread.setDaemon(true);
            thread.start();
        }
        return thread;
    }

    private void run() {
        while (!closed) {
            if (compressAll() + writeBackAll() + balancer.balance(System.nanoTime()) > 0) {
                holdToCpuLimit();
                continue;
            }
            idle = true;
            if (!anyWork()) { // a submission after this check sees idle and unparks
                LockSupport.park(this);
            }
            idle = false;
        }
    }

    /**
     * After a round of work: if the thread used more than its share of the CPU since the current
     * window began, sleeps until the share is back within the limit. Windows restart every
     * {@link #CPU_WINDOW_NANOS}.
     */
    private void holdToCpuLimit() {
        if (cpuLimit >= 1.0) {
            return;
        }
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long cpu = threads.getCurrentThreadCpuTime();
        long now = System.nanoTime();
        if (cpu < 0 || now - windowStart >= CPU_WINDOW_NANOS) {
            windowStart = now;
            windowCpuStart = Math.max(0, cpu);
            return;
        }
        long due = windowStart + (long) ((cpu - windowCpuStart) / cpuLimit); // when the share allows this much
        while (due > now && !closed) {
            LockSupport.parkNanos(this, due - now);
            long after = System.nanoTime();
            throttledNanos += after - now;
            now = after;
        }
    }

    /** One pass over the rings; returns the pages compressed. */
    private int compressAll() {
        int n = 0;
        for (CleaningRing ring : rings) {
            if (ring.isClosed()) {
                rings.remove(ring);
                continue;
            }
            try {
                n += ring.compressSubmitted();
            } catch (RuntimeException | Error e) {
                rings.remove(ring);
                LOG.warn("The background reaper could not compress a page store's pages; that store's task stores"
                        + " its pages itself from now on.", e);
            }
        }
        pagesCompressed += n;
        return n;
    }

    /** One pass over the stores' writeback batches; returns the pages written back. */
    private int writeBackAll() {
        int n = 0;
        for (WritebackBatch batch : batches) {
            if (batch.isClosed()) {
                batches.remove(batch);
                continue;
            }
            n += batch.commitIfCopied(); // a failure is kept in the batch: the store fails at its completion
        }
        pagesWrittenBack += n;
        return n;
    }

    private boolean anyWork() {
        if (balancer.hasWork()) {
            return true;
        }
        for (WritebackBatch batch : batches) {
            if (batch.hasWork() || batch.isClosed()) {
                return true;
            }
        }
        for (CleaningRing ring : rings) {
            if (ring.hasWork() || ring.isClosed()) {
                return true;
            }
        }
        return closed;
    }

    /** Pages the thread compressed so far. */
    public long pagesCompressed() {
        return pagesCompressed;
    }

    /** Pages the thread wrote back from the stores' pools to RocksDB so far. */
    public long pagesWrittenBack() {
        return pagesWrittenBack;
    }

    /** Wall time the thread slept to keep to its CPU limit so far, in nanoseconds. */
    public long throttledNanos() {
        return throttledNanos;
    }

    /** Frames written back from one pool of the slot for another so far. */
    public long framesBalanced() {
        return balancer.framesMoved();
    }

    /** CPU time of the reaper's thread so far, in nanoseconds; 0 before it starts or if the JVM cannot tell. */
    public long cpuNanos() {
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t == null || !t.isAlive()) {
            return 0;
        }
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        try {
            return Math.max(0, threads.getThreadCpuTime(t.getId()));
        } catch (UnsupportedOperationException e) {
            return 0;
        }
    }

    /** Whether the thread is running (it stops soon after {@link #close()}). */
    public synchronized boolean isRunning() {
        return thread != null && thread.isAlive();
    }

    /** Stops the thread without waiting for it; stores registered are not cleaned any more. */
    @Override
    public void close() {
        closed = true;
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            LockSupport.unpark(t);
        }
        rings.clear();
        batches.clear();
        balancer.clear();
    }
}

package io.zstate.pagestore;

import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One view across a slot's pools: when a pool is short of frames because the other pools of its
 * slot hold the rest, the slot's reaper writes back frames of the pool that uses its frames
 * least, so that memory follows the hottest pages whoever owns them (the kernel's global LRU over
 * its pools, at the grain of a pool).
 *
 * <pre>
 * Heat of a pool: its demand per frame it holds, per second, over the last window (100 ms or
 *   more between two balancing rounds; a window of more than four is stale and starts again). The
 *   demand is pages faulted in (pages the store needed and its page cache did not have: what its
 *   pool serves) and dirty pages stored (what its pool must take).
 *
 *   task thread of store B (its lock held)              reaper thread
 *     pool.malloc refused: the slot's frames are         balance():
 *     all held  ->  B.short = true; wanted = true;         takers: the short pools (flags cleared);
 *     wake the reaper; then B reclaims its own             the hottest is the taker
 *     coldest frames as before (it never waits)            donor: the coldest other pool with frames
 *                                                          if donor heat * 2 < taker heat:
 *                                                            donor.reclaimForSlot(64 frames)
 *                                                            (under the donor store's lock: its
 *                                                            coldest frames to its RocksDB)
 *   the frames go back to the slot's arena frames, where B's next allocation finds them
 * </pre>
 *
 * The factor of two keeps two equally busy pools from trading frames back and forth; an idle
 * pool (no fault and no store in a window) gives frames to any pool that has demand, down to
 * none. A donor's pages stay readable (written back to its RocksDB, faulted in when it wakes).
 *
 * <p>Threads and locks: {@link #add} and the shortfall callback run on task threads (the latter
 * under its store's lock, touching only volatile fields); {@link #balance} runs on the reaper's
 * thread, takes one store's lock at a time (through {@link PageStore#reclaimForSlot}) and holds no
 * other lock meanwhile, so it can never be part of a cycle: a task thread never takes another
 * store's lock. The demand and frame counts it reads without the stores' locks are samples.
 * A donor whose reclaim fails is marked failed by its store (its task fails on its next call) and
 * forgotten here.
 */
final class PoolBalancer {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PoolBalancer.class);

    /** The shortest window a pool's heat is measured over. */
    static final long WINDOW_NANOS = 100_000_000L;

    /** Frames written back from a donor per round (256 KiB of 4 KiB frames). */
    static final int BATCH_FRAMES = 64;

    /** A pool is taken from only when its heat is below the taker's divided by this. */
    static final double HEAT_RATIO = 2.0;

    private static final class Member {
        final PageStore store;
        /** Its pool was refused a frame the slot's other pools hold. */
        volatile boolean shortOfFrames;
        long demandAtWindowStart;
        double heat;

        Member(PageStore store) {
            this.store = store;
        }
    }

    private final CopyOnWriteArrayList<Member> members = new CopyOnWriteArrayList<>();
    private final Runnable wake;
    private volatile boolean wanted;
    private long windowStart = System.nanoTime();
    private boolean heatKnown;
    private volatile long framesMoved;
    private volatile long rounds;

    /** A balancer that calls {@code wake} (without any lock of its own) when a pool is short. */
    PoolBalancer(Runnable wake) {
        this.wake = wake;
    }

    /** Balances {@code store}'s pool with the others from now on. Call under the store's lock. */
    void add(PageStore store) {
        Member member = new Member(store);
        member.demandAtWindowStart = store.poolDemand();
        store.shareWithSlot(() -> {
            member.shortOfFrames = true;
            wanted = true;
            wake.run();
        });
        members.add(member);
    }

    /** Whether a pool is waiting for frames. */
    boolean hasWork() {
        return wanted;
    }

    /**
     * One round, on the reaper's thread: if a pool is short, writes back a batch of the coldest
     * pool's frames for it. Returns the frames moved.
     */
    int balance(long now) {
        if (!wanted) {
            return 0;
        }
        wanted = false;
        rounds++;
        for (Member m : members) {
            if (m.store.isClosed()) {
                members.remove(m);
            }
        }
        measure(now);
        Member taker = null;
        for (Member m : members) {
            if (m.shortOfFrames) {
                m.shortOfFrames = false;
                if (taker == null || m.heat > taker.heat) {
                    taker = m;
                }
            }
        }
        if (taker == null || !heatKnown) {
            return 0;
        }
        Member donor = null;
        for (Member m : members) {
            if (m != taker && m.store.framesInUse() > 0 && (donor == null || m.heat < donor.heat)) {
                donor = m;
            }
        }
        if (donor == null || donor.heat * HEAT_RATIO >= taker.heat) {
            return 0;
        }
        try {
            int moved = donor.store.reclaimForSlot(BATCH_FRAMES);
            framesMoved += moved;
            return moved;
        } catch (RuntimeException | Error e) {
            members.remove(donor);
            LOG.warn("The slot's reaper could not write back a keyed backend's pool pages for another backend of the"
                    + " slot; that backend's store is marked failed and its task restores from its last checkpoint.", e);
            return 0;
        }
    }

    /** Starts a new window once the current one is long enough, setting each pool's heat. */
    private void measure(long now) {
        long elapsed = now - windowStart;
        if (elapsed < WINDOW_NANOS) {
            return;
        }
        boolean stale = elapsed > 4 * WINDOW_NANOS; // no balancing for a while: what it saw is old
        for (Member m : members) {
            long demand = m.store.poolDemand();
            if (!stale) {
                m.heat = (demand - m.demandAtWindowStart) * 1e9 / elapsed / Math.max(1, m.store.framesInUse());
            }
            m.demandAtWindowStart = demand;
        }
        heatKnown = !stale;
        windowStart = now;
    }

    /** Frames written back from one pool for another so far. */
    long framesMoved() {
        return framesMoved;
    }

    /** Rounds run so far (shortfalls answered). */
    long rounds() {
        return rounds;
    }

    void clear() {
        members.clear();
    }
}

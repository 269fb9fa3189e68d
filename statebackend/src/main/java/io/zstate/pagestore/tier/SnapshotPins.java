package io.zstate.pagestore.tier;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;

/**
 * Copy-on-write for snapshots: which open snapshot still needs which page's old contents, and
 * the pinned copies that keep them. Nothing is copied at a freeze; a page's old contents are
 * saved only when the task is about to change or free the page while a snapshot still needs it.
 *
 * <pre>
 * Epochs: the pager stamps a page with the current epoch when it is created and when it is
 * saved (PageTable.version); a page changed while no snapshot needed it keeps its stamp, which
 * only says that no snapshot of a later epoch has seen a different version of it. A freeze
 * opens a snapshot of the current epoch and starts the next. A snapshot of epoch s reads a
 * page's current copy if the page's stamp is at most s (unchanged since the freeze), else the
 * copy saved for it. Before a page stamped v changes, the
 * pager saves its current copy once for every open snapshot of epoch >= v (one Pin, shared and
 * counted), and stamps the page with the current epoch; snapshots of epoch < v got theirs at an
 * earlier change. So the test on the write path is one compare: stamp <= newest open epoch.
 *
 *   page changes after freeze 7:   stamp 5 <= 7 -> save once for snapshots 7 (and 6, if open),
 *                                  stamp := 8; later changes in epoch 8 compare 8 <= 7: nothing
 *
 * A pin holds the old contents where they cost nothing to keep:
 *   POOL     the page's pool object, no longer the page's (a pool page being dirtied or freed):
 *            its free is deferred; or a compressed copy of a dirty cached page, made on write
 *   SPILLED  a pinned copy in RocksDB under a key of its own: a POOL pin the reaper wrote back
 *            (the pin follows its object out of the pool and the frame is freed), or a dirty
 *            copy the pool had no room for
 *   VIEW     the page's own RocksDB record, through a view (RocksDB snapshot) taken at the save
 *   SAME     the repeated word of a same-filled page
 * The last snapshot to release a pin frees what it holds.
 * </pre>
 *
 * <p>Pinned pool objects are ordinary pool objects: they count in the pool's budget, compaction
 * moves them through their handles, and reclaim writes them back like pages (the pager's
 * writeback finds them here by handle).
 *
 * <p>Owns only this bookkeeping; the {@link Pager} does the saving, reading and freeing, under
 * the store's lock (the snapshot thread's reads and releases included).
 */
final class SnapshotPins {

    /** One saved copy of a page, shared by the snapshots frozen before the page changed. */
    static final class Pin {
        static final byte POOL = 1;
        static final byte SPILLED = 2;
        static final byte VIEW = 3;
        static final byte SAME = 4;

        byte kind;
        /** The pool handle (POOL), the pin key (SPILLED) or the word (SAME). */
        long value;
        /** Bytes of the copy (POOL and SPILLED): the pinned-bytes metric. */
        int bytes;
        SpillStore.View view;
        /** The page's bucket depth when saved. */
        int depth;
        int references;
    }

    /** The epoch pages changed now are stamped with. */
    private int epoch;
    /** Open snapshots, oldest (lowest epoch) first. */
    private final List<FrozenPages> open = new ArrayList<>();
    /** The epoch of the newest open snapshot; -1 if none (then no page ever needs a save). */
    private int newest = -1;
    /** POOL pins by handle: how the reaper's writeback tells a pinned object from a page's. */
    private final LongKeyMap<Pin> inPool = new LongKeyMap<>();
    private long pinnedPoolBytes;
    private long spilledPins;
    private long nextPinKey;
    /** Copies saved (pins made) since the pager was made. */
    private long saves;

    int epoch() {
        return epoch;
    }

    /** Whether a page stamped {@code version} must be saved before it changes. */
    boolean needsSave(int version) {
        return version <= newest;
    }

    /** Registers a new snapshot of the current epoch and starts the next epoch. */
    void opened(FrozenPages snapshot) {
        open.add(snapshot);
        newest = epoch;
        epoch++;
    }

    /**
     * Gives {@code pin} (a page's copy before its change) to every open snapshot that reads the
     * page's current copy: those of epoch {@code version} or later.
     */
    void attach(int pageId, int version, Pin pin) {
        for (int i = open.size() - 1; i >= 0 && open.get(i).epoch >= version; i--) {
            Pin previous = open.get(i).saved.put(pageId, pin);
            if (previous != null) {
                throw new IllegalStateException("page " + pageId + " was saved twice for the snapshot of epoch "
                        + open.get(i).epoch + ": the page store's epochs are corrupt");
            }
            pin.references++;
        }
        if (pin.references == 0) {
            throw new IllegalStateException("page " + pageId + " was saved for no open snapshot");
        }
        saves++;
        if (pin.kind == Pin.POOL) {
            inPool.put(pin.value, pin);
            pinnedPoolBytes += pin.bytes;
        } else if (pin.kind == Pin.SPILLED) {
            spilledPins++;
        }
    }

    /** The POOL pin owning a pool object, or null (the object is a page's). */
    Pin pinnedObject(long handle) {
        return inPool.get(handle);
    }

    /** A key no pinned copy in RocksDB has. */
    long newPinKey() {
        return nextPinKey++;
    }

    /** A POOL pin was written back to RocksDB under {@code key}: it follows its object there. */
    void writtenBack(Pin pin, long key) {
        inPool.remove(pin.value);
        pinnedPoolBytes -= pin.bytes;
        pin.kind = Pin.SPILLED;
        pin.value = key;
        spilledPins++;
    }

    /**
     * Removes a snapshot; returns the pins no open snapshot needs any more, for the pager to free
     * what they hold.
     */
    List<Pin> closed(FrozenPages snapshot) {
        if (!open.remove(snapshot)) {
            return List.of();
        }
        newest = open.isEmpty() ? -1 : open.get(open.size() - 1).epoch;
        List<Pin> unused = new ArrayList<>();
        snapshot.saved.forEachValue(pin -> {
            if (--pin.references == 0) {
                unused.add(pin);
                if (pin.kind == Pin.POOL) {
                    inPool.remove(pin.value);
                    pinnedPoolBytes -= pin.bytes;
                } else if (pin.kind == Pin.SPILLED) {
                    spilledPins--;
                }
            }
        });
        snapshot.saved.clear();
        return unused;
    }

    int openSnapshots() {
        return open.size();
    }

    /** The open snapshots, oldest first (for a pager closing under them). */
    List<FrozenPages> openSnapshots(List<FrozenPages> into) {
        into.addAll(open);
        return into;
    }

    /** Pool objects held by pins (not by any page). */
    int pinnedPoolObjects() {
        return inPool.size();
    }

    long pinnedPoolBytes() {
        return pinnedPoolBytes;
    }

    long spilledPins() {
        return spilledPins;
    }

    long saves() {
        return saves;
    }

    /** Every POOL pin is in the by-handle map once, and every open snapshot's pins are counted. */
    void checkInvariants() {
        HashMap<Pin, Integer> counted = new HashMap<>();
        for (FrozenPages snapshot : open) {
            snapshot.saved.forEachValue(pin -> counted.merge(pin, 1, Integer::sum));
        }
        long poolBytes = 0;
        long spilled = 0;
        for (java.util.Map.Entry<Pin, Integer> e : counted.entrySet()) {
            Pin pin = e.getKey();
            if (pin.references != e.getValue()) {
                throw new IllegalStateException("a pin has " + pin.references + " references but " + e.getValue()
                        + " open snapshots hold it");
            }
            if (pin.kind == Pin.POOL) {
                if (inPool.get(pin.value) != pin) {
                    throw new IllegalStateException("pinned pool object " + Long.toHexString(pin.value)
                            + " is missing from the pins by handle");
                }
                poolBytes += pin.bytes;
            } else if (pin.kind == Pin.SPILLED) {
                spilled++;
            }
        }
        long poolPins = 0;
        for (Pin pin : counted.keySet()) {
            poolPins += pin.kind == Pin.POOL ? 1 : 0;
        }
        if (poolBytes != pinnedPoolBytes || spilled != spilledPins || poolPins != inPool.size()) {
            throw new IllegalStateException("pin accounting is off: " + inPool.size() + " pinned pool objects, "
                    + pinnedPoolBytes + " bytes, " + spilledPins + " spilled pins recorded; the snapshots hold "
                    + poolBytes + " pool bytes and " + spilled + " spilled pins");
        }
    }
}

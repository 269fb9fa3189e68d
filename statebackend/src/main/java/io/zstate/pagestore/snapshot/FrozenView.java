package io.zstate.pagestore.snapshot;

import io.zstate.pagestore.EntryVisitor;

/**
 * The page store as it was at one instant ({@code PageStore.freeze()}), read by one other thread
 * (a checkpoint's asynchronous part) while the store goes on: pages where they are, and pinned
 * copies of those the task changed since (PinnedFrozenView).
 *
 * <p>A view is used by one thread at a time, and must be closed: it holds pins in the pool and
 * the spill store.
 */
public interface FrozenView extends AutoCloseable {

    /** Visits every entry of one key-group of a table, as the store held it when frozen. */
    default void forEachInKeyGroup(int table, int keyGroup, EntryVisitor visitor) {
        Batches batches = batches(table, keyGroup);
        while (batches.next(visitor)) {
            // every batch in turn
        }
    }

    /** The entries of one key-group of a table, a batch at a time. */
    interface Batches {
        /**
         * Visits the next batch (a bucket chain's own entries, or one leaf of a large map: about
         * a page of entries), or returns false when none is left.
         */
        boolean next(EntryVisitor visitor);
    }

    /**
     * The entries of one key-group of a table as the store held them when frozen, in batches:
     * what a checkpoint walks, so that it never holds more than a batch of a huge map.
     */
    Batches batches(int table, int keyGroup);

    /** Whether a table had entries (a directory) in a key-group when frozen. */
    boolean hasPages(int table, int keyGroup);

    /**
     * Writes the pages of one key-group of a table as the store held them when frozen, as a
     * {@link PageImage} (the stored bytes as they are); returns false and writes nothing if the
     * table had no entries there.
     */
    boolean writePages(int table, int keyGroup, java.io.DataOutput out) throws java.io.IOException;

    /**
     * Whether writes were waiting in the write buffer when the store was frozen (a freeze applies
     * none): its {@link #batches} hold them, its page images ({@link #writePages}) do not.
     */
    default boolean hasWaitingWrites() {
        return false;
    }

    /**
     * Hands those writes to {@code visitor}, each key's in the order they came; replayed onto the
     * page images they give the state at the freeze.
     */
    default void forEachWaitingWrite(io.zstate.pagestore.WriteVisitor visitor) {
        // none
    }

    /** The page size of the frozen store (a page image places only into a store of the same). */
    int pageSize();

    /** Releases what the view holds (its pins: pool objects, RocksDB copies and views). */
    @Override
    void close();
}

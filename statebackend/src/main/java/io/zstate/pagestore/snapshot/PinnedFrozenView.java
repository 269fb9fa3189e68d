package io.zstate.pagestore.snapshot;

import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.index.ChainWalker;
import io.zstate.pagestore.index.PageSource;
import io.zstate.pagestore.tier.FrozenPages;
import java.util.Arrays;

/**
 * The frozen view: the directories as they were (shared with the live ones until their next
 * change copies them) and {@link FrozenPages}
 * (every page where it is, or its pinned copy if the task changed it since: nothing of the state
 * copied), walked by the same {@link ChainWalker} as the live store, with the write buffer's
 * writes still waiting at the freeze laid over each bucket's entries as its chain is walked
 * ({@code FrozenWaitingWrites.Overlay}: the batches hold every write; the page images do not, and
 * {@link #forEachWaitingWrite} hands those writes out beside them). Read by one thread (the
 * checkpoint's asynchronous part), which takes the store's lock for each page it copies out.
 */
public final class PinnedFrozenView implements FrozenView {

    private final int firstKeyGroup;
    private final int[][][] directories;
    private final FrozenPages pages;
    private final io.zstate.pagestore.index.FrozenWaitingWrites waiting;
    private final ChainWalker walker;
    private PageImage.Writer imageWriter;

    public PinnedFrozenView(int firstKeyGroup, int[][][] directories, FrozenPages pages) {
        this(firstKeyGroup, directories, pages, io.zstate.pagestore.index.FrozenWaitingWrites.NONE);
    }

    /** A view whose pages do not hold {@code waiting}: the writes still waiting when it was frozen. */
    public PinnedFrozenView(int firstKeyGroup, int[][][] directories, FrozenPages pages,
            io.zstate.pagestore.index.FrozenWaitingWrites waiting) {
        this.firstKeyGroup = firstKeyGroup;
        this.directories = directories;
        this.pages = pages;
        this.waiting = waiting;
        this.walker = new ChainWalker(new Source(pages), pages.pageSize());
    }

    @Override
    public boolean hasWaitingWrites() {
        return !waiting.isEmpty();
    }

    @Override
    public void forEachWaitingWrite(io.zstate.pagestore.WriteVisitor visitor) {
        waiting.forEach(visitor);
    }

    @Override
    public Batches batches(int table, int keyGroup) {
        int[] directory = directory(table, keyGroup);
        if (directory == null) {
            return visitor -> false;
        }
        return new Batches() {
            private int next; // directory index
            private int[] leaves = new int[16];
            private int leafCount;
            private int nextLeaf;
            /** The waiting writes of the chain being walked (and its maps' leaves), or null. */
            private io.zstate.pagestore.index.FrozenWaitingWrites.Overlay overlay;

            @Override
            public boolean next(EntryVisitor visitor) {
                if (nextLeaf < leafCount) {
                    walker.forEachInMapLeaf(leaves[nextLeaf++], overlaid(visitor));
                    if (nextLeaf == leafCount) {
                        endChain(visitor);
                    }
                    return true;
                }
                while (next < directory.length) {
                    int i = next++;
                    if (walker.isChainStart(directory, i)) {
                        leafCount = 0;
                        nextLeaf = 0;
                        overlay = waiting.overlay(directory[i]);
                        walker.forEachInChainLeavingMaps(directory[i], overlaid(visitor), leaf -> {
                            if (leafCount == leaves.length) {
                                leaves = Arrays.copyOf(leaves, leafCount * 2);
                            }
                            leaves[leafCount++] = leaf;
                        });
                        if (leafCount == 0) {
                            endChain(visitor);
                        }
                        return true;
                    }
                }
                return false;
            }

            /** {@code visitor}, with the chain's waiting writes laid over its entries if it has any. */
            private EntryVisitor overlaid(EntryVisitor visitor) {
                return overlay == null ? visitor : overlay.over(visitor);
            }

            /** The chain and its maps are walked: the waiting writes' keys no entry held come last. */
            private void endChain(EntryVisitor visitor) {
                if (overlay != null) {
                    overlay.rest(visitor);
                    overlay = null;
                }
            }
        };
    }

    @Override
    public boolean hasPages(int table, int keyGroup) {
        return directory(table, keyGroup) != null;
    }

    /** A table's directory in a key-group as frozen, or null (none, or a table created after the freeze). */
    private int[] directory(int table, int keyGroup) {
        return table < directories.length ? directories[table][keyGroup - firstKeyGroup] : null;
    }

    @Override
    public boolean writePages(int table, int keyGroup, java.io.DataOutput out) throws java.io.IOException {
        int[] directory = directory(table, keyGroup);
        if (directory == null) {
            return false;
        }
        if (imageWriter == null) {
            imageWriter = new PageImage.Writer(pages);
        }
        imageWriter.write(directory, out);
        return true;
    }

    @Override
    public int pageSize() {
        return pages.pageSize();
    }

    @Override
    public void close() {
        try {
            waiting.close();
        } finally {
            pages.close();
        }
    }

    /** Frozen pages as a page source: each held page decoded into a buffer of its own. */
    private static final class Source implements PageSource {
        private final FrozenPages pages;
        private final HeldPages held;

        Source(FrozenPages pages) {
            this.pages = pages;
            this.held = new HeldPages(pages.pageSize());
        }

        @Override
        public byte[] acquire(int pageId) {
            byte[] page = pages.read(pageId, held.next());
            held.hold();
            return page;
        }

        @Override
        public void release(int pageId) {
            held.release();
        }

        @Override
        public int depth(int pageId) {
            return pages.depth(pageId);
        }
    }
}

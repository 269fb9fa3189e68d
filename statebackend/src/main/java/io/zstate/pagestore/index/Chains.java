package io.zstate.pagestore.index;

import io.zstate.pagestore.layout.BlobRef;
import io.zstate.pagestore.layout.BucketPage;
import io.zstate.pagestore.layout.Pages;
import io.zstate.pagestore.tier.Pager;
import java.util.ArrayList;
import java.util.List;

/**
 * Bucket chains: a head {@link BucketPage} and its overflow pages, the unit in which both a
 * table's extendible hashing ({@link BucketIndex}) and a large map's B+tree ({@link MapIndex})
 * keep entries. Written once here: finding room, placing an entry, growing a chain,
 * removing an entry (and its blobs), unlinking an emptied overflow page, splitting a chain over
 * a sibling on one hash bit, freeing a chain.
 *
 * <pre>
 *   head -> overflow -> overflow -> NO_PAGE      (Pages.next links them)
 *   an entry goes into the first page with room (compacting a page in place if its garbage
 *   makes room), else into a new overflow page at the end
 *   an overflow page emptied by a delete is unlinked and freed; the head stays (an empty bucket
 *   page is all zeros: a same-filled tag, no memory)
 * </pre>
 *
 * <p>Which chain a hash falls in is the caller's business; this class never reads a directory.
 * Touches pages only through the pager.
 */
final class Chains {

    /** Frees what a main-chain entry owns besides blobs (a map root's index); null for none. */
    interface EntryOwner {
        void free(byte[] page, int entry);
    }

    private final Pager pager;
    private final Blobs blobs;
    private final byte[] compactScratch;

    Chains(Pager pager, Blobs blobs) {
        this.pager = pager;
        this.blobs = blobs;
        this.compactScratch = new byte[pager.pageSize()];
    }

    /** A new empty bucket page of {@code depth}, dirty and pinned. */
    int newBucket(int depth) {
        int pageId = pager.newPage(depth);
        BucketPage.init(pager.page(pager.cachedSlot(pageId)));
        return pageId;
    }

    /** A page of the chain with room for {@code needed} bytes (compacting one if that makes room), loaded. */
    int pageWithRoom(int pageId, int needed) {
        while (pageId != Pages.NO_PAGE) {
            int slot = pager.load(pageId);
            byte[] page = pager.page(slot);
            int free = BucketPage.freeBytes(page);
            if (free >= needed) {
                return pageId;
            }
            if (free + BucketPage.garbage(page) >= needed) {
                pager.markDirty(slot);
                BucketPage.compactInPlace(page, compactScratch);
                return pageId;
            }
            pageId = Pages.next(page);
        }
        return Pages.NO_PAGE;
    }

    /** Appends an empty overflow page to the chain starting at {@code head}; returns it, loaded. */
    int addOverflowPage(int head) {
        int last = head;
        for (int next = Pages.next(pager.page(pager.load(head))); next != Pages.NO_PAGE; ) {
            last = next;
            next = Pages.next(pager.page(pager.load(next)));
        }
        int lastSlot = pager.load(last);
        pager.pin(lastSlot);
        try {
            int overflow = newBucket(pager.depth(head));
            pager.markDirty(lastSlot);
            Pages.next(pager.page(lastSlot), overflow);
            pager.unpin(pager.cachedSlot(overflow));
            return overflow;
        } finally {
            pager.unpin(lastSlot);
        }
    }

    /**
     * Writes an entry into {@code target} (loaded, with room): the key inline or as the blob
     * {@code keyChain}, the value inline or as the blob {@code valueChain} (chains as {@link
     * Blobs#write} returns them).
     */
    void place(int target, int hash, int tag, byte[] key, int keyOffset, int keyLength, boolean blobKey,
            long keyChain, byte[] value, int valueOffset, int valueLength, boolean blobValue, long valueChain) {
        int slot = pager.cachedSlot(target);
        byte[] page = pager.page(slot);
        pager.markDirty(slot);
        int valueWord = blobValue ? BucketPage.BLOB : valueLength;
        int valueBytes = blobValue ? BlobRef.SIZE : valueLength;
        int entry = blobKey
                ? BucketPage.insertBlobKey(page, hash, tag, keyLength, (int) keyChain, (int) (keyChain >>> 32),
                        valueWord, valueBytes)
                : BucketPage.insert(page, hash, tag, key, keyOffset, keyLength, valueWord, valueBytes);
        int at = BucketPage.entryValueOffset(page, entry);
        if (blobValue) {
            BlobRef.write(page, at, valueLength, (int) valueChain, (int) (valueChain >>> 32));
        } else {
            System.arraycopy(value, valueOffset, page, at, valueLength);
        }
    }

    /** Removes slot {@code index} of a loaded page, freeing the key's and value's blob pages if any. */
    void removeEntry(int pageId, int index) {
        int slot = pager.cachedSlot(pageId);
        byte[] page = pager.page(slot);
        int entry = BucketPage.slotEntry(page, index);
        int valueBlob = Blobs.firstPage(page, entry);
        int keyBlob = Blobs.keyFirstPage(page, entry);
        pager.markDirty(slot);
        BucketPage.remove(page, index);
        if (valueBlob != Pages.NO_PAGE || keyBlob != Pages.NO_PAGE) {
            pager.pin(slot);
            try {
                blobs.free(valueBlob);
                blobs.free(keyBlob);
            } finally {
                pager.unpin(slot);
            }
        }
    }

    /** Frees an overflow page of the chain at {@code head} that became empty, unlinking it; returns whether it did. */
    boolean unlinkIfEmptyOverflow(int head, int pageId) {
        if (pageId == head || BucketPage.count(pager.page(pager.load(pageId))) > 0) {
            return false;
        }
        int prev = head;
        while (true) {
            int next = Pages.next(pager.page(pager.load(prev)));
            if (next == pageId) {
                int after = Pages.next(pager.page(pager.load(pageId)));
                int prevSlot = pager.load(prev);
                pager.markDirty(prevSlot);
                Pages.next(pager.page(prevSlot), after);
                pager.freePage(pageId);
                return true;
            }
            prev = next;
        }
    }

    /** Frees every emptied overflow page of a chain (after entries left it in bulk). */
    void unlinkEmptyOverflows(int head) {
        // (the table's chains only: a map's leaves count their overflow pages)
        int prev = head;
        int next = Pages.next(pager.page(pager.load(head)));
        while (next != Pages.NO_PAGE) {
            byte[] page = pager.page(pager.load(next));
            int after = Pages.next(page);
            if (BucketPage.count(page) == 0) {
                int prevSlot = pager.load(prev);
                pager.markDirty(prevSlot);
                Pages.next(pager.page(prevSlot), after);
                pager.freePage(next);
            } else {
                prev = next;
            }
            next = after;
        }
    }

    /** Which side of a split an entry goes to. */
    interface Side {
        /** Whether slot {@code index} of the chain's page number {@code page} (0 = head) goes to the sibling. */
        boolean toSibling(int page, byte[] copy, int index);
    }

    /**
     * Splits the chain at {@code head} over itself and {@code sibling} (an empty bucket): entries
     * whose slot hash has {@code bit} set move to the sibling, the rest stay.
     */
    void split(int head, int sibling, int bit) {
        split(head, sibling, (page, copy, index) -> (BucketPage.slotPrefixHash(copy, index) & bit) != 0);
    }

    /**
     * Page buffers a split copies its chain into, reused from split to split (a split never
     * runs inside another): splits while a state loads allocated a page per chain page before.
     */
    private byte[][] splitCopies = new byte[4][];

    /** Copies the chain at {@code head} into {@link #splitCopies} (head first); returns its length. */
    private int copyForSplit(int head) {
        int n = 0;
        for (int pageId = head; pageId != Pages.NO_PAGE; n++) {
            byte[] page = pager.page(pager.load(pageId));
            if (n == splitCopies.length) {
                splitCopies = java.util.Arrays.copyOf(splitCopies, n * 2);
            }
            if (splitCopies[n] == null) {
                splitCopies[n] = new byte[page.length];
            }
            System.arraycopy(page, 0, splitCopies[n], 0, page.length);
            pageId = Pages.next(page);
        }
        return n;
    }

    /** The pages of the chain at {@code head}, copied (head first). */
    List<byte[]> copy(int head) {
        List<byte[]> copies = new ArrayList<>();
        for (int pageId = head; pageId != Pages.NO_PAGE; ) {
            byte[] page = pager.page(pager.load(pageId));
            copies.add(page.clone());
            pageId = Pages.next(page);
        }
        return copies;
    }

    /**
     * Splits the chain at {@code head} over itself and {@code sibling} (an empty bucket): entries
     * {@code side} sends to the sibling move there, the rest stay; both chains are rebuilt
     * compactly (the chain is copied aside first, its overflow pages freed).
     */
    void split(int head, int sibling, Side side) {
        int pages = copyForSplit(head);
        byte[][] copies = splitCopies;
        int headSlot = pager.load(head);
        pager.pin(headSlot);
        int siblingSlot = pager.load(sibling);
        pager.pin(siblingSlot);
        try {
            int overflow = Pages.next(copies[0]);
            if (overflow != Pages.NO_PAGE) {
                free(overflow, false, null);
            }
            pager.markDirty(headSlot);
            BucketPage.init(pager.page(headSlot));
            for (int p = 0; p < pages; p++) {
                byte[] copy = copies[p];
                int count = BucketPage.count(copy);
                for (int i = 0; i < count; i++) {
                    reinsert(side.toSibling(p, copy, i) ? sibling : head, copy, i);
                }
            }
        } finally {
            pager.unpin(siblingSlot);
            pager.unpin(headSlot);
        }
    }

    /** Inserts slot {@code index} of a detached page copy into a chain, growing the chain if needed. */
    private void reinsert(int head, byte[] copy, int index) {
        int target = pageWithRoom(head, BucketPage.neededToCopy(copy, index));
        if (target == Pages.NO_PAGE) {
            target = addOverflowPage(head);
        }
        int slot = pager.cachedSlot(target);
        pager.markDirty(slot);
        BucketPage.copyEntry(copy, index, pager.page(slot));
    }

    /**
     * Frees a chain; with {@code withBlobs}, the blobs its entries reference too, and what {@code
     * owner} frees of each entry (null for nothing more).
     */
    void free(int pageId, boolean withBlobs, EntryOwner owner) {
        while (pageId != Pages.NO_PAGE) {
            int slot = pager.load(pageId);
            byte[] page = pager.page(slot);
            int next = Pages.next(page);
            if (withBlobs) {
                pager.pin(slot);
                try {
                    int count = BucketPage.count(page);
                    for (int i = 0; i < count; i++) {
                        int entry = BucketPage.slotEntry(page, i);
                        blobs.free(Blobs.firstPage(page, entry));
                        blobs.free(Blobs.keyFirstPage(page, entry));
                        if (owner != null) {
                            owner.free(page, entry);
                        }
                    }
                } finally {
                    pager.unpin(slot);
                }
            }
            pager.freePage(pageId);
            pageId = next;
        }
    }

    /** Overflow pages of the chain at {@code head}. */
    int overflowPages(int head) {
        int n = 0;
        for (int pageId = Pages.next(pager.page(pager.load(head))); pageId != Pages.NO_PAGE; n++) {
            pageId = Pages.next(pager.page(pager.load(pageId)));
        }
        return n;
    }
}

package io.zstate.pagestore.index;

import io.zstate.pagestore.layout.BlobPage;
import io.zstate.pagestore.layout.BlobRef;
import io.zstate.pagestore.layout.BucketPage;
import io.zstate.pagestore.layout.Pages;
import io.zstate.pagestore.tier.Pager;

/**
 * Blob chains: values too large for their bucket (an entry over half a page) live in a chain of
 * {@link BlobPage}s that a {@link BlobRef} in the bucket entry points to; so do keys too large to
 * be inline with a blob reference for their value. Writing a value makes a
 * new chain; appending (ListState's merge) fills the tail page and adds pages after it, so only
 * the tail changes. Reading is the {@link ChainWalker}'s. Touches only blob pages, and the
 * bucket entry's reference when an append moves the tail; pages only through the pager.
 */
final class Blobs {

    private final Pager pager;
    private final int capacity;

    Blobs(Pager pager) {
        this.pager = pager;
        this.capacity = BlobPage.capacity(pager.pageSize());
    }

    /**
     * Writes a value into a new chain of blob pages.
     *
     * @return last page id << 32 | first page id
     */
    long write(byte[] value, int offset, int length) {
        int first = Pages.NO_PAGE;
        int prevSlot = -1;
        int last = Pages.NO_PAGE;
        int done = 0;
        try {
            do {
                int pageId = pager.newPage(0);
                int slot = pager.cachedSlot(pageId);
                byte[] page = pager.page(slot);
                BlobPage.init(page);
                int n = Math.min(capacity, length - done);
                System.arraycopy(value, offset + done, page, BlobPage.payload(), n);
                BlobPage.used(page, n);
                done += n;
                if (prevSlot >= 0) {
                    Pages.next(pager.page(prevSlot), pageId);
                    pager.unpin(prevSlot);
                } else {
                    first = pageId;
                }
                prevSlot = slot;
                last = pageId;
            } while (done < length);
        } finally {
            if (prevSlot >= 0) {
                pager.unpin(prevSlot);
            }
        }
        return ((long) last << 32) | (first & 0xFFFFFFFFL);
    }

    /** Appends to the blob referenced by an entry of the pinned bucket page in {@code bucketSlot}. */
    void append(int bucketSlot, int entry, byte[] value, int offset, int length) {
        int at = BucketPage.entryValueOffset(pager.page(bucketSlot), entry);
        int total = BlobRef.length(pager.page(bucketSlot), at);
        int last = BlobRef.last(pager.page(bucketSlot), at);
        int lastSlot = pager.load(last);
        pager.markDirty(lastSlot);
        byte[] page = pager.page(lastSlot);
        int used = BlobPage.used(page);
        int n = Math.min(capacity - used, length);
        System.arraycopy(value, offset, page, BlobPage.payload() + used, n);
        BlobPage.used(page, used + n);
        if (n < length) {
            pager.pin(lastSlot);
            long more;
            try {
                more = write(value, offset + n, length - n);
            } finally {
                pager.unpin(lastSlot);
            }
            Pages.next(pager.page(lastSlot), (int) more);
            last = (int) (more >>> 32);
        }
        pager.markDirty(bucketSlot);
        BlobRef.grow(pager.page(bucketSlot), at, total + length, last);
    }

    /** The first page of the blob an entry references, or {@link Pages#NO_PAGE} for an inline value. */
    static int firstPage(byte[] page, int entry) {
        if (BucketPage.entryValueWord(page, entry) != BucketPage.BLOB) {
            return Pages.NO_PAGE;
        }
        return BlobRef.first(page, BucketPage.entryValueOffset(page, entry));
    }

    /** The first page of the blob an entry's key is in, or {@link Pages#NO_PAGE} for an inline key. */
    static int keyFirstPage(byte[] page, int entry) {
        if (!BucketPage.isKeyBlob(page, entry)) {
            return Pages.NO_PAGE;
        }
        return BlobRef.first(page, BucketPage.entryKeyOffset(entry));
    }

    /** Frees a blob chain. */
    void free(int pageId) {
        while (pageId != Pages.NO_PAGE) {
            int next = Pages.next(pager.page(pager.load(pageId)));
            pager.freePage(pageId);
            pageId = next;
        }
    }
}

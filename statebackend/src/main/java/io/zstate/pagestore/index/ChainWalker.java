package io.zstate.pagestore.index;

import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.ValueView;
import io.zstate.pagestore.layout.BlobPage;
import io.zstate.pagestore.layout.BlobRef;
import io.zstate.pagestore.layout.BucketPage;
import io.zstate.pagestore.layout.Pages;

/**
 * The one walk over pages: the entries of a directory's bucket chains, of one chain (a map's
 * prefix), and the value of an entry, assembled from its blob chain when it has one. The same
 * code serves the live store (over the pager) and a frozen view (over a snapshot's copies),
 * through a {@link PageSource}.
 *
 * <p>Reads only: it never changes a page, and learns pages only through its source. Not
 * thread-safe: one walker per page source (it reuses its value buffer and view).
 */
public final class ChainWalker {

    private final PageSource pages;
    private final ValueView view = new ValueView();
    private byte[] value;

    public ChainWalker(PageSource pages, int pageSize) {
        this.pages = pages;
        this.value = new byte[pageSize];
    }

    /** Visits every entry of every bucket chain of a directory, each chain once. */
    public void forEachInDirectory(int[] directory, EntryVisitor visitor) {
        for (int i = 0; i < directory.length; i++) {
            int head = directory[i];
            if (Directory.isFirstIndex(i, pages.depth(head))) {
                visitChain(head, visitor, false, 0, null, 0, 0);
            }
        }
    }

    /** Visits the entries of the chain at {@code head} whose keys start with {@code prefix}. */
    public void forEachWithPrefix(int head, int prefixHash, byte[] prefix, int offset, int length,
            EntryVisitor visitor) {
        visitChain(head, visitor, true, prefixHash, prefix, offset, length);
    }

    private void visitChain(int pageId, EntryVisitor visitor, boolean matchPrefix, int hash, byte[] prefix,
            int prefixOffset, int prefixLength) {
        while (pageId != Pages.NO_PAGE) {
            byte[] page = pages.acquire(pageId);
            int next;
            try {
                int count = BucketPage.count(page);
                for (int i = 0; i < count; i++) {
                    if (matchPrefix && !BucketPage.hasPrefix(page, i, hash, prefix, prefixOffset, prefixLength)) {
                        continue;
                    }
                    int entry = BucketPage.slotEntry(page, i);
                    readValue(page, entry, view);
                    visitor.visit(page, BucketPage.entryKeyOffset(entry), BucketPage.entryKeyLength(page, entry),
                            view.array(), view.offset(), view.length());
                }
                next = Pages.next(page);
            } finally {
                pages.release(pageId);
            }
            pageId = next;
        }
    }

    /**
     * Points {@code out} at the value of an entry of {@code page}: in the page itself, or
     * assembled from its blob chain into the walker's buffer (valid until the next call).
     */
    public void readValue(byte[] page, int entry, ValueView out) {
        int word = BucketPage.entryValueWord(page, entry);
        int at = BucketPage.entryValueOffset(page, entry);
        if (word != BucketPage.BLOB) {
            out.set(page, at, word);
            return;
        }
        int length = BlobRef.length(page, at);
        if (value.length < length) {
            value = new byte[Math.max(length, value.length * 2)];
        }
        int done = 0;
        for (int pageId = BlobRef.first(page, at); pageId != Pages.NO_PAGE; ) {
            byte[] blob = pages.acquire(pageId);
            int next;
            try {
                int used = BlobPage.used(blob);
                if (done + used > length) {
                    throw new IllegalStateException("blob holds more than the " + length
                            + " bytes its reference says: the page store is corrupt");
                }
                System.arraycopy(blob, BlobPage.payload(), value, done, used);
                done += used;
                next = Pages.next(blob);
            } finally {
                pages.release(pageId);
            }
            pageId = next;
        }
        if (done != length) {
            throw new IllegalStateException(
                    "blob holds " + done + " bytes, its reference says " + length + ": the page store is corrupt");
        }
        out.set(value, 0, length);
    }
}

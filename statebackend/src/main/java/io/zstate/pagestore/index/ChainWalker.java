package io.zstate.pagestore.index;

import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.ValueView;
import io.zstate.pagestore.layout.BlobPage;
import io.zstate.pagestore.layout.BlobRef;
import io.zstate.pagestore.layout.BucketPage;
import io.zstate.pagestore.layout.Pages;

/**
 * The one walk over pages: the entries of a directory's bucket chains, of one chain (a map's
 * prefix), and the key and value of an entry, each assembled from its blob chain when it has
 * one. The same
 * code serves the live store (over the pager) and a frozen view (over a snapshot's copies),
 * through a {@link PageSource}.
 *
 * <p>Reads only: it never changes a page, and learns pages only through its source. Not
 * thread-safe: one walker per page source (it reuses its value buffer and view).
 */
public final class ChainWalker {

    private final PageSource pages;
    private final ValueView view = new ValueView();
    private final ValueView keyView = new ValueView();
    private byte[] value;
    private byte[] key;

    public ChainWalker(PageSource pages, int pageSize) {
        this.pages = pages;
        this.value = new byte[pageSize];
        this.key = new byte[pageSize];
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
                    int entry = BucketPage.slotEntry(page, i);
                    if (BucketPage.isKeyBlob(page, entry)) {
                        if (matchPrefix && BucketPage.slotPrefixHash(page, i) != hash) {
                            continue;
                        }
                        readKey(page, entry, keyView);
                        if (matchPrefix && !startsWith(keyView, prefix, prefixOffset, prefixLength)) {
                            continue;
                        }
                    } else {
                        if (matchPrefix && !BucketPage.hasPrefix(page, i, hash, prefix, prefixOffset, prefixLength)) {
                            continue;
                        }
                        keyView.set(page, BucketPage.entryKeyOffset(entry), BucketPage.entryKeyLength(page, entry));
                    }
                    readValue(page, entry, view);
                    visitor.visit(keyView.array(), keyView.offset(), keyView.length(),
                            view.array(), view.offset(), view.length());
                }
                next = Pages.next(page);
            } finally {
                pages.release(pageId);
            }
            pageId = next;
        }
    }

    private static boolean startsWith(ValueView key, byte[] prefix, int offset, int length) {
        return key.length() >= length && java.util.Arrays.equals(
                key.array(), key.offset(), key.offset() + length, prefix, offset, offset + length);
    }

    /**
     * Points {@code out} at the value of an entry of {@code page}: in the page itself, or
     * assembled from its blob chain into the walker's value buffer (valid until the next call).
     */
    public void readValue(byte[] page, int entry, ValueView out) {
        int word = BucketPage.entryValueWord(page, entry);
        int at = BucketPage.entryValueOffset(page, entry);
        if (word != BucketPage.BLOB) {
            out.set(page, at, word);
            return;
        }
        int length = BlobRef.length(page, at); // before the read: the page may not be pinned
        value = readBlob(page, at, value);
        out.set(value, 0, length);
    }

    /**
     * Points {@code out} at the key of an entry whose key is a blob, assembled into the walker's
     * key buffer (valid until the next call).
     */
    public void readKey(byte[] page, int entry, ValueView out) {
        int at = BucketPage.entryKeyOffset(entry);
        int length = BlobRef.length(page, at);
        key = readBlob(page, at, key);
        out.set(key, 0, length);
    }

    /**
     * Reads the blob a reference at {@code at} names into {@code into} (grown if needed). The
     * reference is read before any blob page is loaded, so the page holding it need not be pinned.
     */
    private byte[] readBlob(byte[] page, int at, byte[] into) {
        int length = BlobRef.length(page, at);
        int first = BlobRef.first(page, at);
        if (into.length < length) {
            into = new byte[Math.max(length, into.length * 2)];
        }
        int done = 0;
        for (int pageId = first; pageId != Pages.NO_PAGE; ) {
            byte[] blob = pages.acquire(pageId);
            int next;
            try {
                int used = BlobPage.used(blob);
                if (done + used > length) {
                    throw new IllegalStateException("blob holds more than the " + length
                            + " bytes its reference says: the page store is corrupt");
                }
                System.arraycopy(blob, BlobPage.payload(), into, done, used);
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
        return into;
    }
}

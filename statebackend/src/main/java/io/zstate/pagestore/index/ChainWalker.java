package io.zstate.pagestore.index;

import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.ValueView;
import io.zstate.pagestore.layout.BlobPage;
import io.zstate.pagestore.layout.BlobRef;
import io.zstate.pagestore.layout.BucketPage;
import io.zstate.pagestore.layout.MapNodePage;
import io.zstate.pagestore.layout.MapRoot;
import io.zstate.pagestore.layout.Pages;

/**
 * The one walk over pages: the entries of a directory's bucket chains, of one chain (a map's
 * prefix), of a map index (down its B+tree), and the key and value of an entry, each
 * assembled from its blob chain when it has one. The same
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
    /** Map roots met on the page being walked: top page and height each. */
    private int[][] rootStash = new int[4][];
    /** Map roots met by walks of entries (a checkpoint's page image counts the map indexes). */
    private long mapRootsMet;

    public ChainWalker(PageSource pages, int pageSize) {
        this.pages = pages;
        this.value = new byte[pageSize];
        this.key = new byte[pageSize];
    }

    /**
     * Visits every entry of every bucket chain of a directory, each chain once, and every entry
     * of each map index a chain's map roots lead to.
     */
    public void forEachInDirectory(int[] directory, EntryVisitor visitor) {
        forEachChain(directory, visitor, false);
    }

    /**
     * Visits the key of every entry of a directory with an empty value, a map index's entries
     * once, as their map root: its key is the map's prefix (the keys and namespaces of a state).
     */
    public void forEachKeyInDirectory(int[] directory, EntryVisitor visitor) {
        forEachChain(directory, visitor, true);
    }

    private void forEachChain(int[] directory, EntryVisitor visitor, boolean keysOnly) {
        for (int i = 0; i < directory.length; i++) {
            if (isChainStart(directory, i)) {
                visitChain(directory[i], visitor, false, 0, null, 0, 0, keysOnly, null);
            }
        }
    }

    /**
     * Visits the entries of the chain at {@code head} whose keys start with {@code prefix}, and
     * those of the map index a map root for the prefix leads to.
     */
    public void forEachWithPrefix(int head, int prefixHash, byte[] prefix, int offset, int length,
            EntryVisitor visitor) {
        visitChain(head, visitor, true, prefixHash, prefix, offset, length, false, null);
    }

    /**
     * The one walk of a chain. Map roots met on a page are noted and their indexes walked after
     * the page is released, so a walk never holds more than a bucket page and a blob page.
     */
    private void visitChain(int pageId, EntryVisitor visitor, boolean matchPrefix, int hash, byte[] prefix,
            int prefixOffset, int prefixLength, boolean keysOnly, MapVisitor leaves) {
        while (pageId != Pages.NO_PAGE) {
            byte[] page = pages.acquire(pageId);
            int next;
            int roots = 0;
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
                    if (BucketPage.isMapRoot(page, entry) && !keysOnly) {
                        int at = BucketPage.entryValueOffset(page, entry);
                        roots = noteRoot(roots, MapRoot.top(page, at), MapRoot.height(page, at));
                        mapRootsMet++;
                        continue;
                    }
                    if (keysOnly) {
                        view.set(page, 0, 0);
                    } else {
                        readValue(page, entry, view);
                    }
                    visitor.visit(keyView.array(), keyView.offset(), keyView.length(),
                            view.array(), view.offset(), view.length());
                }
                next = Pages.next(page);
            } finally {
                pages.release(pageId);
            }
            for (int r = 0; r < roots; r++) { // a map's chains hold no roots: the stash stays as it is
                if (leaves != null) {
                    forEachMapLeaf(rootStash[r][0], rootStash[r][1], leaves);
                } else {
                    forEachInMap(rootStash[r][0], rootStash[r][1], visitor);
                }
            }
            pageId = next;
        }
    }

    private int noteRoot(int roots, int top, int height) {
        if (roots == rootStash.length) {
            rootStash = java.util.Arrays.copyOf(rootStash, roots * 2);
        }
        if (rootStash[roots] == null) {
            rootStash[roots] = new int[2];
        }
        rootStash[roots][0] = top;
        rootStash[roots][1] = height;
        return roots + 1;
    }

    /** Visits every entry of a map index. */
    private void forEachInMap(int top, int height, EntryVisitor visitor) {
        forEachMapLeaf(top, height, (head) -> visitChain(head, visitor, false, 0, null, 0, 0, false, null));
    }

    /** What a walk over a map index's B+tree meets. */
    public interface MapVisitor {
        /** A leaf's head page (a bucket chain), in key order. */
        void leaf(int head);

        /** An inner node, after every node below it. */
        default void node(int pageId) {}
    }

    /**
     * The one walk over a map index's B+tree ({@link MapNodePage}): every leaf in key order,
     * every inner node after what is below it. A node is released before anything below it is
     * visited.
     */
    public void forEachMapLeaf(int top, int height, MapVisitor visitor) {
        if (height == 0) {
            visitor.leaf(top);
            return;
        }
        int[] children;
        byte[] page = pages.acquire(top);
        try {
            children = new int[MapNodePage.count(page) + 1];
            for (int i = 0; i < children.length; i++) {
                children[i] = MapNodePage.child(page, i);
            }
        } finally {
            pages.release(top);
        }
        for (int child : children) {
            forEachMapLeaf(child, height - 1, visitor);
        }
        visitor.node(top);
    }

    /** Map roots this walker met so far in walks of entries (not of keys only). */
    public long mapRootsMet() {
        return mapRootsMet;
    }

    /** Whether directory index {@code i} is the first of its bucket chain (each chain is walked once). */
    public boolean isChainStart(int[] directory, int i) {
        return Directory.isFirstIndex(i, pages.depth(directory[i]));
    }

    /**
     * Visits the entries of one chain, but not those of the map indexes its map roots lead to:
     * their leaves go to {@code leaves}, in key order, for the caller to visit one at a time
     * ({@link #forEachInMapLeaf}), so a walk in batches stays a batch however large a map is.
     */
    public void forEachInChainLeavingMaps(int head, EntryVisitor visitor, MapVisitor leaves) {
        visitChain(head, visitor, false, 0, null, 0, 0, false, leaves);
    }

    /** Visits the entries of one leaf chain of a map index. */
    public void forEachInMapLeaf(int head, EntryVisitor visitor) {
        visitChain(head, visitor, false, 0, null, 0, 0, false, null);
    }

    /** Whether a key (a blob key read into a view) starts with the prefix. */
    static boolean startsWith(ValueView key, byte[] prefix, int offset, int length) {
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

package io.zstate.pagestore.index;

import io.zstate.pagestore.ValueView;
import io.zstate.pagestore.layout.BucketPage;
import io.zstate.pagestore.layout.MapNodePage;
import io.zstate.pagestore.layout.MapRoot;
import io.zstate.pagestore.layout.Pages;
import io.zstate.pagestore.tier.Pager;
import java.util.Arrays;
import java.util.List;

/**
 * The index of one large map (the entries of a MapState under one key | namespace): a B+tree
 * over the user keys (the key bytes after the map's prefix) whose inner nodes are {@link
 * MapNodePage}s of separators and whose leaves are bucket chains ({@link Chains}) of the map's
 * entries. Everything is in pages, so a map index is compressed, counted and spilled like every
 * other page; its root is a {@link MapRoot} record in the table's bucket chain, under the map's
 * prefix.
 *
 * <pre>
 *   main chain:  ... [prefix -> MapRoot{entries, top, height, blobEntries, overflowPages}] ...
 *                                    |
 *   inner nodes:          [ child0 | "k" c1 | "q" c2 ]            (height 1 and up)
 *                           /          |         \
 *   leaves:     bucket page     bucket page     bucket page       keys < "k", ["k","q"), >= "q"
 *
 *   locate    binary search of each node's separators (unsigned bytes, RocksDB's order) down to
 *             a leaf; in the leaf, the slots are scanned by the user key's hash and tag, as in
 *             any bucket page (the leaf itself is unsorted)
 *   insert    into the leaf's page with room; a full leaf is sorted aside and split at the
 *             middle key whose separator (the shortest prefix of it above its predecessor) is
 *             at most pageSize/8 bytes; the separator goes up, a full node splits in its middle,
 *             a full top grows a new top. A leaf whose keys all share a longer prefix cannot
 *             split and grows an overflow page (counted in the root)
 *   delete    from the leaf; nodes never merge (an emptied leaf is an all-zero page: a
 *             same-filled tag, no memory); the map's last entry frees the whole index
 *   iterate   leaf by leaf in key order: a batch is the leaf holding the cursor (a user key,
 *             inclusive), its entries from the cursor on, and the next cursor is the leaf's
 *             upper separator. Writes between batches cannot make an entry present throughout
 *             be visited twice or missed
 * </pre>
 *
 * <p>A map moves here from its bucket chain when its entries fill half a page of a full chain
 * ({@link BucketIndex}); it stays until its last entry goes. Point operations touch the root's
 * page, one node per level (the top ones stay hot; a level holds hundreds of separators) and one
 * leaf: logarithmic in the map. Invariants (checkInvariants): separators strictly increase within
 * the bounds their parents give, every entry is in the leaf its key leads to, the root's counts
 * agree with the leaves.
 *
 * <p>Touches only its own pages (nodes and leaves, their blobs) through the pager; the root
 * record is read and written by the caller ({@link Root#read}, {@link Root#write}). Not
 * thread-safe.
 */
final class MapIndex {

    /** Levels a tree may have (a bound far above what a 2^31-page store can fill). */
    private static final int MAX_HEIGHT = 40;

    /** A map root in heap form, with where its record is: page, entry and slot index. */
    static final class Root {
        long entries;
        int top;
        int height;
        int blobEntries;
        int overflowPages;
        /** Bytes of the map's prefix: user keys start there. */
        int prefixLength;
        /** The main-chain page and entry offset holding the record, and the entry's slot index. */
        int page;
        int entry;
        int index;

        void read(byte[] p, int at) {
            entries = MapRoot.entries(p, at);
            top = MapRoot.top(p, at);
            height = MapRoot.height(p, at);
            blobEntries = MapRoot.blobEntries(p, at);
            overflowPages = MapRoot.overflowPages(p, at);
        }

        void write(byte[] p, int at) {
            MapRoot.write(p, at, entries, top, height, blobEntries, overflowPages);
        }
    }

    private final Pager pager;
    private final Chains chains;
    private final ChainWalker walker;
    private final int maxSeparator;
    private final byte[] nodeScratch;
    private final ValueView keyView = new ValueView();

    // The path of the last leaf() call: per level from the top, the node and the child taken;
    // and the leaf's upper bound (a separator: its node and index), if it has one.
    private final int[] pathNode = new int[MAX_HEIGHT];
    private final int[] pathChild = new int[MAX_HEIGHT];
    private int upperNode;
    private int upperIndex;

    MapIndex(Pager pager, Chains chains, ChainWalker walker) {
        this.pager = pager;
        this.chains = chains;
        this.walker = walker;
        this.maxSeparator = pager.pageSize() / 8;
        this.nodeScratch = new byte[pager.pageSize()];
    }

    /** The user-key hash kept in a map slot's tag. */
    static int tag(int hash) {
        return hash >>> 16;
    }

    // ==== reading ==================================================================================

    /** The head page of the leaf that holds user key {@code key}; notes the path to it. */
    int leaf(Root r, byte[] key, int offset, int length) {
        int node = r.top;
        upperNode = Pages.NO_PAGE;
        for (int level = 0; level < r.height; level++) {
            byte[] page = pager.page(pager.load(node));
            int child = MapNodePage.childFor(page, key, offset, length);
            pathNode[level] = node;
            pathChild[level] = child;
            if (child < MapNodePage.count(page)) {
                upperNode = node;
                upperIndex = child;
            }
            node = MapNodePage.child(page, child);
        }
        return node;
    }

    /** The upper bound of the leaf the last {@link #leaf} call found (a copy), or null for the last leaf. */
    byte[] upperBound() {
        if (upperNode == Pages.NO_PAGE) {
            return null;
        }
        byte[] page = pager.page(pager.load(upperNode));
        int at = MapNodePage.separatorOffset(page, upperIndex);
        return Arrays.copyOfRange(page, at, at + MapNodePage.separatorLength(page, upperIndex));
    }

    // ==== writing ==================================================================================

    /** A new map index: one empty leaf; the caller writes the root record. */
    Root create(Root r, int prefixLength) {
        int head = chains.newBucket(0);
        pager.unpin(pager.cachedSlot(head));
        r.entries = 0;
        r.top = head;
        r.height = 0;
        r.blobEntries = 0;
        r.overflowPages = 0;
        r.prefixLength = prefixLength;
        return r;
    }

    /**
     * Inserts an entry (its user key's hash {@code hash}; key and value as for {@link
     * Chains#place}) into its leaf, splitting the leaf while it is full. {@code leaf} is the
     * key's leaf if the last {@link #leaf} call found it and the tree has not changed since (the
     * path is still noted), else {@link Pages#NO_PAGE}.
     */
    void insert(Root r, int leaf, int hash, byte[] key, int keyOffset, int keyLength, boolean blobKey,
            long keyChain, byte[] value, int valueOffset, int valueLength, boolean blobValue, long valueChain,
            int needed) {
        int target = room(r, leaf, key, keyOffset + r.prefixLength, keyLength - r.prefixLength, needed);
        chains.place(target, hash, tag(hash), key, keyOffset, keyLength, blobKey, keyChain,
                value, valueOffset, valueLength, blobValue, valueChain);
        counted(r, blobKey || blobValue, 1);
    }

    /**
     * Copies slot {@code index} of {@code from} (a main-chain page, pinned) into the map under
     * {@code hash}; {@code userKey} is its user key (not in a page the pager may reuse).
     */
    void moveIn(Root r, byte[] from, int index, int hash, byte[] userKey, int offset, int length) {
        int target = room(r, Pages.NO_PAGE, userKey, offset, length, BucketPage.neededToCopy(from, index));
        int slot = pager.cachedSlot(target);
        pager.markDirty(slot);
        BucketPage.copyEntry(from, index, pager.page(slot), hash, tag(hash));
        counted(r, BucketPage.hasBlob(from, BucketPage.slotEntry(from, index)), 1);
    }

    /**
     * A page with room for {@code needed} bytes in the leaf of a user key, splitting the leaf
     * while it is full; {@code known} is the leaf if the noted path leads to it, else NO_PAGE.
     */
    private int room(Root r, int known, byte[] key, int offset, int length, int needed) {
        while (true) {
            int head = known != Pages.NO_PAGE ? known : leaf(r, key, offset, length);
            known = Pages.NO_PAGE;
            int target = chains.pageWithRoom(head, needed);
            if (target != Pages.NO_PAGE) {
                return target;
            }
            if (!splitLeaf(r, head)) {
                r.overflowPages++;
                return chains.addOverflowPage(head);
            }
        }
    }

    /** Removes slot {@code index} of {@code pageId} (loaded, in the leaf chain at {@code head}). */
    void remove(Root r, int head, int pageId, int index) {
        byte[] page = pager.page(pager.cachedSlot(pageId));
        boolean blob = BucketPage.hasBlob(page, BucketPage.slotEntry(page, index));
        chains.removeEntry(pageId, index);
        if (chains.unlinkIfEmptyOverflow(head, pageId)) {
            r.overflowPages--;
        }
        counted(r, blob, -1);
    }

    private static void counted(Root r, boolean blob, int entries) {
        r.entries += entries;
        if (blob) {
            r.blobEntries += entries;
        }
    }

    /**
     * Splits the full leaf at {@code head} (the last leaf() found it) at its middle key that has
     * a separator of at most pageSize/8 bytes; returns false if no key has one.
     */
    private boolean splitLeaf(Root r, int head) {
        List<byte[]> copies = chains.copy(head);
        int n = 0;
        for (byte[] copy : copies) {
            n += BucketPage.count(copy);
        }
        byte[][] keys = new byte[n][];
        int[] where = new int[n]; // page << 16 | slot
        for (int p = 0, k = 0; p < copies.size(); p++) {
            byte[] copy = copies.get(p);
            for (int i = 0; i < BucketPage.count(copy); i++, k++) {
                keys[k] = userKey(r, copy, i);
                where[k] = p << 16 | i;
            }
        }
        Integer[] order = new Integer[n];
        for (int k = 0; k < n; k++) {
            order[k] = k;
        }
        Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(keys[a], keys[b]));
        int split = -1;
        int separator = 0;
        for (int delta = 0; delta < n && split < 0; delta++) {
            for (int p : new int[] {n / 2 + delta, n / 2 - delta}) {
                if (p >= 1 && p < n) {
                    int length = separatorLength(keys[order[p - 1]], keys[order[p]]);
                    if (length <= maxSeparator) {
                        split = p;
                        separator = length;
                        break;
                    }
                }
            }
        }
        if (split < 0) {
            return false;
        }
        boolean[][] right = new boolean[copies.size()][];
        for (int p = 0; p < copies.size(); p++) {
            right[p] = new boolean[BucketPage.count(copies.get(p))];
        }
        for (int k = split; k < n; k++) {
            right[where[order[k]] >>> 16][where[order[k]] & 0xffff] = true;
        }
        byte[] sep = Arrays.copyOf(keys[order[split]], separator);
        int sibling = chains.newBucket(0);
        try {
            int overflow = copies.size() - 1;
            chains.split(head, sibling, (page, copy, index) -> right[page][index]);
            r.overflowPages += chains.overflowPages(head) + chains.overflowPages(sibling) - overflow;
        } finally {
            pager.unpin(pager.cachedSlot(sibling));
        }
        insertSeparator(r, r.height - 1, sep, sibling);
        return true;
    }

    /** The user key of slot {@code index} of a leaf page (or a copy of one), as a new array. */
    byte[] userKey(Root r, byte[] page, int index) {
        int entry = BucketPage.slotEntry(page, index);
        if (BucketPage.isKeyBlob(page, entry)) {
            walker.readKey(page, entry, keyView);
            return Arrays.copyOfRange(keyView.array(), keyView.offset() + r.prefixLength,
                    keyView.offset() + keyView.length());
        }
        int at = BucketPage.entryKeyOffset(entry);
        return Arrays.copyOfRange(page, at + r.prefixLength, at + BucketPage.entryKeyLength(page, entry));
    }

    /** The length of the shortest prefix of {@code high} that sorts above {@code low} ({@code low < high}). */
    static int separatorLength(byte[] low, byte[] high) {
        int common = Arrays.mismatch(low, high);
        return common + 1; // low < high: they differ at common, or low ends there
    }

    /**
     * Inserts separator {@code sep} with the new right child {@code child} into the node at
     * {@code level} of the last path (after the child taken there); splits a full node and
     * carries its middle separator up; at level -1, grows a new top.
     */
    private void insertSeparator(Root r, int level, byte[] sep, int child) {
        if (level < 0) {
            if (r.height == MAX_HEIGHT) {
                throw new IllegalStateException("a map index reached " + MAX_HEIGHT + " levels: the page store is corrupt");
            }
            int top = pager.newPage(0);
            int slot = pager.cachedSlot(top);
            try {
                MapNodePage.init(pager.page(slot), r.top);
                MapNodePage.insert(pager.page(slot), 1, sep, 0, sep.length, child, nodeScratch);
            } finally {
                pager.unpin(slot);
            }
            r.top = top;
            r.height++;
            return;
        }
        int node = pathNode[level];
        int position = pathChild[level] + 1;
        int slot = pager.load(node);
        if (MapNodePage.hasRoom(pager.page(slot), sep.length)) {
            pager.markDirty(slot);
            MapNodePage.insert(pager.page(slot), position, sep, 0, sep.length, child, nodeScratch);
            return;
        }
        // split by bytes, so that the half the separator goes to has room for it; both halves are
        // dirty and unpinned before the middle separator goes up (a cascade pins two pages at most)
        byte[] up;
        int right;
        pager.pin(slot);
        try {
            right = pager.newPage(0);
            int rightSlot = pager.cachedSlot(right);
            try {
                byte[] page = pager.page(slot);
                pager.markDirty(slot);
                int mid = MapNodePage.middleByBytes(page);
                int at = MapNodePage.separatorOffset(page, mid);
                up = Arrays.copyOfRange(page, at, at + MapNodePage.separatorLength(page, mid));
                MapNodePage.splitInto(page, mid, pager.page(rightSlot), nodeScratch);
                if (position <= mid + 1) {
                    MapNodePage.insert(page, position, sep, 0, sep.length, child, nodeScratch);
                } else {
                    MapNodePage.insert(pager.page(rightSlot), position - mid - 1, sep, 0, sep.length, child,
                            nodeScratch);
                }
            } finally {
                pager.unpin(rightSlot);
            }
        } finally {
            pager.unpin(slot);
        }
        insertSeparator(r, level - 1, up, right);
    }

    /**
     * Frees the whole index: its nodes are read (to find the leaves); a leaf is read only if
     * entries have blobs (to free them) or some leaf has overflow pages (to find them).
     */
    void free(Root r) {
        boolean withBlobs = r.blobEntries > 0;
        boolean readLeaves = withBlobs || r.overflowPages > 0;
        walker.forEachMapLeaf(r.top, r.height, new ChainWalker.MapVisitor() {
            @Override
            public void leaf(int head) {
                if (readLeaves) {
                    chains.free(head, withBlobs, null);
                } else {
                    pager.freePage(head);
                }
            }

            @Override
            public void node(int pageId) {
                pager.freePage(pageId);
            }
        });
    }

    // ==== checks ===================================================================================

    /**
     * Checks a map index against its root: separators strictly increase within the bounds their
     * parents give, every entry of a leaf lies in the leaf's bounds with its hash's tag and is
     * found again from the top, no map root is inside, and the root's counts agree.
     */
    void checkInvariants(Root r, String table) {
        long[] counts = new long[3];
        checkNode(r, table, r.top, r.height, null, null, counts);
        if (counts[0] != r.entries || counts[1] != r.blobEntries || counts[2] != r.overflowPages || counts[0] == 0) {
            throw new IllegalStateException("table " + table + ": map root counts " + r.entries + " entries, "
                    + r.blobEntries + " with blobs, " + r.overflowPages + " overflow pages; its leaves hold "
                    + counts[0] + ", " + counts[1] + ", " + counts[2] + " (an empty map has no index)");
        }
    }

    private void checkNode(Root r, String table, int pageId, int height, byte[] low, byte[] high, long[] counts) {
        if (!pager.isLive(pageId)) {
            throw new IllegalStateException("table " + table + ": a map index names freed page " + pageId);
        }
        if (height == 0) {
            checkLeaf(r, table, pageId, low, high, counts);
            return;
        }
        byte[] page = pager.page(pager.load(pageId)).clone();
        int count = MapNodePage.count(page);
        byte[] previous = low;
        for (int i = 0; i <= count; i++) {
            byte[] next = high;
            if (i < count) {
                int at = MapNodePage.separatorOffset(page, i);
                next = Arrays.copyOfRange(page, at, at + MapNodePage.separatorLength(page, i));
                if ((previous != null && Arrays.compareUnsigned(previous, next) >= 0)
                        || (high != null && Arrays.compareUnsigned(next, high) >= 0)) {
                    throw new IllegalStateException("table " + table + ": map node separators out of order");
                }
            }
            checkNode(r, table, MapNodePage.child(page, i), height - 1, previous, next, counts);
            previous = next;
        }
    }

    private void checkLeaf(Root r, String table, int head, byte[] low, byte[] high, long[] counts) {
        for (int pageId = head; pageId != Pages.NO_PAGE; ) {
            byte[] page = pager.page(pager.load(pageId)).clone();
            if (pageId != head) {
                counts[2]++;
            }
            for (int i = 0; i < BucketPage.count(page); i++) {
                int entry = BucketPage.slotEntry(page, i);
                byte[] key = userKey(r, page, i);
                if (BucketPage.slotKeyTag(page, i) != tag(BucketPage.slotPrefixHash(page, i))
                        || BucketPage.isMapRoot(page, entry)
                        || (low != null && Arrays.compareUnsigned(key, low) < 0)
                        || (high != null && Arrays.compareUnsigned(key, high) >= 0)
                        || leaf(r, key, 0, key.length) != head) {
                    throw new IllegalStateException("table " + table + ": a map entry is outside its leaf's bounds,"
                            + " has a wrong tag or is a root");
                }
                counts[0]++;
                counts[1] += BucketPage.hasBlob(page, entry) ? 1 : 0;
            }
            pageId = Pages.next(page);
        }
    }
}

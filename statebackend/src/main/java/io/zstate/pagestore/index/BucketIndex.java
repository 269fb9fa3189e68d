package io.zstate.pagestore.index;

import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.ValueView;
import io.zstate.pagestore.layout.BlobRef;
import io.zstate.pagestore.layout.BucketPage;
import io.zstate.pagestore.layout.Pages;
import io.zstate.pagestore.tier.Pager;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The bucket index: per table and key-group, extendible hashing over the key's prefix (key |
 * namespace) into chains of slotted {@link BucketPage}s, whose pages the {@link Pager} keeps.
 *
 * <pre>
 * Algorithm:
 *   directory[prefixHash & (2^depth - 1)] -> bucket page -> overflow pages (a chain)
 *   locate   hash the prefix once, search the chain's pages by hash and key tag (BucketPage.find)
 *   insert   into the first page of the chain with room (compacting a page in place if its
 *            garbage makes room); a full chain splits on its next hash bit (Directory.split:
 *            the chain is copied aside, reset, and its entries redistributed over it and a new
 *            sibling), unless every entry shares the new entry's prefix hash (a large MapState)
 *            or the directory is at its bound: then the chain grows an overflow page
 *   delete   remove the slot; an overflow page left empty by a delete is unlinked and freed (a
 *            chain's head stays, and an empty bucket page is all zeros: a same-filled tag, no
 *            memory). A put or append that moves an entry can leave an overflow page empty and
 *            linked until the next split or clear (it costs its pool object, not correctness)
 *   values   up to half a page with the key inline; larger ones in blob chains (Blobs)
 *   keys     inline unless they would take more than half a page with a blob reference for the
 *            value: then in a blob chain too, found by hash and tag and compared by reading it
 *
 * Invariants (checkInvariants, with the pager's): every directory entry reaches a live bucket;
 * directory size, depth, bucket count and bound agree (Directory).
 * </pre>
 *
 * <p>Touches only the pager's page interface (load, pin, markDirty, newPage, freePage, depth); it
 * never learns which tier a page came from. Not thread-safe: the store's lock guards it.
 */
public final class BucketIndex {

    private final Pager pager;
    private final Tables tables;
    private final Blobs blobs;
    private final ChainWalker walker;
    private final int maxInlineEntry;
    private final byte[] compactScratch;
    private byte[] keyBuffer = new byte[256];
    /** A blob key being compared during locate. */
    private final ValueView keyView = new ValueView();
    /** An inline value and the bytes appended to it, on their way back in. */
    private byte[] appendBuffer;

    // What the last locate() found: the key's hashes, and its page and slot if present.
    private int foundHash;
    private int foundTag;
    private int foundPage;
    private int foundIndex;

    public BucketIndex(Pager pager, int firstKeyGroup, int numberOfKeyGroups) {
        this.pager = pager;
        this.tables = new Tables(firstKeyGroup, numberOfKeyGroups);
        this.blobs = new Blobs(pager);
        this.walker = new ChainWalker(new LivePages(pager), pager.pageSize());
        this.maxInlineEntry = pager.pageSize() / 2;
        this.compactScratch = new byte[pager.pageSize()];
        this.appendBuffer = new byte[pager.pageSize()];
    }

    // ==== tables and argument checks ===============================================================

    public int createTable(String name) {
        return tables.create(name);
    }

    public String tableName(int table) {
        return tables.name(table);
    }

    /** Checks a table and key-group before anything is touched. */
    public void check(int table, int keyGroup) {
        tables.check(table, keyGroup);
    }

    /** Checks a key for a write before anything is touched. Keys of any length are taken. */
    public void checkKey(int keyLength, int prefixLength) {
        if (prefixLength < 0 || prefixLength > keyLength) {
            throw new IllegalArgumentException(
                    "prefix of " + prefixLength + " bytes does not fit a key of " + keyLength + " bytes");
        }
    }

    /** A copy of every directory, for a frozen view: [table][key-group index] -> bucket heads. */
    public int[][][] copyDirectories() {
        return tables.copy();
    }

    // ==== point operations =========================================================================

    /**
     * Looks a key up; if it exists, {@code out} holds its value.
     *
     * @param prefixLength how many leading bytes of the key place it (key | namespace); the rest
     *     (a map's user key) only distinguishes entries within the prefix
     */
    public boolean get(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            ValueView out) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null || !locate(d, key, keyOffset, keyLength, prefixLength)) {
            return false;
        }
        byte[] page = pager.page(pager.cachedSlot(foundPage));
        walker.readValue(page, BucketPage.slotEntry(page, foundIndex), out);
        return true;
    }

    /** Inserts or replaces a key's value. */
    public void put(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        Directory d = directory(table, keyGroup);
        if (locate(d, key, keyOffset, keyLength, prefixLength)) {
            int slot = pager.cachedSlot(foundPage);
            byte[] page = pager.page(slot);
            int entry = BucketPage.slotEntry(page, foundIndex);
            if (BucketPage.entryValueWord(page, entry) == valueLength && !isBlobSize(keyLength, valueLength)) {
                pager.markDirty(slot);
                System.arraycopy(value, valueOffset, page, BucketPage.entryValueOffset(page, entry), valueLength);
                return;
            }
            removeEntry(foundPage, foundIndex);
        }
        insert(d, foundHash, foundTag, key, keyOffset, keyLength, value, valueOffset, valueLength);
    }

    /**
     * Appends bytes to a key's value (ListState's merge), creating the key if absent. A value that
     * outgrows half a page moves to blob pages; appending to a blob writes only its tail.
     */
    public void append(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        Directory d = directory(table, keyGroup);
        if (!locate(d, key, keyOffset, keyLength, prefixLength)) {
            insert(d, foundHash, foundTag, key, keyOffset, keyLength, value, valueOffset, valueLength);
            return;
        }
        int hash = foundHash;
        int tag = foundTag;
        int slot = pager.cachedSlot(foundPage);
        byte[] page = pager.page(slot);
        int entry = BucketPage.slotEntry(page, foundIndex);
        int word = BucketPage.entryValueWord(page, entry);
        if (word == BucketPage.BLOB) {
            pager.pin(slot);
            try {
                blobs.append(slot, entry, value, valueOffset, valueLength);
            } finally {
                pager.unpin(slot);
            }
            return;
        }
        // inline: old value + new bytes, re-inserted (as a blob if it outgrew half a page)
        int total = word + valueLength;
        if (appendBuffer.length < total) {
            appendBuffer = new byte[Math.max(total, appendBuffer.length * 2)];
        }
        byte[] combined = appendBuffer;
        System.arraycopy(page, BucketPage.entryValueOffset(page, entry), combined, 0, word);
        System.arraycopy(value, valueOffset, combined, word, valueLength);
        removeEntry(foundPage, foundIndex);
        insert(d, hash, tag, key, keyOffset, keyLength, combined, 0, total);
    }

    /** Removes a key; returns whether it existed. */
    public boolean delete(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null || !locate(d, key, keyOffset, keyLength, prefixLength)) {
            return false;
        }
        int pageId = foundPage;
        removeEntry(pageId, foundIndex);
        unlinkIfEmptyOverflow(d, foundHash, pageId);
        return true;
    }

    // ==== iteration and clearing ===================================================================

    /** Visits every entry whose key starts with {@code prefix} (a MapState's entries). */
    public void forEachWithPrefix(int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength,
            EntryVisitor visitor) {
        Directory d = tables.directory(table, keyGroup);
        if (d != null) {
            int hash = Hashing.hash(prefix, prefixOffset, prefixLength, tables.seed(table));
            walker.forEachWithPrefix(d.head(hash), hash, prefix, prefixOffset, prefixLength, visitor);
        }
    }

    /** Visits every entry of one key-group of a table. */
    public void forEachInKeyGroup(int table, int keyGroup, EntryVisitor visitor) {
        Directory d = tables.directory(table, keyGroup);
        if (d != null) {
            walker.forEachInDirectory(d.pages, visitor);
        }
    }

    /** Removes every entry of a table and frees its pages. */
    public void clear(int table) {
        Directory[] groups = tables.directories(table);
        for (int g = 0; g < groups.length; g++) {
            Directory d = groups[g];
            if (d == null) {
                continue;
            }
            for (int head : d.pages) {
                if (pager.isLive(head)) { // else freed at an earlier index of the same bucket
                    freeChain(head, true);
                }
            }
            groups[g] = null;
        }
    }

    // ==== bucket mechanics =========================================================================

    private Directory directory(int table, int keyGroup) {
        Directory d = tables.directory(table, keyGroup);
        if (d == null) {
            int head = newBucket(0);
            pager.unpin(pager.cachedSlot(head));
            d = new Directory(head, tables.seed(table));
            tables.directory(table, keyGroup, d);
        }
        return d;
    }

    /** A new empty bucket page, dirty and pinned. */
    private int newBucket(int localDepth) {
        int pageId = pager.newPage(localDepth);
        BucketPage.init(pager.page(pager.cachedSlot(pageId)));
        return pageId;
    }

    /**
     * Hashes a key and searches its bucket chain once; on success the key's page is in the cache
     * and {@code foundPage}/{@code foundIndex} say where it is. Always sets the hashes.
     */
    private boolean locate(Directory d, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        int hash = Hashing.hash(key, keyOffset, prefixLength, d.seed);
        int tag = keyLength == prefixLength
                ? 0
                : Hashing.hash(key, keyOffset + prefixLength, keyLength - prefixLength, d.seed) & 0xffff;
        foundHash = hash;
        foundTag = tag;
        boolean blobKey = isKeyBlobSize(keyLength);
        for (int pageId = d.head(hash); pageId != Pages.NO_PAGE; ) {
            int slot = pager.load(pageId);
            byte[] page = pager.page(slot);
            int index = blobKey
                    ? findBlobKey(slot, page, hash, tag, key, keyOffset, keyLength)
                    : BucketPage.find(page, hash, tag, key, keyOffset, keyLength);
            if (index >= 0) {
                foundPage = pageId;
                foundIndex = index;
                return true;
            }
            pageId = Pages.next(page);
        }
        foundPage = Pages.NO_PAGE;
        foundIndex = -1;
        return false;
    }

    /**
     * The slot of a key kept in a blob, or -1: slots whose hashes and key length match are
     * compared by reading their key blob (the bucket page pinned meanwhile).
     */
    private int findBlobKey(int slot, byte[] page, int hash, int tag, byte[] key, int keyOffset, int keyLength) {
        int count = BucketPage.count(page);
        for (int i = 0; i < count; i++) {
            int entry = BucketPage.slotEntry(page, i);
            if (BucketPage.slotPrefixHash(page, i) != hash || BucketPage.slotKeyTag(page, i) != tag
                    || !BucketPage.isKeyBlob(page, entry)
                    || BlobRef.length(page, BucketPage.entryKeyOffset(entry)) != keyLength) {
                continue;
            }
            pager.pin(slot);
            try {
                walker.readKey(page, entry, keyView);
            } finally {
                pager.unpin(slot);
            }
            if (Arrays.equals(keyView.array(), keyView.offset(), keyView.offset() + keyLength,
                    key, keyOffset, keyOffset + keyLength)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Whether a key lives in a blob: when, inline, it would take more than half a page even with a
     * blob reference for its value. The same key always gets the same form.
     */
    private boolean isKeyBlobSize(int keyLength) {
        return BucketPage.needed(keyLength, BlobRef.SIZE) > maxInlineEntry;
    }

    /** Whether a value lives in a blob: when its entry, with the key as stored, would take more than half a page. */
    private boolean isBlobSize(int keyLength, int valueLength) {
        return BucketPage.needed(isKeyBlobSize(keyLength) ? BlobRef.SIZE : keyLength, valueLength) > maxInlineEntry;
    }

    private void insert(Directory d, int hash, int tag, byte[] key, int keyOffset, int keyLength,
            byte[] value, int valueOffset, int valueLength) {
        boolean blobKey = isKeyBlobSize(keyLength);
        boolean blob = isBlobSize(keyLength, valueLength);
        int keyBytes = blobKey ? BlobRef.SIZE : keyLength;
        int valueBytes = blob ? BlobRef.SIZE : valueLength;
        long keyChain = 0;
        long blobChain = 0;
        if (blobKey || blob) {
            // copy the key: writing a blob may evict the page the caller's key came from
            if (keyBuffer.length < keyLength) {
                keyBuffer = new byte[Math.max(keyLength, keyBuffer.length * 2)];
            }
            System.arraycopy(key, keyOffset, keyBuffer, 0, keyLength);
            key = keyBuffer;
            keyOffset = 0;
            if (blobKey) {
                keyChain = blobs.write(key, 0, keyLength);
            }
            if (blob) {
                blobChain = blobs.write(value, valueOffset, valueLength);
            }
        }
        int needed = BucketPage.needed(keyBytes, valueBytes);
        while (true) {
            int head = d.head(hash);
            int target = pageWithRoom(head, needed);
            if (target == Pages.NO_PAGE) {
                if (splittable(d, head, hash)) {
                    split(d, hash);
                    continue;
                }
                target = addOverflowPage(head);
            }
            int slot = pager.cachedSlot(target);
            byte[] page = pager.page(slot);
            pager.markDirty(slot);
            int valueWord = blob ? BucketPage.BLOB : valueLength;
            int entry = blobKey
                    ? BucketPage.insertBlobKey(page, hash, tag, keyLength, (int) keyChain, (int) (keyChain >>> 32),
                            valueWord, valueBytes)
                    : BucketPage.insert(page, hash, tag, key, keyOffset, keyLength, valueWord, valueBytes);
            int at = BucketPage.entryValueOffset(page, entry);
            if (blob) {
                BlobRef.write(page, at, valueLength, (int) blobChain, (int) (blobChain >>> 32));
            } else {
                System.arraycopy(value, valueOffset, page, at, valueLength);
            }
            return;
        }
    }

    /** A page of the chain with room for {@code needed} bytes (compacting one if that makes room). */
    private int pageWithRoom(int pageId, int needed) {
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

    /** A full bucket can split unless every entry in its chain has the new entry's prefix hash. */
    private boolean splittable(Directory d, int head, int hash) {
        if (!d.maySplit(pager.depth(head))) {
            return false;
        }
        for (int pageId = head; pageId != Pages.NO_PAGE; ) {
            byte[] page = pager.page(pager.load(pageId));
            int count = BucketPage.count(page);
            for (int i = 0; i < count; i++) {
                if (BucketPage.slotPrefixHash(page, i) != hash) {
                    return true;
                }
            }
            pageId = Pages.next(page);
        }
        return false;
    }

    /**
     * Splits the bucket that {@code hash} maps to on its next hash bit: its entries (overflow pages
     * included) are redistributed over the old head page and one new page.
     */
    private void split(Directory d, int hash) {
        int head = d.head(hash);
        int localDepth = pager.depth(head);
        // copy the chain aside, then free its overflow pages and reset the head
        List<byte[]> copies = new ArrayList<>();
        for (int pageId = head; pageId != Pages.NO_PAGE; ) {
            byte[] page = pager.page(pager.load(pageId));
            copies.add(page.clone());
            pageId = Pages.next(page);
        }
        int headSlot = pager.load(head);
        pager.pin(headSlot);
        try {
            int sibling = newBucket(localDepth + 1);
            int siblingSlot = pager.cachedSlot(sibling);
            try {
                int overflow = Pages.next(copies.get(0));
                if (overflow != Pages.NO_PAGE) {
                    freeChain(overflow, false);
                }
                pager.markDirty(headSlot);
                BucketPage.init(pager.page(headSlot));
                pager.depth(head, localDepth + 1);
                d.split(hash, localDepth, sibling);
                int bit = 1 << localDepth;
                for (byte[] copy : copies) {
                    int count = BucketPage.count(copy);
                    for (int i = 0; i < count; i++) {
                        reinsert((BucketPage.slotPrefixHash(copy, i) & bit) != 0 ? sibling : head, copy, i);
                    }
                }
            } finally {
                pager.unpin(siblingSlot);
            }
        } finally {
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

    /** Appends an empty overflow page to the chain starting at {@code head}; returns it, loaded. */
    private int addOverflowPage(int head) {
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

    /** Removes slot {@code index} of a loaded page, freeing the key's and value's blob pages if any. */
    private void removeEntry(int pageId, int index) {
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

    /** Frees an overflow page that became empty, unlinking it from its chain. */
    private void unlinkIfEmptyOverflow(Directory d, int hash, int pageId) {
        int head = d.head(hash);
        if (pageId == head || BucketPage.count(pager.page(pager.load(pageId))) > 0) {
            return;
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
                return;
            }
            prev = next;
        }
    }

    /** Frees a bucket chain; with {@code withBlobs}, the blobs its entries reference too. */
    private void freeChain(int pageId, boolean withBlobs) {
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
                    }
                } finally {
                    pager.unpin(slot);
                }
            }
            pager.freePage(pageId);
            pageId = next;
        }
    }

    // ==== observability and checks =================================================================

    /** Heap bytes of the directories. */
    public long heapBytes() {
        return tables.heapBytes();
    }

    public void checkInvariants() {
        tables.checkInvariants(pager::isLive);
    }
}

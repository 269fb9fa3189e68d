package io.zstate.pagestore.tier;

import io.zstate.pagestore.layout.SameFilled;
import io.zstate.pagestore.layout.StoredPage;

/**
 * Copies of dirty pages on their way from the page cache to the pool, compressed by the
 * background reaper's thread: kswapd's half of the store path, handed over without a lock.
 *
 * <pre>
 *            installed        compressed        submitted
 *   ... ------|=================|=================|-------------- ... (indices grow; slot = index % capacity)
 *              compressed, for    submitted, for
 *              the task to        the reaper to
 *              install            compress
 *
 *   submit   (task, store's lock)  copies a dirty cache slot's page with its write stamp; publishes
 *                                  submitted (volatile)
 *   compress (reaper, no lock)     each submitted copy becomes what the store path would keep: a
 *                                  same-filled word, LZ4 or zstd bytes, or RAW (it does not compress, or the
 *                                  compressor failed); publishes compressed (volatile)
 *   install  (task, store's lock)  the pager keeps each compressed copy whose slot still holds the
 *                                  same page with the same stamp, and marks the slot clean
 * </pre>
 *
 * One producer and one consumer each way: the task (under the store's lock) submits and
 * installs, one reaper thread compresses. The volatile indices order every entry's bytes
 * (happens-before through the index written after them and read before them). The task never
 * waits for the reaper: a full ring refuses submissions, and an entry not yet compressed is
 * installed later. Heap: capacity times (page size + the largest stored page), counted in the
 * pager's heap bytes.
 */
public final class CleaningRing {

    static final byte SAME = -1;

    private final int pageSize;
    private final double bouncerMinRatio;
    private final PageCodec codec;
    private final int mask;
    private final int[] slots;
    private final int[] pageIds;
    private final long[] stamps;
    private final byte[][] copies;
    /** Stored bytes per entry: a StoredPage header's room, then the page's bytes (LZ4, zstd or raw). */
    private final byte[][] stored;
    private final int[] lengths;
    private final byte[] codecs;
    private final long[] words;
    private volatile long submitted;
    private volatile long compressed;
    private long installed; // the task's alone
    /** The pager is closed: the reaper forgets this ring. */
    private volatile boolean closed;

    CleaningRing(int capacity, int pageSize, int maxStored, double bouncerMinRatio, PageCodec codec) {
        if (Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("a cleaning ring's capacity must be a power of two, not " + capacity);
        }
        this.pageSize = pageSize;
        this.bouncerMinRatio = bouncerMinRatio;
        this.codec = codec;
        this.mask = capacity - 1;
        slots = new int[capacity];
        pageIds = new int[capacity];
        stamps = new long[capacity];
        copies = new byte[capacity][pageSize];
        stored = new byte[capacity][maxStored];
        lengths = new int[capacity];
        codecs = new byte[capacity];
        words = new long[capacity];
    }

    /** Heap bytes of the copies and their stored forms. */
    long heapBytes() {
        return (long) slots.length * (pageSize + stored[0].length + 2 * 16 + 4 + 4 + 8 + 4 + 1 + 8);
    }

    // ==== the task's side (under the store's lock) ===============================================

    /** Whether another page can be submitted. */
    boolean hasRoom() {
        return submitted - installed <= mask;
    }

    /** Submits a cache slot's page for compression; the caller checked {@link #hasRoom}. */
    void submit(int slot, int pageId, long stamp, byte[] page) {
        long index = submitted;
        int i = (int) (index & mask);
        slots[i] = slot;
        pageIds[i] = pageId;
        stamps[i] = stamp;
        System.arraycopy(page, 0, copies[i], 0, pageSize);
        submitted = index + 1; // publishes the entry to the reaper
    }

    /** Entries submitted and not yet compressed. */
    int waiting() {
        return (int) (submitted - compressed);
    }

    /** Entries compressed and not yet installed. */
    int readyToInstall() {
        return (int) (compressed - installed);
    }

    /** The next entry to install (valid while {@link #readyToInstall} is positive). */
    int next() {
        return (int) (installed & mask);
    }

    /** The next entry is installed (or dropped); its place is free for a submission. */
    void installedOne() {
        installed++;
    }

    /** Whether {@code page} still holds exactly the bytes entry {@code i} copied. */
    boolean sameAsCopy(int i, byte[] page) {
        return java.util.Arrays.equals(copies[i], 0, pageSize, page, 0, pageSize);
    }

    int slot(int i) {
        return slots[i];
    }

    int pageId(int i) {
        return pageIds[i];
    }

    long stamp(int i) {
        return stamps[i];
    }

    byte codec(int i) {
        return codecs[i];
    }

    /** What the compressor answered for entry {@code i} (PageCodec.encode's result). */
    int length(int i) {
        return lengths[i];
    }

    long word(int i) {
        return words[i];
    }

    /** Entry {@code i}'s stored bytes: header room, then its page bytes. */
    byte[] stored(int i) {
        return stored[i];
    }

    // ==== the reaper's side (no lock) ============================================================

    /** Whether the pager was closed: the reaper forgets the ring. */
    public boolean isClosed() {
        return closed;
    }

    /** Closes the ring and its codec (waiting for a compression the reaper is running). */
    void close() {
        closed = true;
        codec.close();
    }

    /** Whether entries wait to be compressed. */
    public boolean hasWork() {
        return compressed != submitted;
    }

    /**
     * Compresses every entry submitted so far, as the store path does (LZ4, the same-filled
     * test; a compressor that fails makes a RAW entry); returns how many.
     */
    public int compressSubmitted() {
        long from = compressed;
        long to = submitted;
        synchronized (codec) { // the pager's close frees the codec's native contexts under this monitor
            if (closed) {
                return 0;
            }
            for (long index = from; index < to; index++) {
                compress((int) (index & mask));
                compressed = index + 1; // publishes the entry back to the task
            }
        }
        return (int) (to - from);
    }

    private void compress(int i) {
        byte[] page = copies[i];
        if (SameFilled.is(page)) {
            codecs[i] = SAME;
            words[i] = SameFilled.word(page);
            return;
        }
        lengths[i] = codec.encode(page, stored[i], StoredPage.HEADER, bouncerMinRatio);
        codecs[i] = codec.encodedCodec(lengths[i], bouncerMinRatio);
    }
}

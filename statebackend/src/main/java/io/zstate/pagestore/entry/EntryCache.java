package io.zstate.pagestore.entry;

import io.zstate.pagestore.PageStoreConfig;
import io.zstate.pagestore.ValueView;
import io.zstate.pagestore.index.Hashing;
import io.zstate.pagestore.layout.EntryRecord;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Hot entries at heap speed: a record-level cache in front of the pages, so a hot key stops
 * paying for its cold neighbours (a page cache can only keep whole pages, and hot keys are
 * hashed over nearly all of them). FASTER's HybridLog in small: entries are records in a
 * circular log, found through an open-addressing index; a write changes a record in place (same
 * length) or appends a new one, and is written into the pages only when its record leaves the
 * log (write-back), so a blind write to a cached key reads no page.
 *
 * <pre>
 *   slots (long[], linear probing, at most 3/4 full): hash << 32 | record position + 1, 0 = empty;
 *         the hash in the slot keeps a probe (and a deletion's shift) out of the log
 *       |
 *       v
 *   log:  ... free ... | head: oldest record ... newest record | tail: free ...   (wraps around)
 *                        |
 *                        +- leaves when room is needed: dead (replaced, removed) -> skipped;
 *                           REFERENCED since the head last passed -> moved to the tail, bit
 *                           cleared (a second chance); else DIRTY -> written back into the pages
 *                           (WriteBack), then unindexed
 * </pre>
 *
 * Algorithm: a read hit sets REFERENCED and points the view at the record; a write to a cached key
 * of the same value length overwrites the value in place, any other write to a cached key appends
 * a record (DIRTY) and unindexes the old one. A key that is not cached is admitted on its second
 * miss (a read the pages answered: a clean record; a write: a dirty one): the first miss only
 * leaves the key in a {@link Doorkeeper} (TinyLFU's: two aging Bloom filters that remember about as
 * many first misses as the cache holds records). Under uniform access a key rarely misses twice
 * before it is forgotten, so the cache does not churn (each admission would cost an eviction,
 * and a write-back for nothing); a hot key is admitted at its second access. A write
 * right after a read miss of the same key (read-modify-write) is not a second miss: its page was
 * just read, so it is written there, and the key is admitted at its next access. A
 * write that is not admitted, and a record that does not fit (over an eighth of the log, or a
 * key-group or table id over 16 bits), is written through by the caller.
 *
 * <p>Admission pays for itself or slows down: a second miss is admitted with probability
 * 2<sup>-shift</sup>, and after every {@value #WINDOW} hits and second misses the window's benefit (hits,
 * a page access saved each; a write right after its key's admission is not one) is set against
 * its cost (a record turning dirty will cost a write-back, two page accesses: it reads a page
 * that is likely cold and dirties it, to be stored again; charged when the record turns dirty,
 * not when it is written back, so a snapshot's flush of every dirty record does not land in
 * one window; and a record leaving the log costs a quarter of a page access). Below break-even the shift grows (to at most {@value
 * #MAX_SHIFT}: one in 64 still admitted, so a workload turning hot is seen), at twice break-even
 * it shrinks. A workload whose keys come back only after the cache has forgotten them (every
 * admission written back unread) so stops admitting; a hot set keeps every admission.
 *
 * <p>Its size follows the same accounts ({@link #sizeWish}): a window in which at least one access
 * in 64, and one miss in 16, missed a key that had left the log unreferenced not long before (a
 * second filter remembers those: ARC's ghost list) while every admission was taken and paid twice
 * over asks for more memory, four
 * windows in a row at the admission's floor ask for less; the owner {@linkplain #resize resizes}
 * it (the page store moves the memory between its page cache and this cache).
 *
 * <p>A cache that pays for nothing sleeps: once it is at its least size and still asks for less
 * ({@link #sizeWish} -1: admissions at their floor for {@value #FLOOR_WINDOWS} windows, or
 * {@value #QUIET_WINDOWS} windows' worth of accesses without the hits and second misses that close
 * one, so that neither hits nor admissions come), its owner puts it to {@linkplain #sleep sleep}:
 * every dirty record is written back and every record forgotten, and the owner passes point
 * accesses by it, showing it one in {@value #SAMPLE_EVERY} ({@link #sample}). A sample only asks
 * the doorkeeper whether the key came before; when at least one sample in {@value #WAKE_REPEATS}
 * repeats in two {@value #SAMPLE_WINDOW}-sample decisions in a row (a Bloom filter's false
 * positives are about 1%; a Zipf-0.99 hot set repeats a third of its samples, keys that come back
 * only after hundreds of thousands of others none) it wakes, admitting every second miss again. A
 * lookup costs a hash and a probe, which a workload without a hot set pays on every access for
 * nothing (the counter example: 0.87x with the cache awake, 2026-12-02).
 *
 * <p>Invariants ({@link #checkInvariants}): a dormant cache holds no record; every LIVE record is
 * indexed exactly once and every index slot points at a LIVE record reachable by probing from its
 * hash; no two LIVE records have the same (table, key-group, key); {@code used} is the bytes of
 * every record and filler between head and tail; the per-table counts of cached and dirty records
 * are exact.
 *
 * <p>What it touches: only its own arrays and, on write-back, the {@link WriteBack} its owner
 * gave it (the page index). The owner must never have a write-back call into this cache. It
 * knows nothing of tiers, pages or snapshots: the page store flushes it before anything reads the
 * pages as a whole (iterations, snapshots) and drops what a range delete removes. Not
 * thread-safe: used under the page store's lock.
 */
public final class EntryCache {

    /** Where a dirty entry goes when it leaves the cache: the page index. */
    public interface WriteBack {
        void write(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, byte[] value,
                int valueOffset, int valueLength);
    }

    /** The smallest cache: a few records of the largest size. */
    public static final long MIN_BYTES = PageStoreConfig.MIN_ENTRY_CACHE_BYTES;
    /** The largest cache: its log's positions are ints. */
    public static final long MAX_BYTES = 1L << 30;

    private static final int LIVE = EntryRecord.LIVE;
    private static final int DIRTY = EntryRecord.DIRTY;
    private static final int REFERENCED = EntryRecord.REFERENCED;
    /** Hits and second misses per admission window. */
    public static final int WINDOW = 4096;
    /** The lowest admission probability: 2^-MAX_SHIFT. */
    static final int MAX_SHIFT = 6;
    /** What a hit saves (a page access), a write-back costs and a record leaving costs, in quarters of a page access. */
    private static final int HIT_BENEFIT = 4;
    private static final int WRITE_BACK_COST = 8;
    private static final int LEAVE_COST = 1;
    /** Windows in a row with admissions at their floor before the cache asks to shrink. */
    static final int FLOOR_WINDOWS = 4;
    /** Windows' worth of accesses ({@code window} each) without a window closing before the cache asks to shrink. */
    static final int QUIET_WINDOWS = 16;
    /** A dormant cache sees one point access in this many ({@link #sample}; fewer with a window under 64). */
    static final int SAMPLE_EVERY = 64;
    /** Samples per decision whether to wake (a window's eighth, at least 64, with a window other than 4,096). */
    static final int SAMPLE_WINDOW = WINDOW / 8;
    /** A dormant cache wakes when at least one sample in this many repeats a key the doorkeeper saw. */
    static final int WAKE_REPEATS = 8;

    // the layout of the current size ({@link #layout}); replaced whole by {@link #resize}
    private long bytes;
    private byte[] log;
    private int capacity;
    private long[] slots;
    private Doorkeeper doorkeeper;
    /** Keys whose records left the log unreferenced: a miss on one is a hit a larger cache had had. */
    private Doorkeeper evicted;
    private int maxRecords;
    private int maxRecordLength;
    private final int seed;
    private final WriteBack writeBack;
    /** Hits and second misses per admission window: {@link #WINDOW}, smaller in tests. */
    private final int window;

    private int head;
    private int tail;
    private int used;
    private int records;
    private int dirty;
    private int foundSlot;
    /** The hash of the key the last call missed reading, if that call was a read miss. */
    private int readMissHash;
    private boolean lastWasReadMiss;
    /** The record the last call admitted, if that call was an admission; else -1. */
    private int admittedAt = -1;
    private int admissionShift;
    private int random;
    private int windowAccesses;
    /** The window's hits and costs, in quarters of a page access. */
    private long windowBenefit;
    private long windowCost;
    /** Misses in this window, and those on keys that left the log unreferenced not long ago. */
    private int windowMisses;
    private int windowGhostHits;
    private int windowsAtFloor;
    /** Misses and writes since the last window closed (a cache without hits or second misses closes none). */
    private long quietAccesses;
    private int sizeWish;
    private boolean dormant;
    private int samples;
    private int sampleRepeats;
    /** Whether the last decision's samples repeated enough: a cache wakes at the second such in a row. */
    private boolean repeatedBefore;
    private long sleeps;
    private long wakes;
    private int[] cachedPerTable = new int[8];
    private int[] dirtyPerTable = new int[8];
    private byte[] scratch = new byte[64];

    private long hits;
    private long misses;
    private long writeBacks;
    private long admissions;
    private long wraps;

    /**
     * A cache of about {@code bytes} bytes (at most {@link #MAX_BYTES}): a quarter for the index,
     * 9-19% for the two filters (16-32 bits a key each, as powers of two round), the rest for the
     * log. The log binds for records of about 25 bytes and more, the index (3/4 full) below that.
     */
    public EntryCache(long bytes, WriteBack writeBack) {
        this(bytes, writeBack, WINDOW);
    }

    /**
     * A cache whose admission windows (and so its {@link #sizeWish}es) come every {@code window}
     * hits and second misses instead of {@value #WINDOW} (tests: a page store's model test resizes
     * it within a few hundred operations).
     */
    public EntryCache(long bytes, WriteBack writeBack, int window) {
        if (window < 1) {
            throw new IllegalArgumentException("an admission window of " + window + " accesses");
        }
        if (bytes < MIN_BYTES) {
            throw new IllegalArgumentException("an entry cache of " + bytes + " bytes is too small: give it at least "
                    + MIN_BYTES);
        }
        layout(bytes);
        this.seed = ThreadLocalRandom.current().nextInt();
        this.random = seed | 1;
        this.writeBack = writeBack;
        this.window = window;
    }

    /** Empty arrays for a cache of {@code bytes} (at most 1 GiB); records and counts are the caller's. */
    private void layout(long bytes) {
        long bounded = Math.min(bytes, MAX_BYTES);
        int slotCount = (int) (bounded / 32);
        this.bytes = bounded;
        this.slots = new long[slotCount];
        this.maxRecords = slotCount / 4 * 3;
        this.doorkeeper = new Doorkeeper(maxRecords / 2);
        this.evicted = new Doorkeeper(maxRecords / 2);
        this.capacity = (int) (bounded - 8L * slotCount - doorkeeper.heapBytes() - evicted.heapBytes()) & ~3;
        this.log = new byte[capacity];
        this.maxRecordLength = Math.min(EntryRecord.MAX_LENGTH, capacity / 8) & ~3;
        forgetRecords();
    }

    /** An empty log and counts (the index's slots are the caller's: fresh, or zeroed). */
    private void forgetRecords() {
        head = 0;
        tail = 0;
        used = 0;
        records = 0;
        dirty = 0;
        java.util.Arrays.fill(cachedPerTable, 0);
        java.util.Arrays.fill(dirtyPerTable, 0);
    }

    // ==== size =====================================================================================

    /** The bytes this cache was sized for (its arrays: {@link #heapBytes}). */
    public long bytes() {
        return bytes;
    }

    /**
     * What the last admission window says of this cache's size: 1 if it would pay for more memory
     * (one access in 64 and one miss in 16 missed a key that had left unreferenced not long before,
     * every admission was taken and the hits paid for the costs twice over), -1 if it pays for
     * none (admissions at their floor for {@value #FLOOR_WINDOWS} windows in a row, or {@value
     * #QUIET_WINDOWS} windows' worth of misses and writes without a window closing), else 0. Its owner {@linkplain #resize resizes} it, or not;
     * at its least size, -1 asks to {@linkplain #sleep sleep}.
     */
    public int sizeWish() {
        return sizeWish;
    }

    /** Forgets the last {@link #sizeWish} (the owner will not resize); the next window asks again. */
    public void keepSize() {
        sizeWish = 0;
    }

    /**
     * Moves every record into arrays for {@code bytes}, oldest first, keeping their flags; in a
     * smaller cache the oldest leave as at any eviction (dirty ones written back), and a record
     * longer than the new cache takes is written back if dirty and dropped. Both filters (the
     * doorkeeper and the evicted keys) start anew; counters and the admission's state carry over.
     * Call between operations: a view a hit returned points into the old log, which is not
     * changed. If a write-back throws, the records not yet moved are lost: the owner must fail
     * (the page store does), as a half-moved cache is not its state before the call.
     */
    public void resize(long bytes) {
        if (bytes < MIN_BYTES) {
            throw new IllegalArgumentException("an entry cache of " + bytes + " bytes is too small: give it at least "
                    + MIN_BYTES);
        }
        byte[] from = log;
        int fromHead = head;
        int fromUsed = used;
        int fromCapacity = capacity;
        layout(bytes);
        sizeWish = 0;
        windowsAtFloor = 0;
        admittedAt = -1;
        lastWasReadMiss = false;
        for (int at = fromHead, left = fromUsed; left > 0;
                left -= EntryRecord.span(from, fromCapacity, at), at = EntryRecord.next(from, fromCapacity, at)) {
            int flags = EntryRecord.isFiller(from, at) ? 0 : EntryRecord.flags(from, at);
            if ((flags & LIVE) == 0) {
                continue;
            }
            int length = EntryRecord.length(from, at);
            if (length <= maxRecordLength) {
                place(from, at, length, flags);
            } else if ((flags & DIRTY) != 0) {
                writeBack(from, at);
            }
        }
    }

    /** Copies a record of another log to the tail and indexes it (its key is not cached here). */
    private void place(byte[] from, int at, int length, int flags) {
        int to = allocate(length);
        System.arraycopy(from, at, log, to, length);
        int table = EntryRecord.table(log, to);
        int hash = EntryRecord.hash(log, to);
        find(hash, table, EntryRecord.keyGroup(log, to), log, EntryRecord.keyOffset(to), EntryRecord.keyLength(log, to));
        index(hash, to, table, flags);
    }

    /** Points the slot {@link #find} just missed at the record at {@code at}, and counts it. */
    private void index(int hash, int at, int table, int flags) {
        slots[foundSlot] = slotEntry(hash, at);
        records++;
        growCounts(table);
        cachedPerTable[table]++;
        if ((flags & DIRTY) != 0) {
            dirty++;
            dirtyPerTable[table]++;
        }
    }

    // ==== point operations =========================================================================

    /** Looks a key up; on a hit {@code out} points at the cached value (valid until the next call). */
    public boolean get(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, ValueView out) {
        int hash = hash(table, key, keyOffset, keyLength);
        int at = find(hash, table, keyGroup, key, keyOffset, keyLength);
        admittedAt = -1;
        if (at < 0) {
            misses++;
            readMissHash = hash;
            lastWasReadMiss = true;
            windowMisses++;
            if (evicted.seen(hash)) {
                windowGhostHits++;
            }
            quiet();
            return false;
        }
        lastWasReadMiss = false;
        hit();
        EntryRecord.flags(log, at, EntryRecord.flags(log, at) | REFERENCED);
        out.set(log, EntryRecord.valueOffset(log, at), EntryRecord.valueLength(log, at));
        return true;
    }

    /**
     * Caches what the pages answered for a key the cache missed ({@code found}: a view into a page,
     * which this may move): a clean record; {@code found} then points at the cached copy. Call
     * right after the miss, with no other call on this cache in between.
     */
    public void admit(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, ValueView found) {
        int valueLength = found.length();
        int length = EntryRecord.lengthFor(keyLength, valueLength);
        if (!fits(table, keyGroup, length)) {
            return;
        }
        // the miss this follows hashed the same key (the contract above)
        int hash = lastWasReadMiss ? readMissHash : hash(table, key, keyOffset, keyLength);
        if (!admits(hash)) {
            return;
        }
        // copy first: making room writes other entries back, which may move the page found points into
        if (scratch.length < valueLength) {
            scratch = new byte[Math.max(valueLength, scratch.length * 2)];
        }
        System.arraycopy(found.array(), found.offset(), scratch, 0, valueLength);
        int at = insert(hash, length, LIVE, table, keyGroup, key, keyOffset, keyLength, scratch, 0, valueLength);
        found.set(log, EntryRecord.valueOffset(log, at), valueLength);
        admittedAt = at;
    }

    /**
     * Writes a key's value into the cache (a dirty record, written into the pages when it leaves).
     *
     * @return false if the entry is not cached (too large, or a key not cached whose first miss
     *     this is): the caller writes it into the pages; any cached copy of the key is gone then
     */
    public boolean put(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, byte[] value,
            int valueOffset, int valueLength) {
        int hash = hash(table, key, keyOffset, keyLength);
        // a write right after a read miss of the same key (read-modify-write): its page was just
        // read and is cached, so the write goes there; the read left the key in the doorkeeper
        boolean afterReadMiss = lastWasReadMiss && readMissHash == hash;
        lastWasReadMiss = false;
        int at = find(hash, table, keyGroup, key, keyOffset, keyLength);
        // the write of a read-modify-write whose read admitted the key: one access, not a hit
        boolean afterAdmission = at >= 0 && at == admittedAt;
        admittedAt = -1;
        boolean wasDirty = false;
        if (at >= 0) {
            int referenced = REFERENCED;
            if (afterAdmission) {
                referenced = 0;
            } else {
                hit();
            }
            int flags = EntryRecord.flags(log, at);
            wasDirty = (flags & DIRTY) != 0;
            if (EntryRecord.valueLength(log, at) == valueLength) {
                System.arraycopy(value, valueOffset, log, EntryRecord.valueOffset(log, at), valueLength);
                if (!wasDirty) {
                    dirty++;
                    dirtyPerTable[table]++;
                    windowCost += WRITE_BACK_COST;
                }
                EntryRecord.flags(log, at, flags | DIRTY | referenced);
                return true;
            }
            unindex(foundSlot, at); // the new value replaces it, dirty or not
        }
        if (at < 0 && !afterReadMiss) {
            windowMisses++;
            if (evicted.seen(hash)) {
                windowGhostHits++;
            }
            quiet();
        }
        int length = EntryRecord.lengthFor(keyLength, valueLength);
        if (!fits(table, keyGroup, length)
                || at < 0 && (afterReadMiss || !admits(hash))) {
            return false;
        }
        insert(hash, length, LIVE | DIRTY, table, keyGroup, key, keyOffset, keyLength, value,
                valueOffset, valueLength);
        if (!wasDirty) {
            windowCost += WRITE_BACK_COST;
        }
        return true;
    }

    /**
     * Forgets a key without writing it back (it is being deleted, or the caller writes the pages).
     *
     * @return -1 if it was not cached, 0 if its record was clean, 1 if dirty
     */
    public int remove(int table, int keyGroup, byte[] key, int keyOffset, int keyLength) {
        lastWasReadMiss = false;
        admittedAt = -1;
        if (records == 0) {
            return -1;
        }
        int at = find(hash(table, key, keyOffset, keyLength), table, keyGroup, key, keyOffset, keyLength);
        if (at < 0) {
            return -1;
        }
        int wasDirty = (EntryRecord.flags(log, at) & DIRTY) != 0 ? 1 : 0;
        unindex(foundSlot, at);
        return wasDirty;
    }

    /** Writes a key back into the pages if its record is dirty, and forgets it (before a merge in the pages). */
    public void evict(int table, int keyGroup, byte[] key, int keyOffset, int keyLength) {
        lastWasReadMiss = false;
        admittedAt = -1;
        if (records == 0) {
            return;
        }
        int at = find(hash(table, key, keyOffset, keyLength), table, keyGroup, key, keyOffset, keyLength);
        if (at < 0) {
            return;
        }
        int slot = foundSlot;
        if ((EntryRecord.flags(log, at) & DIRTY) != 0) {
            writeBack(at);
        }
        unindex(slot, at);
    }

    // ==== whole tables =============================================================================

    // ==== admission ================================================================================

    /** Times the log's tail came round to its start (for tests). */
    long wraps() {
        return wraps;
    }

    /** Keys admitted so far (second misses that passed the admission's sampling). */
    public long admissions() {
        return admissions;
    }

    /** The admission probability now: 1 at first, down to 1/64 while admissions do not pay. */
    public double admissionProbability() {
        return 1.0 / (1 << admissionShift);
    }

    private void hit() {
        hits++;
        windowBenefit += HIT_BENEFIT;
        tick();
    }

    private long windowHits() {
        return windowBenefit / HIT_BENEFIT;
    }

    /** Counts a hit or a second miss; every {@link #window} of them, sets the admission probability. */
    private void tick() {
        if (++windowAccesses == window) {
            boolean paid = windowBenefit > 2 * windowCost;
            boolean allAdmitted = admissionShift == 0;
            if (windowBenefit < windowCost) {
                admissionShift = Math.min(MAX_SHIFT, admissionShift + 1);
            } else if (paid) {
                admissionShift = Math.max(0, admissionShift - 1);
            }
            windowsAtFloor = admissionShift == MAX_SHIFT ? windowsAtFloor + 1 : 0;
            if (windowsAtFloor >= FLOOR_WINDOWS) {
                sizeWish = -1;
            } else if (allAdmitted && paid && 64L * windowGhostHits >= windowHits() + windowMisses
                    && 16L * windowGhostHits >= windowMisses) { // well above the filter's false positives (~1%)
                sizeWish = 1;
            } else {
                sizeWish = 0;
            }
            startWindow();
        }
    }

    /** Zeroes the window's accounts and the quiet count: a window starts. */
    private void startWindow() {
        windowAccesses = 0;
        windowBenefit = 0;
        windowCost = 0;
        windowGhostHits = 0;
        windowMisses = 0;
        quietAccesses = 0;
    }

    /** Counts a miss or write that may close no window; so many of them ask for less memory. */
    private void quiet() {
        if (++quietAccesses >= (long) QUIET_WINDOWS * window) {
            quietAccesses = 0;
            sizeWish = -1;
        }
    }

    // ==== dormancy =================================================================================

    /** Whether the cache sleeps: it holds no record, and its owner passes accesses by it but for samples. */
    public boolean isDormant() {
        return dormant;
    }

    /**
     * Puts the cache to sleep (its owner, when it asks for less at its least size): writes every
     * dirty record back and forgets every record. If a write-back throws, the owner must fail (as
     * at {@link #resize}).
     */
    public void sleep() {
        flush(-1);
        java.util.Arrays.fill(slots, 0L);
        forgetRecords();
        dormant = true;
        sleeps++;
        samples = 0;
        sampleRepeats = 0;
        repeatedBefore = false;
        sizeWish = 0;
        windowsAtFloor = 0;
        quietAccesses = 0;
        lastWasReadMiss = false;
        admittedAt = -1;
    }

    /**
     * Shows a dormant cache one point access: whether its key came before (the doorkeeper's
     * answer, which then remembers it). Every {@value #SAMPLE_WINDOW} samples it decides whether at
     * least one in {@value #WAKE_REPEATS} repeated; at the second such decision in a row it wakes,
     * admitting every second miss again (keys that come twice in quick succession and then not for
     * long, the counter example's, repeat about one sample in fourteen, and reached one in eight in
     * single decisions: it woke and slept eleven times in one run, where two in a row rarely come).
     *
     * @return whether it woke (the access may then go through it)
     */
    public boolean sample(int table, byte[] key, int keyOffset, int keyLength) {
        if (doorkeeper.seenOrRemember(hash(table, key, keyOffset, keyLength))) {
            sampleRepeats++;
        }
        if (++samples < samplesPerDecision()) {
            return false;
        }
        boolean repeated = (long) WAKE_REPEATS * sampleRepeats >= samples;
        samples = 0;
        sampleRepeats = 0;
        boolean wake = repeated && repeatedBefore;
        repeatedBefore = repeated;
        if (wake) {
            repeatedBefore = false;
            dormant = false;
            wakes++;
            admissionShift = 0;
            startWindow();
        }
        return wake;
    }

    /** A dormant cache sees one point access in this many: {@value #SAMPLE_EVERY}, or the window if smaller (tests). */
    public int sampleEvery() {
        return Math.min(SAMPLE_EVERY, window);
    }

    /**
     * Samples per decision whether to wake: a window's eighth ({@value #SAMPLE_WINDOW}), at least 64
     * (with one in {@value #WAKE_REPEATS} to repeat, a decision over fewer would wake on the
     * doorkeeper's false positives alone).
     */
    int samplesPerDecision() {
        return Math.max(64, window / 8);
    }

    /** Times the cache went to sleep. */
    public long sleeps() {
        return sleeps;
    }

    /** Times a dormant cache woke. */
    public long wakes() {
        return wakes;
    }

    /**
     * Whether a key not cached is admitted now: at a miss the doorkeeper has seen before (a first
     * one is remembered there), always at shift 0, else with probability 2^-shift (a xorshift
     * draw; a key not drawn is still remembered, so its next miss is drawn again).
     */
    private boolean admits(int hash) {
        if (!doorkeeper.seenOrRemember(hash)) {
            return false;
        }
        tick();
        if (admissionShift != 0) {
            random ^= random << 13;
            random ^= random >>> 17;
            random ^= random << 5;
            if ((random & ((1 << admissionShift) - 1)) != 0) {
                return false;
            }
        }
        admissions++;
        return true;
    }

    /** Dirty records of a table: a walk over its pages must write them back first ({@link #flush}). */
    public int dirtyEntries(int table) {
        return table < dirtyPerTable.length ? dirtyPerTable[table] : 0;
    }

    /** Cached records of a table. */
    public int cachedEntries(int table) {
        return table < cachedPerTable.length ? cachedPerTable[table] : 0;
    }

    /** All dirty records. */
    public int dirtyEntries() {
        return dirty;
    }

    /** All cached records. */
    public int cachedEntries() {
        return records;
    }

    /** Writes every dirty record of {@code table} (-1: of every table) into the pages; they stay cached, clean. */
    public void flush(int table) {
        if (table < 0 ? dirty == 0 : dirtyEntries(table) == 0) {
            return;
        }
        for (int at = head, left = used; left > 0;
                left -= EntryRecord.span(log, capacity, at), at = EntryRecord.next(log, capacity, at)) {
            int flags = EntryRecord.isFiller(log, at) ? 0 : EntryRecord.flags(log, at);
            if ((flags & (LIVE | DIRTY)) == (LIVE | DIRTY) && (table < 0 || EntryRecord.table(log, at) == table)) {
                writeBack(at);
                EntryRecord.flags(log, at, flags & ~DIRTY);
                dirty--;
                dirtyPerTable[EntryRecord.table(log, at)]--;
            }
        }
    }

    /**
     * Forgets, without writing back, every record of {@code table} (of one key-group whose key
     * starts with {@code prefix}, or all of them when {@code prefix} is null): what a range delete
     * removes from the pages.
     */
    public void drop(int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength) {
        if (cachedEntries(table) == 0) {
            return;
        }
        for (int at = head, left = used; left > 0;
                left -= EntryRecord.span(log, capacity, at), at = EntryRecord.next(log, capacity, at)) {
            if (!EntryRecord.isFiller(log, at) && (EntryRecord.flags(log, at) & LIVE) != 0
                    && EntryRecord.table(log, at) == table
                    && (prefix == null || startsWith(at, keyGroup, prefix, prefixOffset, prefixLength))) {
                unindex(slotOf(at), at);
            }
        }
    }

    private boolean startsWith(int at, int keyGroup, byte[] prefix, int offset, int length) {
        int key = EntryRecord.keyOffset(at);
        return EntryRecord.keyGroup(log, at) == keyGroup && EntryRecord.keyLength(log, at) >= length
                && java.util.Arrays.equals(log, key, key + length, prefix, offset, offset + length);
    }

    // ==== statistics ===============================================================================

    /** Reads and writes that found their key cached. */
    public long hits() {
        return hits;
    }

    /** Reads that did not find their key cached. */
    public long misses() {
        return misses;
    }

    /** Dirty records written into the pages (when they left, or at a flush). */
    public long writeBacks() {
        return writeBacks;
    }

    /** Heap bytes the cache holds: its log and its index, allocated once. */
    public long heapBytes() {
        return (long) log.length + 8L * slots.length + doorkeeper.heapBytes() + evicted.heapBytes() + scratch.length;
    }

    /** Bytes of live and dead records and fillers in the log. */
    public int usedBytes() {
        return used;
    }

    // ==== the log ==================================================================================

    private boolean fits(int table, int keyGroup, int length) {
        return length <= maxRecordLength && table <= 0xffff && keyGroup <= 0xffff;
    }

    private int hash(int table, byte[] key, int offset, int length) {
        return Hashing.hash(key, offset, length, seed ^ table * 0x9e3779b9);
    }

    /** Appends a record (room made first) and indexes it; the key must not be cached. */
    private int insert(int hash, int length, int flags, int table, int keyGroup, byte[] key, int keyOffset,
            int keyLength, byte[] value, int valueOffset, int valueLength) {
        int at = allocate(length);
        EntryRecord.write(log, at, flags, table, keyGroup, hash, key, keyOffset, keyLength, value, valueOffset,
                valueLength);
        // found after making room: write-backs and unindexing moved slots
        if (find(hash, table, keyGroup, key, keyOffset, keyLength) >= 0) {
            throw new IllegalStateException("entry cache: a key inserted twice");
        }
        index(hash, at, table, flags);
        return at;
    }

    /** Room for a record of {@code length} bytes at the tail, evicting from the head as needed. */
    private int allocate(int length) {
        while (true) {
            if (records < maxRecords) {
                int at = reserve(length);
                if (at >= 0) {
                    return at;
                }
            }
            evictHead();
        }
    }

    /**
     * Takes {@code length} contiguous free bytes at the tail (a filler closes the arena's end when
     * they only fit at its start), or returns -1 without changing anything.
     */
    private int reserve(int length) {
        if (used == 0) {
            head = 0;
            tail = 0;
        }
        int at;
        if (tail > head || used == 0) { // free: [tail, capacity) and [0, head)
            if (capacity - tail >= length) {
                at = tail;
            } else if (head >= length) {
                wraps++;
                EntryRecord.writeFiller(log, tail);
                used += capacity - tail;
                at = 0;
            } else {
                return -1;
            }
        } else if (tail < head && head - tail >= length) { // free: [tail, head)
            at = tail;
        } else {
            return -1; // tail == head with used > 0: full
        }
        used += length;
        tail = at + length == capacity ? 0 : at + length;
        if (tail == 0) {
            wraps++;
        }
        return at;
    }

    /**
     * Frees the head record: skipped if dead or a filler; moved to the tail with its REFERENCED bit
     * cleared if it has one and the tail has room; else written back if dirty and unindexed.
     */
    private void evictHead() {
        int at = head;
        if (EntryRecord.isFiller(log, at)) {
            used -= EntryRecord.span(log, capacity, at);
            head = EntryRecord.next(log, capacity, at);
            return;
        }
        int length = EntryRecord.length(log, at);
        int flags = EntryRecord.flags(log, at);
        int slot = -1;
        if ((flags & LIVE) != 0) {
            slot = slotOf(at);
            if ((flags & REFERENCED) == 0 && (flags & DIRTY) != 0) {
                writeBack(at); // first: if it throws, nothing here changed (the store fails)
            }
        }
        used -= length;
        head = EntryRecord.next(log, capacity, at);
        if ((flags & LIVE) == 0) {
            return;
        }
        if ((flags & REFERENCED) != 0) {
            int to = reserve(length);
            if (to >= 0) {
                System.arraycopy(log, at, log, to, length); // regions may overlap: arraycopy copies as if through a buffer
                EntryRecord.flags(log, to, flags & ~REFERENCED);
                slots[slot] = slotEntry(EntryRecord.hash(log, to), to);
                return;
            }
            if ((flags & DIRTY) != 0) {
                writeBack(at); // the bytes at `at` are free but not yet overwritten
            }
        }
        windowCost += LEAVE_COST;
        if ((flags & REFERENCED) == 0) {
            evicted.remember(EntryRecord.hash(log, at));
        }
        unindex(slot, at);
    }

    private void writeBack(int at) {
        writeBack(log, at);
    }

    private void writeBack(byte[] from, int at) {
        int keyLength = EntryRecord.keyLength(from, at);
        writeBack.write(EntryRecord.table(from, at), EntryRecord.keyGroup(from, at), from, EntryRecord.keyOffset(at),
                keyLength, from, EntryRecord.valueOffset(from, at), EntryRecord.valueLength(from, at));
        writeBacks++;
    }

    /** Marks a record dead and removes its index slot. */
    private void unindex(int slot, int at) {
        int flags = EntryRecord.flags(log, at);
        int table = EntryRecord.table(log, at);
        EntryRecord.flags(log, at, 0);
        records--;
        cachedPerTable[table]--;
        if ((flags & DIRTY) != 0) {
            dirty--;
            dirtyPerTable[table]--;
        }
        deleteSlot(slot);
    }

    // ==== the index ================================================================================

    /** The record of a key, or -1; {@link #foundSlot} is its slot, or the empty slot that ended the probe. */
    private int find(int hash, int table, int keyGroup, byte[] key, int keyOffset, int keyLength) {
        for (int i = home(hash); ; i = next(i)) {
            long entry = slots[i];
            if (entry == 0) {
                foundSlot = i;
                return -1;
            }
            if ((int) (entry >>> 32) == hash
                    && EntryRecord.matches(log, (int) entry - 1, hash, table, keyGroup, key, keyOffset, keyLength)) {
                foundSlot = i;
                return (int) entry - 1;
            }
        }
    }

    /** The index slot of the record at {@code at}, found without reading any other record. */
    private int slotOf(int at) {
        for (int i = home(EntryRecord.hash(log, at)); ; i = next(i)) {
            long entry = slots[i];
            if ((int) entry == at + 1) {
                return i;
            }
            if (entry == 0) {
                throw new IllegalStateException("entry cache: a live record at " + at + " is not indexed");
            }
        }
    }

    /** A hash's first slot: the high bits of hash * slots (a range reduction without a division). */
    private int home(int hash) {
        return (int) (((hash & 0xffffffffL) * slots.length) >>> 32);
    }

    private int next(int slot) {
        return slot + 1 == slots.length ? 0 : slot + 1;
    }

    private static long slotEntry(int hash, int at) {
        return (long) hash << 32 | (at + 1);
    }

    /** Linear probing's deletion: later entries of the probe run shift back over the hole. */
    private void deleteSlot(int hole) {
        for (int j = next(hole); slots[j] != 0; j = next(j)) {
            int home = home((int) (slots[j] >>> 32));
            // slots[j] may fill the hole unless its home lies cyclically in (hole, j]
            boolean homeBetween = hole <= j ? home > hole && home <= j : home > hole || home <= j;
            if (!homeBetween) {
                slots[hole] = slots[j];
                hole = j;
            }
        }
        slots[hole] = 0;
    }

    private void growCounts(int table) {
        if (table >= cachedPerTable.length) {
            int size = Math.max(table + 1, cachedPerTable.length * 2);
            cachedPerTable = java.util.Arrays.copyOf(cachedPerTable, size);
            dirtyPerTable = java.util.Arrays.copyOf(dirtyPerTable, size);
        }
    }

    // ==== invariants ===============================================================================

    /** Checks the invariants in the header; throws IllegalStateException naming the first broken one. */
    public void checkInvariants() {
        if (dormant && (records != 0 || used != 0 || dirty != 0)) {
            throw new IllegalStateException("entry cache: dormant with " + records + " records (" + dirty + " dirty), "
                    + used + " bytes used");
        }
        int live = 0;
        int liveDirty = 0;
        int bytes = 0;
        int[] perTable = new int[cachedPerTable.length];
        int[] dirtyTable = new int[cachedPerTable.length];
        for (int at = head, left = used; left > 0;
                left -= EntryRecord.span(log, capacity, at), at = EntryRecord.next(log, capacity, at)) {
            bytes += EntryRecord.span(log, capacity, at);
            if (EntryRecord.isFiller(log, at)) {
                continue;
            }
            int length = EntryRecord.length(log, at);
            if (length < EntryRecord.HEADER || (length & 3) != 0 || at + length > capacity) {
                throw new IllegalStateException("entry cache: a record of " + length + " bytes at " + at);
            }
            int flags = EntryRecord.flags(log, at);
            if ((flags & LIVE) != 0) {
                live++;
                int table = EntryRecord.table(log, at);
                perTable[table]++;
                if ((flags & DIRTY) != 0) {
                    liveDirty++;
                    dirtyTable[table]++;
                }
                slotOf(at); // throws if not indexed
                int keyLength = EntryRecord.keyLength(log, at);
                int other = find(EntryRecord.hash(log, at), table, EntryRecord.keyGroup(log, at), log,
                        EntryRecord.keyOffset(at), keyLength);
                if (other != at) {
                    throw new IllegalStateException("entry cache: the key of the record at " + at
                            + " finds the record at " + other);
                }
            }
        }
        int indexed = 0;
        for (long slot : slots) {
            if (slot != 0) {
                indexed++;
                int at = (int) slot - 1;
                if ((EntryRecord.flags(log, at) & LIVE) == 0 || EntryRecord.hash(log, at) != (int) (slot >>> 32)) {
                    throw new IllegalStateException("entry cache: a slot points at a dead record, or with another"
                            + " hash, at " + at);
                }
            }
        }
        if (bytes != used || live != records || indexed != records || liveDirty != dirty
                || !java.util.Arrays.equals(perTable, cachedPerTable) || !java.util.Arrays.equals(dirtyTable, dirtyPerTable)) {
            throw new IllegalStateException("entry cache: counted " + bytes + " bytes, " + live + " live records ("
                    + liveDirty + " dirty), " + indexed + " slots; kept " + used + " bytes, " + records + " records ("
                    + dirty + " dirty)");
        }
    }
}

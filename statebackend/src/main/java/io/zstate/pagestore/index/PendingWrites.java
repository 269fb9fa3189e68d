package io.zstate.pagestore.index;

/**
 * Writes without a read: a put, append or removal whose bucket's head page is not in the page
 * cache waits here as a record, grouped with the other waiting writes of its bucket, instead of
 * faulting the page in. A bucket's records are applied, in the order they came, through the
 * index's own write path (one fault for all of them) when an operation goes through that bucket,
 * when the buffer needs room (the bucket of the oldest record), and before a walk over whole
 * key-groups reads the pages ({@link #applyAll}); a snapshot leaves them waiting and takes a copy
 * ({@link #copyLog}, {@link #keptBucketIds}: see {@code FrozenWaitingWrites}). With B records waiting over P cold buckets, a fault so
 * serves about 1 + B/P writes instead of one: RocksDB's memtable in small, in front of pages that
 * change in place (a B<sup>ε</sup>-tree's buffer of one level).
 *
 * <p>Writes to RocksDB ({@link Spill}): when room is needed and the oldest record's bucket has its
 * head page in RocksDB, the bucket's records go to RocksDB as they are (one merge under the page's
 * id, which reads nothing) instead of faulting the page in, unless RocksDB already holds as many
 * merges for it as allowed ({@code maxKeptMerges}). The bucket leaves the log's table; a byte per
 * page id counts the merges RocksDB holds for it (a byte a page: a state far larger than memory
 * keeps waiting writes for most of its buckets, so what tells them must be as small as the page
 * table's own bytes). Applying the bucket reads them back first (they are older than any of its
 * records still in the log) and deletes them. So a write to a page in RocksDB costs about what
 * RocksDB's own write costs, and the fault waits for the first read (the B<sup>ε</sup>-tree's
 * flush to the next level, with RocksDB as that level).
 *
 * <pre>
 *   buckets (open addressing, linear probing, at most half full):
 *       bucket head page id + 1 (0 = empty) -> first record, last record, count
 *   kept merges: byte per page id: merges of the bucket's records RocksDB holds (0: none)
 *       |
 *       v
 *   log:  ... free ... | head: oldest record ... newest | tail: free ...   (wraps around at
 *                        wrapEnd; a record never wraps)
 *
 *   record: next (position + 1 of the bucket's next record; 0: its last) i32 | bucket i32 |
 *           table u16 | key-group u16 | op u8 (0: applied) | prefix length u16 | key length u16 |
 *           value length u16 | key | value
 *   in RocksDB: a bucket's records concatenated as they were in the log (next and bucket unused)
 * </pre>
 *
 * Invariants ({@link #checkInvariants}): every record between head and tail that is not applied
 * is in its bucket's list exactly once, the lists in the order the records were added; a
 * bucket's count is its list's length and its last the list's end; the counts add up to the
 * records waiting in the log; the kept-merge bytes that are not 0 count the buckets with records
 * in RocksDB, each at most {@code maxKeptMerges}; the record at head is waiting unless none is;
 * every bucket, in the log or in RocksDB, is a live page (the index applies a bucket's records
 * before anything could free or split it).
 *
 * <p>Size: the log starts at a sixteenth of its most ({@link #START_DIVISOR}, at least {@link
 * #MIN_LOG_BYTES}) and doubles while it pays ({@link #wantsToGrow}): when the buckets applied to
 * make room since the last growth (at least {@value #GROWTH_WINDOW} of them) served at least 1.5
 * writes each, a larger log would gather more; it never shrinks. A job whose writes follow reads
 * of the same key (their bucket's page is then in the cache: nothing waits) never fills it, and
 * keeps its pages.
 *
 * <p>What it touches: only its own arrays, the {@link Applier} it is handed (the index's direct
 * write path), which must never call back into it, and its {@link Spill} (RocksDB, through the
 * pager). Memory: the log is heap, allocated at
 * the first record, its bytes taken from the page cache's by the index (as it grows). Not
 * thread-safe: used under the page store's lock.
 */
final class PendingWrites {

    /** A waiting write, as {@link Applier#apply} receives it. */
    static final int PUT = io.zstate.pagestore.WriteVisitor.PUT;
    static final int APPEND = io.zstate.pagestore.WriteVisitor.APPEND;
    static final int REMOVE = io.zstate.pagestore.WriteVisitor.REMOVE;
    private static final int APPLIED = 0;

    /** Where a bucket's records go when applied: the index's direct write path. */
    interface Applier {
        void apply(int op, int table, int keyGroup, byte[] record, int keyOffset, int keyLength, int prefixLength,
                int valueOffset, int valueLength);
    }

    /**
     * Where the records of a bucket whose head page is in RocksDB go instead of being applied
     * (see the class header): RocksDB, under the bucket's head page id.
     */
    interface Spill {
        /** Whether the bucket's records should go to RocksDB: its head page is there alone. */
        boolean wants(int bucket);

        /** Appends records to what RocksDB keeps for the bucket (a merge: no read), once {@link #commit}. */
        void write(int bucket, byte[] records, int offset, int length);

        /** Writes what {@link #write} sent since the last commit (one RocksDB write batch). */
        void commit();

        /**
         * Reads what RocksDB keeps for the bucket into {@code dst}: the length (larger than {@code
         * dst} if it had too little room: ask again), -1 if none.
         */
        int read(int bucket, byte[] dst);

        /** Deletes what RocksDB keeps for the bucket. */
        void delete(int bucket);
    }

    private static final int NEXT = 0;
    private static final int BUCKET = 4;
    private static final int TABLE = 8;
    private static final int KEY_GROUP = 10;
    private static final int OP = 12;
    private static final int PREFIX_LENGTH = 13;
    private static final int KEY_LENGTH = 15;
    private static final int VALUE_LENGTH = 17;
    static final int HEADER = 19;
    private static final int MAX_U16 = 0xffff;

    /** The log's first size: a sixteenth of its most, at least {@link #MIN_LOG_BYTES}. */
    static final int START_DIVISOR = 16;
    static final int MIN_LOG_BYTES = 4096;
    /**
     * Room is made for a record and a sixty-fourth of the log more: the buckets sent to RocksDB
     * meanwhile go in one write batch (a RocksDB write costs about as much as a few merges in a
     * batch), at a small loss in how long records wait.
     */
    static final int ROOM_SLACK_DIVISOR = 64;
    /**
     * The most merges RocksDB holds for one bucket (about two records each in the state suite):
     * bounds what a read of the bucket applies.
     */
    static final int MAX_KEPT_MERGES = 32;
    /** Room-making applications since the last growth before the log may grow again. */
    static final int GROWTH_WINDOW = 16;

    /** The most bytes the log may take. */
    private final int capacity;
    /** The log's size now: the bytes it takes of the page cache (allocated at the first record). */
    private int size;
    private int maxRecordLength;
    private byte[] log;
    private int head;
    private int tail;
    /** Where the records of the log's upper part end once the tail wrapped to 0; -1 while it has not. */
    private int wrapEnd = -1;
    private int records;
    private int recordBytes;

    private int[] bucketKeys = new int[16];
    private int[] bucketFirst = new int[16];
    private int[] bucketLast = new int[16];
    private int[] bucketCount = new int[16];
    private int buckets;

    private Spill spill;
    /** The most merges RocksDB holds for one bucket: one more applies the bucket instead. */
    private final int maxKeptMerges;
    /** Per page id, the merges RocksDB holds for the bucket it heads (0: none); grows with the ids. */
    private byte[] keptMerges = new byte[0];
    private int keptBuckets;
    /** Records waiting in RocksDB, and the scratch their bytes pass through. */
    private long keptRecords;
    private final KeptScratch kept = new KeptScratch();
    private long spilledRecords;
    private long spills;

    private long buffered;
    private long applied;
    private long bucketApplications;
    /** Buckets applied to make room since the last growth, and the writes they applied. */
    private int windowApplications;
    private long windowApplied;

    /** A buffer of at most {@code capacity} bytes of records, starting smaller (see the class header). */
    PendingWrites(int capacity) {
        this(capacity, Math.min(capacity, Math.max(MIN_LOG_BYTES, capacity / START_DIVISOR)), MAX_KEPT_MERGES);
    }

    /**
     * A buffer whose log starts at {@code start} bytes and grows to at most {@code capacity}, and
     * that sends at most {@code maxKeptMerges} merges a bucket to RocksDB (tests).
     */
    PendingWrites(int capacity, int start, int maxKeptMerges) {
        if (maxKeptMerges < 1 || maxKeptMerges > 127) {
            throw new IllegalArgumentException("a bucket's merges in RocksDB are counted in a byte: " + maxKeptMerges);
        }
        this.maxKeptMerges = maxKeptMerges;
        if (start < 16 * HEADER || start > capacity) {
            throw new IllegalArgumentException("a write buffer of " + start + " to " + capacity
                    + " bytes holds too few records");
        }
        this.capacity = capacity;
        this.size = start;
        this.maxRecordLength = start / 8;
    }

    /** From now on, the buckets of pages in RocksDB may send their records there (see the class header). */
    void spillTo(Spill spill) {
        this.spill = spill;
    }

    /**
     * Whether the log should double (see the class header): it is full now, below its most, and
     * the room it made since the last growth paid.
     */
    boolean wantsToGrow() {
        return size < capacity && windowApplications >= GROWTH_WINDOW
                && windowApplied * 2 >= 3L * windowApplications;
    }

    /**
     * Doubles the log (up to its most); only while empty ({@link #applyAll} first). Returns the
     * new size.
     */
    int grow() {
        if (records != 0) {
            throw new IllegalStateException("the write buffer grows only while empty, not with " + records
                    + " records waiting");
        }
        size = (int) Math.min(capacity, 2L * size);
        maxRecordLength = size / 8;
        log = null; // the next record allocates the new size
        windowApplications = 0;
        windowApplied = 0;
        return size;
    }

    /** Whether the log is allocated (from its first record on, and again after growing). */
    boolean hasLog() {
        return log != null;
    }

    /** The log's size now (the page cache's bytes it takes). */
    int size() {
        return size;
    }

    /** Whether a write of these sizes can wait here (else the caller writes it through). */
    boolean fits(int table, int keyGroup, int keyLength, int prefixLength, int valueLength) {
        return table <= MAX_U16 && keyGroup <= MAX_U16 && keyLength <= MAX_U16 && prefixLength <= MAX_U16
                && valueLength <= MAX_U16 && HEADER + keyLength + valueLength <= maxRecordLength;
    }

    /**
     * Makes room for a record of these sizes ({@link #fits}), applying the buckets of the oldest
     * records through {@code applier} as needed. Call before choosing the record's bucket: applying
     * may split buckets.
     */
    void makeRoom(int keyLength, int valueLength, Applier applier) {
        int length = HEADER + keyLength + valueLength;
        if (hasRoom(length)) {
            return;
        }
        int room = Math.min(size, length + size / ROOM_SLACK_DIVISOR);
        while (!hasRoom(room)) {
            int bucket = intAt(head + BUCKET);
            int b = findBucket(bucket);
            windowApplications++;
            windowApplied += bucketCount[b];
            if (spill != null && keptMerges(bucket) < maxKeptMerges && spill.wants(bucket)) {
                spillBucket(b);
            } else {
                applyBucket(bucket, applier);
            }
        }
        if (spill != null) {
            spill.commit();
        }
    }

    /** The merges RocksDB holds for a bucket (0: none). */
    private int keptMerges(int bucket) {
        return bucket < keptMerges.length ? keptMerges[bucket] : 0;
    }

    /**
     * Sends a bucket's records in the log to RocksDB (one merge), where they wait behind what it
     * kept for the bucket already; the bucket leaves the log's table. The merge comes first: if
     * it fails, the store fails with the log as it was.
     */
    private void spillBucket(int b) {
        int n = 0;
        for (int at = bucketFirst[b]; ; at = intAt(at + NEXT) - 1) {
            int length = length(at);
            byte[] into = kept.room(n + length);
            System.arraycopy(log, at, into, n, length);
            n += length;
            if (intAt(at + NEXT) == 0) {
                break;
            }
        }
        int bucket = bucketKeys[b] - 1;
        spill.write(bucket, kept.bytes(), 0, n);
        spills++;
        for (int at = bucketFirst[b]; ; ) {
            int next = intAt(at + NEXT);
            forget(at);
            if (next == 0) {
                break;
            }
            at = next - 1;
        }
        spilledRecords += bucketCount[b];
        keptRecords += bucketCount[b];
        removeBucketAt(b);
        if (bucket >= keptMerges.length) {
            keptMerges = java.util.Arrays.copyOf(keptMerges, Math.max(bucket + 1, 2 * keptMerges.length));
        }
        if (keptMerges[bucket]++ == 0) {
            keptBuckets++;
        }
        advanceHead();
    }

    /** Adds a record to its bucket's list; {@link #makeRoom} made room for it. */
    void add(int op, int bucket, int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        int length = HEADER + keyLength + valueLength;
        if (!hasRoom(length)) {
            throw new IllegalStateException("no room for a record of " + length + " bytes: makeRoom first");
        }
        if (log == null) {
            log = new byte[size];
        }
        if (tail + length > size) { // hasRoom said the start has room: wrap
            wrapEnd = tail;
            tail = 0;
        }
        int at = tail;
        putInt(at + NEXT, 0);
        putInt(at + BUCKET, bucket);
        putShort(at + TABLE, table);
        putShort(at + KEY_GROUP, keyGroup);
        log[at + OP] = (byte) op;
        putShort(at + PREFIX_LENGTH, prefixLength);
        putShort(at + KEY_LENGTH, keyLength);
        putShort(at + VALUE_LENGTH, valueLength);
        System.arraycopy(key, keyOffset, log, at + HEADER, keyLength);
        if (valueLength > 0) {
            System.arraycopy(value, valueOffset, log, at + HEADER + keyLength, valueLength);
        }
        tail = at + length;
        records++;
        recordBytes += length;
        buffered++;
        int b = findBucket(bucket);
        if (b < 0) {
            b = insertBucket(bucket);
            bucketFirst[b] = at;
            bucketCount[b] = 1;
        } else {
            putInt(bucketLast[b] + NEXT, at + 1);
            bucketCount[b]++;
        }
        bucketLast[b] = at;
    }

    /** Whether writes wait for the bucket whose head page is {@code bucket}, in the log or in RocksDB. */
    boolean has(int bucket) {
        return buckets > 0 && findBucket(bucket) >= 0 || keptMerges(bucket) > 0;
    }

    /** Applies a bucket's waiting writes in the order they came, if it has any. */
    void apply(int bucket, Applier applier) {
        if (has(bucket)) {
            applyBucket(bucket, applier);
        }
    }

    /**
     * Applies every waiting write (before a walk over whole key-groups reads the pages), those in
     * RocksDB too.
     */
    void applyAll(Applier applier) {
        applyLog(applier);
        for (int bucket = 0; keptBuckets > 0 && bucket < keptMerges.length; bucket++) {
            if (keptMerges[bucket] != 0) { // what is left has records in RocksDB only
                applyBucket(bucket, applier);
            }
        }
    }

    /**
     * Applies every bucket that has records in the log (those it keeps in RocksDB first): the log
     * is empty after it, buckets with records in RocksDB alone still wait (before {@link #grow}).
     */
    void applyLog(Applier applier) {
        while (records > 0) {
            applyBucket(intAt(head + BUCKET), applier);
        }
    }

    /**
     * Forgets, unapplied, the waiting writes in the log of every bucket whose table {@code drop}
     * names (a table cleared); those in RocksDB go by {@link #dropKept}.
     */
    void drop(java.util.function.IntPredicate drop) {
        for (int b = 0; b < bucketKeys.length; ) {
            int key = bucketKeys[b];
            if (key != 0 && drop.test(tableOf(bucketFirst[b]))) {
                for (int at = bucketFirst[b]; ; ) {
                    int next = intAt(at + NEXT);
                    forget(at);
                    if (next == 0) {
                        break;
                    }
                    at = next - 1;
                }
                removeBucketAt(b); // shifts a later bucket into b: look at b again
            } else {
                b++;
            }
        }
        advanceHead();
    }

    /**
     * Forgets, unapplied, the waiting writes RocksDB holds for a bucket (its table cleared), and
     * deletes them there; returns how many records they were.
     */
    int dropKept(int bucket) {
        if (keptMerges(bucket) == 0) {
            return 0;
        }
        int length = readKept(bucket);
        spill.delete(bucket);
        keptMerges[bucket] = 0;
        keptBuckets--;
        int records = forEachRecord(kept.bytes(), 0, length, bucket, null);
        keptRecords -= records;
        return records;
    }

    private int tableOf(int at) {
        return shortAt(at + TABLE);
    }

    /**
     * Applies (and forgets) one bucket's records, those RocksDB keeps first (they are older); the
     * bucket has some.
     */
    private void applyBucket(int bucket, Applier applier) {
        int keptLength = -1;
        if (keptMerges(bucket) > 0) { // read and deleted before anything is forgotten: a failure fails the store
            keptLength = readKept(bucket);
            spill.delete(bucket);
            keptMerges[bucket] = 0;
            keptBuckets--;
        }
        int b = findBucket(bucket);
        int at = b < 0 ? -1 : bucketFirst[b];
        if (b >= 0) {
            removeBucketAt(b); // first: nothing the applier does may find it half applied
        }
        bucketApplications++;
        if (keptLength >= 0) {
            int count = forEachRecord(kept.bytes(), 0, keptLength, bucket, applier);
            applied += count;
            keptRecords -= count;
        }
        if (at < 0) {
            return;
        }
        while (true) {
            int next = intAt(at + NEXT);
            int keyLength = shortAt(at + KEY_LENGTH);
            int op = log[at + OP];
            forget(at); // before applying: a failure fails the store, and the record is not applied twice
            applied++;
            applier.apply(op, shortAt(at + TABLE), shortAt(at + KEY_GROUP), log, at + HEADER, keyLength,
                    shortAt(at + PREFIX_LENGTH), at + HEADER + keyLength, shortAt(at + VALUE_LENGTH));
            if (next == 0) {
                break;
            }
            at = next - 1;
        }
        advanceHead();
    }

    /** Reads what RocksDB keeps for a bucket into the scratch; returns its length. */
    private int readKept(int bucket) {
        return kept.read(spill::read, bucket, keptMerges(bucket) + " merges of them were written");
    }

    /** Reads a bucket's records in RocksDB: {@link Spill#read}, or a view of RocksDB at an instant. */
    interface KeptReader {
        int read(int bucket, byte[] dst);
    }

    /**
     * The scratch a bucket's records pass through on their way to or from RocksDB, grown as
     * needed (a bucket holds at most {@link #MAX_KEPT_MERGES} merges of them).
     */
    static final class KeptScratch {
        private byte[] bytes = new byte[0];

        /** The scratch, at least {@code length} bytes (what it held is kept). */
        byte[] room(int length) {
            if (bytes.length < length) {
                bytes = java.util.Arrays.copyOf(bytes, Math.max(length, 2 * bytes.length));
            }
            return bytes;
        }

        byte[] bytes() {
            return bytes;
        }

        /**
         * Reads a bucket's records through {@code reader} into the scratch; returns their length.
         * Fails if there are none ({@code expected} says why some were).
         */
        int read(KeptReader reader, int bucket, String expected) {
            int n = reader.read(bucket, bytes);
            if (n > bytes.length) {
                bytes = new byte[Math.max(n, 2 * bytes.length)];
                n = reader.read(bucket, bytes);
            }
            if (n <= 0) {
                throw new IllegalStateException("RocksDB keeps no waiting writes for bucket " + bucket + ", where "
                        + expected + ": the spill store is corrupt");
            }
            return n;
        }
    }

    /**
     * Hands the records concatenated in {@code bytes} from {@code from} to {@code to} (as RocksDB
     * keeps a bucket's, or {@link #copyLog} copies the log's) to {@code applier} in order (none
     * with a null one); returns how many. {@code bucket} names them in errors (-1: the log's).
     */
    static int forEachRecord(byte[] bytes, int from, int to, int bucket, Applier applier) {
        int count = 0;
        for (int at = from; at < to; count++) {
            if (at + HEADER > to || at + recordLength(bytes, at) > to) {
                throw new IllegalStateException("a waiting write RocksDB kept for bucket " + bucket
                        + " runs past their end: the spill store is corrupt");
            }
            int keyLength = shortOf(bytes, at + KEY_LENGTH);
            if (applier != null) {
                applier.apply(bytes[at + OP], shortOf(bytes, at + TABLE), shortOf(bytes, at + KEY_GROUP), bytes,
                        at + HEADER, keyLength, shortOf(bytes, at + PREFIX_LENGTH), at + HEADER + keyLength,
                        shortOf(bytes, at + VALUE_LENGTH));
            }
            at += recordLength(bytes, at);
        }
        return count;
    }

    /** The bucket (head page id) a record names, where it starts at {@code at} of {@code bytes}. */
    static int bucketOf(byte[] bytes, int at) {
        return intOf(bytes, at + BUCKET);
    }

    /** The length of the record at {@code at} of {@code bytes}. */
    static int recordLength(byte[] bytes, int at) {
        return HEADER + shortOf(bytes, at + KEY_LENGTH) + shortOf(bytes, at + VALUE_LENGTH);
    }

    /** The records waiting in the log, concatenated in the order they came (as RocksDB keeps a bucket's). */
    byte[] copyLog() {
        byte[] out = new byte[recordBytes];
        int n = 0;
        for (int at = head, seen = 0; records > 0 && seen < recordBytes; ) {
            int length = length(at);
            if (log[at + OP] != APPLIED) {
                System.arraycopy(log, at, out, n, length);
                n += length;
            }
            seen += length;
            at += length;
            if (at == wrapEnd) {
                at = 0;
            }
        }
        return n == out.length ? out : java.util.Arrays.copyOf(out, n);
    }

    /** The buckets with writes waiting in RocksDB. */
    int[] keptBucketIds() {
        int[] ids = new int[keptBuckets];
        int n = 0;
        for (int bucket = 0; n < ids.length && bucket < keptMerges.length; bucket++) {
            if (keptMerges[bucket] != 0) {
                ids[n++] = bucket;
            }
        }
        return ids;
    }

    /** Marks a record applied (its bytes stay until the head passes them). */
    private void forget(int at) {
        log[at + OP] = APPLIED;
        records--;
    }

    /** Moves the head past applied records; an empty log starts over at 0. */
    private void advanceHead() {
        if (records == 0) {
            head = 0;
            tail = 0;
            wrapEnd = -1;
            recordBytes = 0;
            return;
        }
        while (log[head + OP] == APPLIED) {
            int length = length(head);
            recordBytes -= length;
            head += length;
            if (head == wrapEnd) {
                head = 0;
                wrapEnd = -1;
            }
        }
    }

    private int length(int at) {
        return recordLength(log, at);
    }

    /** Whether a record of {@code length} bytes fits at the tail, or at 0 after a wrap. */
    private boolean hasRoom(int length) {
        if (records == 0) {
            return length <= size;
        }
        if (wrapEnd < 0) { // head < tail
            return size - tail >= length || head >= length;
        }
        return head - tail >= length; // wrapped: the free bytes are between tail and head
    }

    // ==== the bucket table ========================================================================

    private int findBucket(int bucket) {
        int key = bucket + 1;
        int mask = bucketKeys.length - 1;
        for (int i = mix(key) & mask; bucketKeys[i] != 0; i = (i + 1) & mask) {
            if (bucketKeys[i] == key) {
                return i;
            }
        }
        return -1;
    }

    private int insertBucket(int bucket) {
        if (2 * (buckets + 1) > bucketKeys.length) {
            growBuckets();
        }
        int key = bucket + 1;
        int mask = bucketKeys.length - 1;
        int i = mix(key) & mask;
        while (bucketKeys[i] != 0) {
            i = (i + 1) & mask;
        }
        bucketKeys[i] = key;
        buckets++;
        return i;
    }

    /** Removes the bucket in slot {@code i}, shifting the rest of its run back (no tombstones). */
    private void removeBucketAt(int i) {
        int mask = bucketKeys.length - 1;
        buckets--;
        int hole = i;
        for (int j = (i + 1) & mask; bucketKeys[j] != 0; j = (j + 1) & mask) {
            int home = mix(bucketKeys[j]) & mask;
            // j's entry may fill the hole if its home is not in (hole, j] (cyclically)
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                bucketKeys[hole] = bucketKeys[j];
                bucketFirst[hole] = bucketFirst[j];
                bucketLast[hole] = bucketLast[j];
                bucketCount[hole] = bucketCount[j];
                hole = j;
            }
        }
        bucketKeys[hole] = 0;
    }

    private void growBuckets() {
        int[] keys = bucketKeys;
        int[] first = bucketFirst;
        int[] last = bucketLast;
        int[] count = bucketCount;
        int n = keys.length * 2;
        bucketKeys = new int[n];
        bucketFirst = new int[n];
        bucketLast = new int[n];
        bucketCount = new int[n];
        int mask = n - 1;
        for (int j = 0; j < keys.length; j++) {
            if (keys[j] != 0) {
                int i = mix(keys[j]) & mask;
                while (bucketKeys[i] != 0) {
                    i = (i + 1) & mask;
                }
                bucketKeys[i] = keys[j];
                bucketFirst[i] = first[j];
                bucketLast[i] = last[j];
                bucketCount[i] = count[j];
            }
        }
    }

    private static int mix(int key) {
        int h = key * 0x9e3779b9;
        return h ^ (h >>> 16);
    }

    // ==== bytes ====================================================================================

    private int intAt(int at) {
        return intOf(log, at);
    }

    private static int intOf(byte[] bytes, int at) {
        return (bytes[at] & 0xff) << 24 | (bytes[at + 1] & 0xff) << 16 | (bytes[at + 2] & 0xff) << 8
                | (bytes[at + 3] & 0xff);
    }

    private void putInt(int at, int v) {
        log[at] = (byte) (v >>> 24);
        log[at + 1] = (byte) (v >>> 16);
        log[at + 2] = (byte) (v >>> 8);
        log[at + 3] = (byte) v;
    }

    private int shortAt(int at) {
        return shortOf(log, at);
    }

    private static int shortOf(byte[] bytes, int at) {
        return (bytes[at] & 0xff) << 8 | (bytes[at + 1] & 0xff);
    }

    private void putShort(int at, int v) {
        log[at] = (byte) (v >>> 8);
        log[at + 1] = (byte) v;
    }

    // ==== observability and checks =================================================================

    /** Whether the log's tail wrapped around while older records wait at its end (tests). */
    boolean wrapped() {
        return wrapEnd >= 0;
    }

    /** Writes waiting in the log now. */
    int records() {
        return records;
    }

    /** Writes waiting in RocksDB now. */
    long keptRecords() {
        return keptRecords;
    }

    /** Whether no write waits, in the log or in RocksDB. */
    boolean isEmpty() {
        return buckets == 0 && keptBuckets == 0;
    }

    /** Buckets with writes waiting in RocksDB now. */
    int keptBuckets() {
        return keptBuckets;
    }

    /** Writes sent to RocksDB so far, and the merges that carried them. */
    long spilledRecords() {
        return spilledRecords;
    }

    long spills() {
        return spills;
    }

    /** Buckets with writes waiting now. */
    int buckets() {
        return buckets;
    }

    /** Writes that waited here so far. */
    long buffered() {
        return buffered;
    }

    /** Writes applied so far, and the bucket applications (faults at most) that applied them. */
    long applied() {
        return applied;
    }

    long bucketApplications() {
        return bucketApplications;
    }

    /** Heap bytes: the log once allocated and the bucket table. */
    long heapBytes() {
        return (log == null ? 0 : log.length) + 16L * bucketKeys.length + keptMerges.length + kept.bytes().length;
    }

    /** Checks the invariants of the class header; {@code isLive} tells the index's live pages. */
    void checkInvariants(java.util.function.IntPredicate isLive) {
        int waiting = 0;
        int bytes = 0;
        java.util.Map<Integer, java.util.List<Integer>> inLog = new java.util.HashMap<>();
        if (records > 0 && log[head + OP] == APPLIED) {
            throw new IllegalStateException("the write buffer's head record is applied while " + records + " wait");
        }
        int at = head;
        while (records > 0 && bytes < recordBytes) {
            int length = length(at);
            bytes += length;
            if (log[at + OP] != APPLIED) {
                waiting++;
                inLog.computeIfAbsent(intAt(at + BUCKET), k -> new java.util.ArrayList<>()).add(at);
            }
            at += length;
            if (at == wrapEnd) {
                at = 0;
            }
            if (at > size) {
                throw new IllegalStateException("the write buffer's records run past its end at " + at);
            }
        }
        if (waiting != records || bytes != recordBytes || (records > 0 && at != tail)) {
            throw new IllegalStateException("the write buffer counts " + records + " records in " + recordBytes
                    + " bytes up to its tail at " + tail + ", its log holds " + waiting + " in " + bytes + " up to " + at);
        }
        int inTable = 0;
        for (int b = 0; b < bucketKeys.length; b++) {
            if (bucketKeys[b] == 0) {
                continue;
            }
            inTable++;
            int bucket = bucketKeys[b] - 1;
            if (findBucket(bucket) != b) {
                throw new IllegalStateException("bucket " + bucket + " of the write buffer is not where a probe finds it");
            }
            if (!isLive.test(bucket)) {
                throw new IllegalStateException("writes wait for bucket " + bucket + ", which is not a live page");
            }
            java.util.List<Integer> expected = inLog.remove(bucket);
            java.util.List<Integer> list = new java.util.ArrayList<>();
            for (int r = bucketFirst[b]; ; r = intAt(r + NEXT) - 1) {
                list.add(r);
                if (intAt(r + NEXT) == 0) {
                    break;
                }
            }
            if (!list.equals(expected) || bucketCount[b] != list.size() || bucketLast[b] != list.get(list.size() - 1)) {
                throw new IllegalStateException("bucket " + bucket + " of the write buffer lists records " + list
                        + " (count " + bucketCount[b] + "), its log holds " + expected);
            }
        }
        int kept = 0;
        for (int bucket = 0; bucket < keptMerges.length; bucket++) {
            if (keptMerges[bucket] == 0) {
                continue;
            }
            kept++;
            if (keptMerges[bucket] < 0 || keptMerges[bucket] > maxKeptMerges) {
                throw new IllegalStateException("RocksDB holds " + keptMerges[bucket] + " merges of waiting writes for"
                        + " bucket " + bucket + ", at most " + maxKeptMerges + " allowed");
            }
            if (!isLive.test(bucket)) {
                throw new IllegalStateException("writes wait in RocksDB for bucket " + bucket + ", which is not a live"
                        + " page");
            }
        }
        if (kept != keptBuckets || (kept == 0) != (keptRecords == 0) || keptRecords < kept) {
            throw new IllegalStateException("the write buffer counts " + keptBuckets + " buckets with " + keptRecords
                    + " writes waiting in RocksDB; its bytes per page tell " + kept + " buckets");
        }
        if (inTable != buckets || !inLog.isEmpty()) {
            throw new IllegalStateException("the write buffer counts " + buckets + " buckets, its table holds "
                    + inTable + "; records of buckets not in it: " + inLog.keySet());
        }
        if (records == 0 && (head != 0 || tail != 0 || wrapEnd != -1)) {
            throw new IllegalStateException("an empty write buffer is not at its start: head " + head + ", tail "
                    + tail + ", wrap " + wrapEnd);
        }
    }
}

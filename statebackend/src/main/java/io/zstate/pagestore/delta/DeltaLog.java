package io.zstate.pagestore.delta;

import io.zstate.pagestore.WriteVisitor;
import io.zstate.pagestore.index.Hashing;
import java.util.Arrays;

/**
 * The entries written since the last freeze, as an ordered log of the store's writes with
 * each key's older records dropped where the newer one decides the key alone: what an
 * incremental checkpoint writes instead of the whole state, and what its restore replays in
 * order onto the base.
 *
 * <pre>
 * record (in one growing heap array, in the order written; the header's fields are varints,
 * {@link RecordHeader}):
 *   op(1) table keyGroup keyLength prefixLength valueLength key value
 *   op: PUT, APPEND, DELETE (keyed), DELETE_PREFIX (a barrier), DEAD (dropped, skipped)
 *
 * index: open addressing from (table, key-group, key) to the newest keyed record of that key.
 *
 *   put / delete  the older record of the key is dropped (DEAD); the new one is appended
 *   append        if the key's record comes after the last barrier and the two values are
 *                 small (MERGE_LIMIT), they merge into one record (PUT+x = PUT, APPEND+x =
 *                 APPEND, DELETE+x = PUT of x past its separator, as PageStore.append creates
 *                 an absent key); otherwise a plain APPEND record follows and the older one
 *                 stays (replayed in order, it is exact)
 *   barrier       appended; earlier records stay (replay order makes them harmless)
 * </pre>
 *
 * Invariants: replaying the records in order onto the state at the last freeze gives the state
 * now (the property test checks it against a model); every live keyed record but a pre-barrier
 * one is the one the index names; dead bytes are at most half the log once it is past 1 MiB
 * (compaction copies the live records, in order); the index is at most half full; the array
 * grows by half. Bounded: past {@code limitBytes} the log gives
 * up, drops everything and stays <em>incomplete</em> until the next freeze (the checkpoint after
 * must be a full one). A log that fails to grow (heap exhausted) does the same: a write the store
 * made is never silently missing from a delta.
 *
 * <p>Not thread-safe: written by the task thread under the store's lock; {@link #freeze} hands
 * the records to a {@link FrozenDeltas}, immutable, which another thread may then read.
 */
public final class DeltaLog {

    public static final byte DEAD = 0;
    public static final byte PUT = 1;
    public static final byte APPEND = 2;
    public static final byte DELETE = 3;
    public static final byte DELETE_PREFIX = 4;

    /** Appends merge into the key's record up to this many value bytes; past it they follow it. */
    static final int MERGE_LIMIT = 4096;
    /** The largest array the JVM allocates. */
    private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;
    private static final int INITIAL = 4096;
    private final long limitBytes;
    private final int compactFrom;
    private final int mergeLimit;
    private byte[] log;
    private final int initial;
    private int size;
    private int deadBytes;
    private int lastBarrierEnd; // records starting before this come before the newest barrier
    private int[] slots; // record offset + 1, 0 empty
    private int[] hashes;
    private int keyed; // index entries in use
    private boolean incomplete;
    private int compactions;
    private final RecordHeader header = new RecordHeader(); // decodes a record in place
    private int logHint; // the capacity of the log's first growth after a freeze (0: none)
    private int indexHint; // the same for the index

    /** A log that gives up (incomplete) once its records pass {@code limitBytes}. */
    public DeltaLog(long limitBytes) {
        this(limitBytes, 1 << 20, INITIAL, MERGE_LIMIT);
    }

    /**
     * A log that compacts from {@code compactFrom} bytes, starts at {@code initial} and merges
     * appends up to {@code mergeLimit} value bytes (tests).
     */
    DeltaLog(long limitBytes, int compactFrom, int initial, int mergeLimit) {
        this.limitBytes = limitBytes;
        this.mergeLimit = mergeLimit;
        this.compactFrom = compactFrom;
        this.initial = initial;
        empty();
    }

    // ==== recording ==============================================================================

    public void put(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        keyed(PUT, table, keyGroup, key, keyOffset, keyLength, prefixLength, value, valueOffset, valueLength);
    }

    public void delete(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength) {
        keyed(DELETE, table, keyGroup, key, keyOffset, keyLength, prefixLength, key, 0, 0);
    }

    public void append(int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        if (incomplete) {
            return;
        }
        int hash = hash(table, keyGroup, key, keyOffset, keyLength);
        int slot = find(hash, table, keyGroup, key, keyOffset, keyLength);
        int old = slots[slot] - 1;
        if (old >= lastBarrierEnd && valueLengthAt(old) + valueLength <= mergeLimit) {
            // merge: the old record decides the key alone since the barrier (small values only:
            // merging copies the value, and a long list would be copied at every append)
            byte oldOp = log[old];
            int oldValueLength = header.valueLength;
            // after a delete the key has no value: the append creates it from past its separator
            int skip = oldOp == DELETE ? WriteVisitor.APPEND_SEPARATOR_BYTES : 0;
            int merged = oldValueLength + valueLength - skip;
            int at = reserve(RecordHeader.size(table, keyGroup, keyLength, prefixLength, merged) + keyLength + merged);
            if (at < 0) {
                return;
            }
            slot = find(hash, table, keyGroup, key, keyOffset, keyLength); // (a compaction in reserve moves records)
            old = slots[slot] - 1;
            header.decode(log, old);
            int oldValueAt = header.valueAt();
            int keyAt = RecordHeader.write(log, at, oldOp == DELETE ? PUT : oldOp, table, keyGroup, keyLength,
                    prefixLength, merged);
            System.arraycopy(key, keyOffset, log, keyAt, keyLength);
            System.arraycopy(log, oldValueAt, log, keyAt + keyLength, oldValueLength);
            System.arraycopy(value, valueOffset + skip, log, keyAt + keyLength + oldValueLength, valueLength - skip);
            kill(old);
            slots[slot] = at + 1;
            return;
        }
        keyed(APPEND, table, keyGroup, key, keyOffset, keyLength, prefixLength, value, valueOffset, valueLength);
    }

    /** Every key of {@code table} in {@code keyGroup} starting with {@code prefix} was removed. */
    public void deletePrefix(int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength) {
        barrier(DELETE_PREFIX, table, keyGroup, prefix, prefixOffset, prefixLength);
    }

    /**
     * Gives up: what the store did since the last freeze is not all in this log (a table cleared
     * whole, which a key-group range of a rescaled restore could not replay), so the next
     * checkpoint must be a full one.
     */
    public void giveUp() {
        empty();
        incomplete = true;
    }

    /** No records and an empty index (fresh arrays: a frozen log keeps the old ones). */
    private void empty() {
        log = new byte[initial];
        size = 0;
        deadBytes = 0;
        lastBarrierEnd = 0;
        slots = new int[256];
        hashes = new int[256];
        keyed = 0;
    }

    // ==== freezing ===============================================================================

    /**
     * The records so far, handed over (immutable from now on), and an empty log from here: the
     * delta between the previous freeze and this one.
     */
    public FrozenDeltas freeze() {
        FrozenDeltas frozen = new FrozenDeltas(incomplete ? new byte[0] : log, incomplete ? 0 : size,
                incomplete ? 0 : size - deadBytes, !incomplete);
        // the next interval's first growth goes straight to about what this one wrote: a log
        // grown from a few KiB by copies, and an index by rehashes, allocated several times
        // their final size in large arrays at every checkpoint (3 GB of a 4M-key run's 10.5 GB,
        // measured). Not allocated here: zeroing them would lengthen the checkpoint's pause
        long live = incomplete ? 0 : size - deadBytes;
        logHint = (int) Math.min(Math.min(limitBytes, MAX_ARRAY), live + (live >> 2));
        indexHint = incomplete ? 0 : Integer.highestOneBit(Math.max(1, keyed)) << 2;
        empty();
        incomplete = false;
        return frozen;
    }

    /** Whether the log gave up since the last freeze. */
    public boolean isIncomplete() {
        return incomplete;
    }

    /** Heap bytes held (log and index). */
    public long heapBytes() {
        return log.length + 8L * slots.length;
    }

    /** Bytes of live records. */
    public long liveBytes() {
        return size - deadBytes;
    }

    /** How many times the log compacted (tests). */
    int compactions() {
        return compactions;
    }

    /** Checks the invariants (tests): every index entry names a live keyed record of its key. */
    public void checkInvariants() {
        int entries = 0;
        for (int i = 0; i < slots.length; i++) {
            if (slots[i] == 0) {
                continue;
            }
            entries++;
            int at = slots[i] - 1;
            header.decode(log, at);
            byte op = header.op;
            if (op != PUT && op != APPEND && op != DELETE) {
                throw new IllegalStateException("index names a record of op " + op + " at " + at);
            }
            int expected = hash(header.table, header.keyGroup, log, header.keyAt, header.keyLength);
            if (hashes[i] != expected) {
                throw new IllegalStateException("index hash differs from its record's at " + at);
            }
        }
        if (entries != keyed) {
            throw new IllegalStateException(entries + " index entries, counted " + keyed);
        }
        int dead = 0;
        for (int at = 0; at < size; ) {
            int end = header.decode(log, at);
            if (log[at] == DEAD) {
                dead += end - at;
            }
            at = end;
        }
        if (dead != deadBytes) {
            throw new IllegalStateException(dead + " dead bytes, counted " + deadBytes);
        }
    }

    // ==== internals ==============================================================================

    private void keyed(byte op, int table, int keyGroup, byte[] key, int keyOffset, int keyLength, int prefixLength,
            byte[] value, int valueOffset, int valueLength) {
        if (incomplete) {
            return;
        }
        int at = reserve(RecordHeader.size(table, keyGroup, keyLength, prefixLength, valueLength) + keyLength
                + valueLength);
        if (at < 0) {
            return;
        }
        int keyAt = RecordHeader.write(log, at, op, table, keyGroup, keyLength, prefixLength, valueLength);
        System.arraycopy(key, keyOffset, log, keyAt, keyLength);
        System.arraycopy(value, valueOffset, log, keyAt + keyLength, valueLength);
        int hash = hash(table, keyGroup, key, keyOffset, keyLength);
        int slot = find(hash, table, keyGroup, key, keyOffset, keyLength);
        int old = slots[slot] - 1;
        if (old >= 0 && op != APPEND) {
            kill(old);
        }
        if (old < 0) {
            keyed++;
            hashes[slot] = hash;
        }
        slots[slot] = at + 1;
        if (keyed * 2 > slots.length) {
            rehash(Math.max(slots.length * 2, indexHint));
            indexHint = 0;
        }
    }

    private void barrier(byte op, int table, int keyGroup, byte[] prefix, int prefixOffset, int prefixLength) {
        if (incomplete) {
            return;
        }
        int at = reserve(RecordHeader.size(table, keyGroup, prefixLength, prefixLength, 0) + prefixLength);
        if (at < 0) {
            return;
        }
        int keyAt = RecordHeader.write(log, at, op, table, keyGroup, prefixLength, prefixLength, 0);
        System.arraycopy(prefix, prefixOffset, log, keyAt, prefixLength);
        lastBarrierEnd = size;
    }

    /** Room for a record at the end (compacting or growing); its offset, or -1 if the log gave up. */
    private int reserve(int bytes) {
        if ((long) size - deadBytes + bytes > limitBytes) {
            giveUp();
            return -1;
        }
        if ((long) size + bytes > log.length) {
            if ((deadBytes > (size >> 1) && size > compactFrom) || (long) size + bytes > MAX_ARRAY) {
                compact();
            }
            if ((long) size + bytes > MAX_ARRAY) {
                giveUp(); // the records would not fit the largest array
                return -1;
            }
            if (size + bytes > log.length) {
                try {
                    log = Arrays.copyOf(log, (int) Math.min(MAX_ARRAY,
                            Math.max(Math.max((long) size + bytes, log.length + (log.length >> 1)), logHint)));
                    logHint = 0;
                } catch (OutOfMemoryError e) {
                    giveUp();
                    return -1;
                }
            }
        }
        int at = size;
        size += bytes;
        return at;
    }

    /** Copies the live records to the front, in order, and rebuilds the index. */
    private void compact() {
        compactions++;
        int to = 0;
        int newBarrierEnd = 0;
        for (int at = 0; at < size; ) {
            int end = header.decode(log, at);
            if (log[at] != DEAD) {
                System.arraycopy(log, at, log, to, end - at);
                to += end - at;
            }
            if (at < lastBarrierEnd) {
                newBarrierEnd = to;
            }
            at = end;
        }
        size = to;
        deadBytes = 0;
        lastBarrierEnd = newBarrierEnd;
        rehash(slots.length);
    }

    /** Rebuilds the index over the live records (the newest keyed record of each key wins). */
    private void rehash(int capacity) {
        slots = new int[capacity];
        hashes = new int[capacity];
        keyed = 0;
        for (int at = 0; at < size; ) {
            int end = header.decode(log, at);
            byte op = header.op;
            if (op != PUT && op != APPEND && op != DELETE) {
                at = end;
                continue;
            }
            int table = header.table;
            int keyGroup = header.keyGroup;
            int keyLength = header.keyLength;
            int keyAt = header.keyAt;
            int hash = hash(table, keyGroup, log, keyAt, keyLength);
            int slot = find(hash, table, keyGroup, log, keyAt, keyLength);
            if (slots[slot] == 0) {
                keyed++;
                hashes[slot] = hash;
            }
            slots[slot] = at + 1;
            at = end;
        }
    }

    private void kill(int at) {
        deadBytes += header.decode(log, at) - at;
        log[at] = DEAD;
    }

    /** The value length of the record at {@code at} (and its header in {@link #header}). */
    private int valueLengthAt(int at) {
        header.decode(log, at);
        return header.valueLength;
    }

    /** The slot of the key's index entry, or the empty slot where it would go. */
    private int find(int hash, int table, int keyGroup, byte[] key, int keyOffset, int keyLength) {
        int mask = slots.length - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask) {
            int entry = slots[i];
            if (entry == 0) {
                return i;
            }
            if (hashes[i] != hash) {
                continue;
            }
            header.decode(log, entry - 1);
            if (header.table == table && header.keyGroup == keyGroup && header.keyLength == keyLength
                    && Arrays.equals(log, header.keyAt, header.keyAt + keyLength, key, keyOffset,
                            keyOffset + keyLength)) {
                return i;
            }
        }
    }

    private static int hash(int table, int keyGroup, byte[] key, int offset, int length) {
        return Hashing.hash(key, offset, length, table * 0x9e3779b9 + keyGroup);
    }
}

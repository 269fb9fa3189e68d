package io.zstate.pagestore.layout;

/**
 * One entry of the entry cache ({@code io.zstate.pagestore.entry.EntryCache}): a record in its
 * circular log, the serialized key and value as the page store took them.
 *
 * <pre>
 *   +--------+-------+---+-------+-----------+--------+--------+------+-----+-------+
 *   | length | flags | - | table | key-group | keyLen | valLen | hash | key | value |  padding
 *   +--------+-------+---+-------+-----------+--------+--------+------+-----+-------+  to 4 bytes
 *   0        2       3   4       6           8        10       12     16 = HEADER
 *
 *   length  u16, the whole record with its padding; 0 marks a filler: the log's bytes from here
 *           to the arena's end are unused (the next record did not fit there)
 *   flags   LIVE (indexed: the current copy of its key), DIRTY (newer than the pages),
 *           REFERENCED (read or written since the log's head last passed it)
 *   hash    the cache's hash of (table, key), kept so a record can find its index slot
 * </pre>
 * Little-endian, like every page layout.
 */
public final class EntryRecord {

    public static final int HEADER = 16;
    /** The longest record: its length must fit the u16 length word. */
    public static final int MAX_LENGTH = 0xfffc;

    public static final int LIVE = 1;
    public static final int DIRTY = 2;
    public static final int REFERENCED = 4;

    private static final int FLAGS = 2;
    private static final int TABLE = 4;
    private static final int KEY_GROUP = 6;
    private static final int KEY_LENGTH = 8;
    private static final int VALUE_LENGTH = 10;
    private static final int HASH = 12;

    private EntryRecord() {}

    /** The record length for a key and value: header, both, padded to 4 bytes. */
    public static int lengthFor(int keyLength, int valueLength) {
        return (HEADER + keyLength + valueLength + 3) & ~3;
    }

    /** Writes a record's header and its key and value at {@code at}. */
    public static void write(byte[] log, int at, int flags, int table, int keyGroup, int hash,
            byte[] key, int keyOffset, int keyLength, byte[] value, int valueOffset, int valueLength) {
        Pages.u16(log, at, lengthFor(keyLength, valueLength));
        log[at + FLAGS] = (byte) flags;
        log[at + FLAGS + 1] = 0;
        Pages.u16(log, at + TABLE, table);
        Pages.u16(log, at + KEY_GROUP, keyGroup);
        Pages.u16(log, at + KEY_LENGTH, keyLength);
        Pages.u16(log, at + VALUE_LENGTH, valueLength);
        Pages.i32(log, at + HASH, hash);
        System.arraycopy(key, keyOffset, log, at + HEADER, keyLength);
        System.arraycopy(value, valueOffset, log, at + HEADER + keyLength, valueLength);
    }

    /** Marks the log's bytes from {@code at} to its end unused. */
    public static void writeFiller(byte[] log, int at) {
        Pages.u16(log, at, 0);
    }

    public static int length(byte[] log, int at) {
        return Pages.u16(log, at);
    }

    /** Whether the log's bytes from {@code at} to its arena's end are a filler, not a record. */
    public static boolean isFiller(byte[] log, int at) {
        return length(log, at) == 0;
    }

    /** The bytes the record or filler at {@code at} takes in a log of {@code capacity} bytes. */
    public static int span(byte[] log, int capacity, int at) {
        int length = length(log, at);
        return length == 0 ? capacity - at : length;
    }

    /**
     * Where a walk over a log of {@code capacity} bytes goes after the record or filler at {@code
     * at}: the next record, or the arena's start after its last bytes. The one walk over the log:
     * {@code for (at = head, left = used; left > 0; left -= span(..), at = next(..))}.
     */
    public static int next(byte[] log, int capacity, int at) {
        int next = at + span(log, capacity, at);
        return next == capacity ? 0 : next;
    }

    public static int flags(byte[] log, int at) {
        return log[at + FLAGS];
    }

    public static void flags(byte[] log, int at, int flags) {
        log[at + FLAGS] = (byte) flags;
    }

    public static int table(byte[] log, int at) {
        return Pages.u16(log, at + TABLE);
    }

    public static int keyGroup(byte[] log, int at) {
        return Pages.u16(log, at + KEY_GROUP);
    }

    public static int keyLength(byte[] log, int at) {
        return Pages.u16(log, at + KEY_LENGTH);
    }

    public static int valueLength(byte[] log, int at) {
        return Pages.u16(log, at + VALUE_LENGTH);
    }

    public static int hash(byte[] log, int at) {
        return Pages.i32(log, at + HASH);
    }

    public static int keyOffset(int at) {
        return at + HEADER;
    }

    public static int valueOffset(byte[] log, int at) {
        return at + HEADER + keyLength(log, at);
    }

    /** Whether the record at {@code at} is (table, key-group, key) with hash {@code hash}. */
    public static boolean matches(byte[] log, int at, int hash, int table, int keyGroup,
            byte[] key, int keyOffset, int keyLength) {
        return Pages.i32(log, at + HASH) == hash
                && Pages.u16(log, at + KEY_LENGTH) == keyLength
                && Pages.u16(log, at + TABLE) == table
                && Pages.u16(log, at + KEY_GROUP) == keyGroup
                && java.util.Arrays.equals(log, at + HEADER, at + HEADER + keyLength, key, keyOffset,
                        keyOffset + keyLength);
    }
}

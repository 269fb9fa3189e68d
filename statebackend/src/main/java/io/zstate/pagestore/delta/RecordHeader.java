package io.zstate.pagestore.delta;

/**
 * The header of one delta-log record, in the one place that knows its bytes:
 *
 * <pre>
 *   op(1) table keyGroup keyLength prefixLength valueLength   (each after op: an unsigned varint,
 *   key value                                                  7 bits a byte, low bits first)
 * </pre>
 *
 * A counter's record (one table, a key-group under 16384, a 10-byte key, an 8-byte value) takes
 * 7 header bytes where fixed ints took 21. A reused decoder: {@link #decode} fills the fields
 * from a record's offset; nothing is allocated per record.
 */
final class RecordHeader {

    byte op;
    int table;
    int keyGroup;
    int keyLength;
    int prefixLength;
    int valueLength;
    /** Offset of the key (the prefix, for a barrier); the value follows it. */
    int keyAt;

    /** Reads the header at {@code at}; returns the offset just past the record. */
    int decode(byte[] log, int at) {
        op = log[at];
        int p = at + 1;
        int v = 0;
        int shift = 0;
        int field = 0;
        while (field < 5) {
            byte b = log[p++];
            v |= (b & 0x7f) << shift;
            if (b >= 0) {
                switch (field) {
                    case 0 -> table = v;
                    case 1 -> keyGroup = v;
                    case 2 -> keyLength = v;
                    case 3 -> prefixLength = v;
                    default -> valueLength = v;
                }
                field++;
                v = 0;
                shift = 0;
            } else {
                shift += 7;
            }
        }
        keyAt = p;
        return p + keyLength + valueLength;
    }

    int valueAt() {
        return keyAt + keyLength;
    }

    /** Bytes of the header of a record with these fields. */
    static int size(int table, int keyGroup, int keyLength, int prefixLength, int valueLength) {
        return 1 + varintSize(table) + varintSize(keyGroup) + varintSize(keyLength) + varintSize(prefixLength)
                + varintSize(valueLength);
    }

    /** Writes a header at {@code at}; returns the offset of the key. */
    static int write(byte[] log, int at, byte op, int table, int keyGroup, int keyLength, int prefixLength,
            int valueLength) {
        log[at] = op;
        int p = writeVarint(log, at + 1, table);
        p = writeVarint(log, p, keyGroup);
        p = writeVarint(log, p, keyLength);
        p = writeVarint(log, p, prefixLength);
        return writeVarint(log, p, valueLength);
    }

    private static int varintSize(int v) {
        return v >>> 7 == 0 ? 1 : v >>> 14 == 0 ? 2 : v >>> 21 == 0 ? 3 : v >>> 28 == 0 ? 4 : 5;
    }

    private static int writeVarint(byte[] log, int p, int v) {
        while ((v & ~0x7f) != 0) {
            log[p++] = (byte) ((v & 0x7f) | 0x80);
            v >>>= 7;
        }
        log[p++] = (byte) v;
        return p;
    }
}

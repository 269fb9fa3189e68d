package io.zstate.benchmarks;

import java.util.Arrays;

/**
 * A growable big-endian byte sink with the encodings Flink's serializers use (its {@code
 * DataOutputSerializer}): fixed-width primitives as {@code DataOutput} writes them, Flink's {@code
 * StringValue} string format, and the unsigned LEB128 varint of the page's record lengths.
 * Reused across records; {@link #reset()} empties it.
 */
final class ByteWriter {

    private byte[] buf;
    private int pos;

    ByteWriter(int capacity) {
        buf = new byte[capacity];
    }

    void reset() {
        pos = 0;
    }

    int length() {
        return pos;
    }

    byte[] buffer() {
        return buf;
    }

    ByteWriter writeByte(int b) {
        ensure(1);
        buf[pos++] = (byte) b;
        return this;
    }

    /** Flink's {@code BooleanSerializer}: one byte, 1 or 0. */
    ByteWriter writeBoolean(boolean b) {
        return writeByte(b ? 1 : 0);
    }

    ByteWriter writeShort(int v) {
        return writeByte(v >>> 8).writeByte(v);
    }

    ByteWriter writeInt(int v) {
        ensure(4);
        for (int shift = 24; shift >= 0; shift -= 8) {
            buf[pos++] = (byte) (v >>> shift);
        }
        return this;
    }

    ByteWriter writeLong(long v) {
        ensure(8);
        for (int shift = 56; shift >= 0; shift -= 8) {
            buf[pos++] = (byte) (v >>> shift);
        }
        return this;
    }

    ByteWriter writeDouble(double v) {
        return writeLong(Double.doubleToLongBits(v));
    }

    /** Unsigned LEB128: 7 bits a byte, low bits first, high bit set on all but the last. */
    ByteWriter writeVarInt(int v) {
        while ((v & ~0x7F) != 0) {
            writeByte((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        return writeByte(v);
    }

    /**
     * Flink's {@code StringValue.writeString} (what {@code StringSerializer} writes): length + 1
     * in 7-bit groups, low group first, then every char in 7-bit groups the same way (one byte a
     * char for ASCII).
     */
    ByteWriter writeFlinkString(CharSequence s) {
        int len = s.length() + 1;
        while (len >= 0x80) {
            writeByte(len | 0x80);
            len >>>= 7;
        }
        writeByte(len);
        for (int i = 0; i < s.length(); i++) {
            int c = s.charAt(i);
            while (c >= 0x80) {
                writeByte(c | 0x80);
                c >>>= 7;
            }
            writeByte(c);
        }
        return this;
    }

    ByteWriter write(byte[] src, int offset, int length) {
        ensure(length);
        System.arraycopy(src, offset, buf, pos, length);
        pos += length;
        return this;
    }

    /** The bytes needed by {@link #writeVarInt} for {@code v}. */
    static int varIntLength(int v) {
        int n = 1;
        while ((v & ~0x7F) != 0) {
            v >>>= 7;
            n++;
        }
        return n;
    }

    private void ensure(int more) {
        if (pos + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + more));
        }
    }
}

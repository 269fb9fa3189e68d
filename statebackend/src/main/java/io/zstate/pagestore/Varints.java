package io.zstate.pagestore;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * Unsigned LEB128 ints (seven bits a byte, low first, high bit set while more follow): the one
 * varint of zstate's checkpoint files (delta records, page images).
 */
public final class Varints {

    private Varints() {}

    public static void write(DataOutput out, int value) throws IOException {
        while ((value & ~0x7f) != 0) {
            out.writeByte((value & 0x7f) | 0x80);
            value >>>= 7;
        }
        out.writeByte(value);
    }

    /**
     * Reads one varint; {@code where} names the checkpoint file in the error if it runs longer
     * than an int can (the file is corrupt).
     */
    public static int read(DataInput in, String where) throws IOException {
        int value = 0;
        for (int shift = 0; shift < 35; shift += 7) {
            int b = in.readUnsignedByte();
            value |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return value;
            }
        }
        throw new IOException("The checkpoint file " + where + " is corrupt: a varint longer than 5 bytes");
    }
}

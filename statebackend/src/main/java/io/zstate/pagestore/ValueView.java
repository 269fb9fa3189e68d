package io.zstate.pagestore;

/**
 * Where a value read from the page store sits: a range of a byte array owned by the store.
 * Valid until the next call on the store; copy or deserialize it before then. One instance is
 * reused by the caller, so a read allocates nothing.
 */
public final class ValueView {
    byte[] array;
    int offset;
    int length;

    public byte[] array() {
        return array;
    }

    public int offset() {
        return offset;
    }

    public int length() {
        return length;
    }

    /** A copy of the bytes; allocates, for tests and slow paths. */
    public byte[] toByteArray() {
        return java.util.Arrays.copyOfRange(array, offset, offset + length);
    }

    /** Internal: the page store points the view at a value. */
    public void set(byte[] array, int offset, int length) {
        this.array = array;
        this.offset = offset;
        this.length = length;
    }
}

package io.zstate.pagestore;

import java.util.Arrays;

/**
 * The page store's append as the tests' models apply it, one rule for all of them: the bytes are
 * added to the key's value, or, if the key has none, the key gets them past their one-byte
 * separator ({@link PageStore#append}, {@link WriteVisitor#APPEND_SEPARATOR_BYTES}).
 */
public final class AppendModel {

    private AppendModel() {}

    /** The value an append of {@code more} leaves, {@code old} being the key's value or null. */
    public static byte[] appended(byte[] old, byte[] more) {
        if (old == null) {
            return Arrays.copyOfRange(more, WriteVisitor.APPEND_SEPARATOR_BYTES, more.length);
        }
        byte[] joined = Arrays.copyOf(old, old.length + more.length);
        System.arraycopy(more, 0, joined, old.length, more.length);
        return joined;
    }
}

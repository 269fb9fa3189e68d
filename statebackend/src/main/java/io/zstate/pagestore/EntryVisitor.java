package io.zstate.pagestore;

/**
 * Receives entries during an iteration. The arrays belong to the store and are valid only
 * during the call; the visitor must not call back into the store.
 */
@FunctionalInterface
public interface EntryVisitor {
    void visit(byte[] key, int keyOffset, int keyLength, byte[] value, int valueOffset, int valueLength);
}

package io.zstate.pagestore;

/**
 * Receives writes that were waiting in the write buffer when a store was frozen, in an order
 * that keeps each key's writes in the order they came: {@link #PUT} (the value replaces the
 * key's), {@link #APPEND} (the value is appended to the key's; a key without one gets the value's
 * bytes after its first {@link #APPEND_SEPARATOR_BYTES}, as {@code PageStore.append} defines it)
 * or {@link #REMOVE} (the key goes, if it exists). The arrays belong to the store and are valid
 * only during the call.
 */
@FunctionalInterface
public interface WriteVisitor {

    int PUT = 1;
    int APPEND = 2;
    int REMOVE = 3;

    /**
     * The bytes an append starts with that separate it from the value before it, and that a key
     * without a value does not keep (ListState's delimiter): every place that applies an append
     * to an absent key skips these.
     */
    int APPEND_SEPARATOR_BYTES = 1;

    void visit(int op, int table, int keyGroup, byte[] bytes, int keyOffset, int keyLength, int prefixLength,
            int valueOffset, int valueLength);
}

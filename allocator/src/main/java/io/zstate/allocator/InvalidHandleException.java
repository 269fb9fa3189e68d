package io.zstate.allocator;

/**
 * A handle that does not name a live object of the pool it was given to: freed (double free, use
 * after free), never issued, or issued by another pool. Thrown before the pool touches anything.
 */
public final class InvalidHandleException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public InvalidHandleException(String message) {
        super(message);
    }
}

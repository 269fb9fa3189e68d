package io.zstate.pagestore;

/**
 * The page store failed: an I/O error of its spill store, or a stored page that does not decode,
 * interrupted an operation, so the store may be half-changed. It serves nothing more; every later
 * call throws this exception again, naming the first failure and what was being done. The task
 * must restore from its last checkpoint (Flink does so when the exception fails the task).
 */
public final class PageStoreFailedException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    PageStoreFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.zstate.pagestore.index;

/**
 * Pages by id, for a walk over chains ({@link ChainWalker}): the live store's pages (faulted in
 * and pinned by the pager) or a frozen view's (decoded from a snapshot's copies). A walk holds at
 * most a bucket page and one blob page at a time and releases them in the reverse order.
 */
public interface PageSource {

    /** The bytes of a page, valid and unchanged until {@link #release}; the caller must not write them. */
    byte[] acquire(int pageId);

    /** Gives back the page most recently acquired and not yet released. */
    void release(int pageId);

    /** A bucket page's extendible-hashing depth. */
    int depth(int pageId);
}

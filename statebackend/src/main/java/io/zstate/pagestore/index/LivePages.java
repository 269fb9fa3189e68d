package io.zstate.pagestore.index;

import io.zstate.pagestore.tier.Pager;

/** The live store's pages as a {@link PageSource}: faulted in by the pager and pinned while held. */
final class LivePages implements PageSource {

    private final Pager pager;

    LivePages(Pager pager) {
        this.pager = pager;
    }

    @Override
    public byte[] acquire(int pageId) {
        int slot = pager.load(pageId);
        pager.pin(slot);
        return pager.page(slot);
    }

    @Override
    public void release(int pageId) {
        pager.unpin(pager.cachedSlot(pageId));
    }

    @Override
    public int depth(int pageId) {
        return pager.depth(pageId);
    }
}

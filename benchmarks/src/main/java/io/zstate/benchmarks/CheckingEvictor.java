package io.zstate.benchmarks;

import io.zstate.allocator.Evictor;
import java.nio.ByteBuffer;

/**
 * An evictor that accepts every object, counts them, and checks each one's bytes against the
 * corpus page it was written from; a mismatch throws at once (out of the pool's reclaim).
 */
final class CheckingEvictor implements Evictor {

    private final StatePageCorpus corpus;
    private final HandleIndex pages;
    private long evicted;
    private long evictedBytes;

    CheckingEvictor(StatePageCorpus corpus, HandleIndex pages) {
        this.corpus = corpus;
        this.pages = pages;
    }

    @Override
    public boolean evict(long handle, ByteBuffer data) {
        int page = pages.get(handle);
        if (page < 0) {
            throw new IllegalStateException("evictor got handle 0x" + Long.toHexString(handle) + " never allocated");
        }
        int size = data.remaining();
        if (size != corpus.size(page)) {
            throw new IllegalStateException("evicted object 0x" + Long.toHexString(handle) + " has " + size
                    + " bytes, its page " + page + " has " + corpus.size(page));
        }
        byte[] expected = corpus.data();
        int base = corpus.offset(page);
        int pos = data.position();
        for (int i = 0; i < size; i++) {
            if (data.get(pos + i) != expected[base + i]) {
                throw new IllegalStateException("evicted object 0x" + Long.toHexString(handle)
                        + " differs from its page " + page + " at byte " + i);
            }
        }
        evicted++;
        evictedBytes += size;
        return true;
    }

    long evicted() {
        return evicted;
    }

    long evictedBytes() {
        return evictedBytes;
    }
}

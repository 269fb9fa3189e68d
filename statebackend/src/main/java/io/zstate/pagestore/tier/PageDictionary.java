package io.zstate.pagestore.tier;

import com.github.luben.zstd.ZstdDictTrainer;

/**
 * The zstd dictionary of one page store, trained on the store's own pages (zram loads a
 * pre-trained dictionary; a keyed state's pages are alike enough that one trained on a sample of
 * them compresses the rest 1.6x better than LZ4 a page: docs/allocator.md, "Density").
 *
 * <pre>
 *   SKIPPING ---(skipPages encoded)---> SAMPLING ---(samplePages copied)---> TRAINING
 *                                                                               |
 *                       READY (dictionary(): the bytes) <---- trained ----------+
 *                       FAILED (reason(): why; the store stays on LZ4) <-- failed
 *   any state --close--> CLOSED (a training still running is dropped when it ends)
 * </pre>
 *
 * Pages are offered as the codecs encode them ({@link #offer}, on the task's thread or the
 * reaper's); the first {@code skipPages} are passed over so a small store never spends the
 * sample's memory, the next {@code samplePages} are copied into a buffer that grows with them,
 * and a thread of its own trains the dictionary from them and ends: the task never waits for the
 * training. Trainings run one at a time in the JVM ({@link #TRAINING}: the stores of a
 * TaskManager that fill their samples together queue rather than train at once, each holding
 * zstd's training memory, several megabytes, only while it trains). The
 * dictionary never changes once trained (a stored page's ZSTD codec byte means "this store's
 * dictionary"), and never leaves the process: checkpoints hold pages raw, and a restored store
 * trains its own from the pages it places.
 *
 * <p>Memory: the sample buffer (about 1 MiB, heap) from sampling until trained, then the
 * dictionary ({@link #DICTIONARY_BYTES}, or a 16th of a smaller sample: heap). The codecs' native contexts are accounted by the
 * pager ({@link PageCodec#ZSTD_NATIVE_RESERVE}). Thread-safe: its monitor guards the sample and
 * the state; {@link #dictionary()} is a volatile read.
 */
public final class PageDictionary implements AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(PageDictionary.class);

    /** Bytes of a trained dictionary (16 KiB: what DensityReport measured), at most a 16th of the sample. */
    public static final int DICTIONARY_BYTES = 16 * 1024;
    /** zstd's smallest dictionary. */
    static final int MIN_DICTIONARY_BYTES = 256;
    /** Bytes of pages sampled (and, before them, skipped) by default. */
    static final int SAMPLE_BYTES = 1 << 20;
    /** The fewest pages a sample holds, whatever the page size. */
    static final int MIN_SAMPLE_PAGES = 64;

    enum State { SKIPPING, SAMPLING, TRAINING, READY, FAILED, CLOSED }

    /** Held by the one training running in the JVM. */
    private static final Object TRAINING = new Object();

    private final int pageSize;
    private final int skipPages;
    private final int samplePages;
    /** Trains on the thread that offers the last sample page (deterministic: tests). */
    private final boolean trainsInline;
    private State state = State.SKIPPING;
    private int skipped;
    private byte[] sample;
    private int sampled;
    private String reason;
    /** The thread that trained it (tests: off the encoding thread, or inline). */
    private String trainedBy;
    /** The trained dictionary, or null: read by every codec at every encode and decode. */
    private volatile byte[] dictionary;
    /** Whether pages are still wanted: a volatile the encoders read before taking the monitor. */
    private volatile boolean wanting = true;

    /** A dictionary that samples a megabyte of pages after the first megabyte (at least 64 pages each). */
    public static PageDictionary forPages(int pageSize) {
        int pages = Math.max(MIN_SAMPLE_PAGES, SAMPLE_BYTES / pageSize);
        return new PageDictionary(pageSize, pages, pages, false);
    }

    /**
     * A dictionary that passes over the first {@code skipPages} pages offered and trains on the
     * next {@code samplePages}: on a thread of its own, or with {@code trainsInline} on the thread
     * that offers the last of them (deterministic, for tests).
     */
    public PageDictionary(int pageSize, int skipPages, int samplePages, boolean trainsInline) {
        if (skipPages < 0 || samplePages < 1) {
            throw new IllegalArgumentException("a dictionary skips at least 0 pages and samples at least 1, not "
                    + skipPages + " and " + samplePages);
        }
        this.pageSize = pageSize;
        this.skipPages = skipPages;
        this.samplePages = samplePages;
        this.trainsInline = trainsInline;
    }

    /** The trained dictionary, or null before (or without) one. */
    public byte[] dictionary() {
        return dictionary;
    }

    /** Offers a page an encoder is about to compress without the dictionary; cheap once none is wanted. */
    void offer(byte[] page) {
        if (!wanting) {
            return;
        }
        boolean train = false;
        synchronized (this) {
            if (state == State.SKIPPING) {
                if (++skipped < skipPages) {
                    return;
                }
                state = State.SAMPLING;
                sample = new byte[Math.min(samplePages, 16) * pageSize];
                if (skipPages > 0) {
                    return; // the page that ended the skipping is not sampled: every sampled page follows it
                }
            }
            if (state != State.SAMPLING) {
                return;
            }
            if ((sampled + 1) * pageSize > sample.length) {
                sample = java.util.Arrays.copyOf(sample, Math.min(samplePages, 2 * (sampled + 1)) * pageSize);
            }
            System.arraycopy(page, 0, sample, sampled * pageSize, pageSize);
            if (++sampled == samplePages) {
                state = State.TRAINING;
                wanting = false;
                train = true;
            }
        }
        if (train && trainsInline) {
            train();
        } else if (train) {
            Thread trainer = new Thread(this::train, "zstate-dictionary-training");
            trainer.setDaemon(true);
            trainer.start();
        }
    }

    private void train() {
        byte[] trained = null;
        String failure = null;
        try {
            synchronized (TRAINING) {
                byte[] pages;
                synchronized (this) {
                    pages = sample;
                    trainedBy = Thread.currentThread().getName();
                }
                if (pages != null) { // else closed while it waited
                    int size = Math.max(MIN_DICTIONARY_BYTES, Math.min(DICTIONARY_BYTES, pages.length / 16));
                    ZstdDictTrainer trainer = new ZstdDictTrainer(pages.length, size);
                    for (int at = 0; at < pages.length; at += pageSize) {
                        trainer.addSample(java.util.Arrays.copyOfRange(pages, at, at + pageSize));
                    }
                    trained = trainer.trainSamples();
                }
            }
        } catch (Throwable e) { // ZstdException (samples too few or too alike), or no direct memory, no library
            failure = e.toString();
        }
        synchronized (this) {
            sample = null;
            if (state == State.CLOSED) {
                return;
            }
            if (failure != null || trained == null) {
                state = State.FAILED;
                reason = failure == null ? "nothing to train on" : failure;
                LOG.warn("Could not train the zstd dictionary of a page store's pages ({}); its pages stay LZ4.",
                        reason);
            } else {
                state = State.READY;
                dictionary = trained;
            }
            notifyAll();
        }
    }

    /** Where it is: SKIPPING, SAMPLING, TRAINING, READY, FAILED or CLOSED. */
    synchronized State state() {
        return state;
    }

    /** Why the training failed, or null. */
    public synchronized String reason() {
        return reason;
    }

    /** The name of the thread that trained it, or null before. */
    synchronized String trainedBy() {
        return trainedBy;
    }

    /** Heap bytes it holds now: the sample while sampling or training, then the dictionary. */
    public synchronized long heapBytes() {
        byte[] d = dictionary;
        return (sample == null ? 0 : sample.length) + (d == null ? 0 : d.length);
    }

    /**
     * Waits up to {@code millis} for the training to end (tests and tools); returns whether a
     * dictionary is ready.
     */
    public synchronized boolean awaitTrained(long millis) throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (state == State.TRAINING || state == State.SAMPLING || state == State.SKIPPING) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0 || state != State.TRAINING) {
                return false; // nothing trains before the sample is full
            }
            wait(left);
        }
        return state == State.READY;
    }

    /** Drops the sample; a training still running is dropped when it ends. The dictionary stays readable. */
    @Override
    public synchronized void close() {
        state = State.CLOSED;
        wanting = false;
        sample = null;
        notifyAll();
    }

    @Override
    public synchronized String toString() {
        return "PageDictionary{" + state + (reason == null ? "" : ": " + reason) + ", sampled " + sampled + " of "
                + samplePages + " pages after " + skipPages + "}";
    }
}

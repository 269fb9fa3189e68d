package io.zstate.jobs;

import java.util.concurrent.atomic.LongAdder;

/**
 * Events processed by example-job operators in this JVM. Embedded runs read it for progress
 * lines; on a cluster each TaskManager has its own and nobody reads it.
 */
public final class Progress {

    /** Events processed so far. */
    public static final LongAdder PROCESSED = new LongAdder();

    private Progress() {}
}

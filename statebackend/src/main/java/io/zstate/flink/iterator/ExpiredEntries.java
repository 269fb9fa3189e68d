package io.zstate.flink.iterator;

/**
 * Where a checkpoint's walk reports the entries it copies, for TTL cleanup in the background
 * ({@code io.zstate.flink.ZTtlPurge}): called on the snapshot's asynchronous thread. Public,
 * internal.
 */
public interface ExpiredEntries {

    /** Whether entries of this table are wanted (a TTL state with background cleanup). */
    boolean wanted(int table);

    /** Whether a stored value of this table has expired (read only; the array stays the caller's). */
    boolean expired(int table, byte[] value);

    /** Notes an expired entry as the checkpoint copied it; the arrays are the receiver's to keep. */
    void note(int table, int keyGroup, byte[] key, byte[] value);
}

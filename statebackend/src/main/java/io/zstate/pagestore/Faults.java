package io.zstate.pagestore;

/**
 * Test seams at every place the page store meets the outside (internal: for tests): asked
 * before each such step whether it should fail, the step then fails the way the real thing
 * would (an OutOfMemoryError from the arena memory, an LZ4Exception from the codec, a
 * RocksDBException from the spill store). Production uses {@link #NONE}, which the JIT reduces
 * to nothing.
 *
 * <pre>
 *   ARENA        a new pool arena (the memory refuses it: running short, the page spills)
 *   COMPRESS     compressing a page on store (it is stored raw instead, like a bounced page)
 *   DECOMPRESS   decompressing a page on fault-in (a corrupt page: the store fails)
 *   SPILL_WRITE  a RocksDB put, write-batch commit or delete (the store fails)
 *   SPILL_READ   a RocksDB get (the store fails)
 * </pre>
 *
 * Checkpoint output streams and restore input streams are Flink's; tests fail them through
 * Flink's own stream factories and state handles.
 */
@FunctionalInterface
public interface Faults {

    /** The seams. */
    enum Seam { ARENA, COMPRESS, DECOMPRESS, SPILL_WRITE, SPILL_READ }

    /** Never fails. */
    Faults NONE = seam -> false;

    /** Whether the step at {@code seam} about to run should fail. */
    boolean fail(Seam seam);
}

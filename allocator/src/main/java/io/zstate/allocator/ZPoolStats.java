package io.zstate.allocator;

/**
 * A pool's occupancy and cumulative counters at one moment.
 *
 * @param type allocator name
 * @param frameSize bytes per frame
 * @param framesHeld frames the pool holds from its frame source
 * @param objects live objects
 * @param payloadBytes sum of the sizes of live objects, as requested by malloc
 * @param metadataBytes on-heap bytes of the pool's own structures (handle table, lists, spans)
 * @param mallocs successful mallocs so far
 * @param noSpace mallocs answered {@link ZPool#NO_SPACE}
 * @param frees frees by callers
 * @param reclaimedFrames frames released by {@link ZPool#reclaim}
 * @param evictedObjects objects handed to evictors and freed
 * @param compactedFrames frames released by {@link ZPool#compact}
 * @param movedObjects objects moved by compaction
 * @param inFrameMetadataBytes bytes inside the held frames taken by the pool's own headers
 *     (frame, slot, record or block headers), neither payload nor free space
 * @param reads reads by callers so far
 * @param readCopies contiguous copies out of frames those reads took: one per piece of an object
 *     (an object crossing into a second frame takes two; an xcfmalloc object one per block)
 * @param splitReads reads of objects in more than one piece
 */
public record ZPoolStats(
        String type,
        int frameSize,
        long framesHeld,
        long objects,
        long payloadBytes,
        long metadataBytes,
        long mallocs,
        long noSpace,
        long frees,
        long reclaimedFrames,
        long evictedObjects,
        long compactedFrames,
        long movedObjects,
        long inFrameMetadataBytes,
        long reads,
        long readCopies,
        long splitReads) {

    /** Bytes of frames held. */
    public long bytesHeld() {
        return framesHeld * frameSize;
    }

    /** Payload bytes / bytes of frames held; 0 when no frame is held. */
    public double utilization() {
        return framesHeld == 0 ? 0.0 : (double) payloadBytes / bytesHeld();
    }

    /** On-heap metadata bytes per live object; 0 when there is none. */
    public double metadataBytesPerObject() {
        return objects == 0 ? 0.0 : (double) metadataBytes / objects;
    }

    /** In-frame header bytes per live object; 0 when there is none. */
    public double inFrameMetadataBytesPerObject() {
        return objects == 0 ? 0.0 : (double) inFrameMetadataBytes / objects;
    }

    /** Contiguous copies per read (1.0 when no object is in pieces); 0 before any read. */
    public double copiesPerRead() {
        return reads == 0 ? 0.0 : (double) readCopies / reads;
    }

    /** The share of reads whose object is in more than one piece; 0 before any read. */
    public double splitReadShare() {
        return reads == 0 ? 0.0 : (double) splitReads / reads;
    }

    /** Objects evicted per frame released by reclaim; 0 before any reclaim. */
    public double evictedObjectsPerReclaimedFrame() {
        return reclaimedFrames == 0 ? 0.0 : (double) evictedObjects / reclaimedFrames;
    }
}

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
        long movedObjects) {

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

    /** Objects evicted per frame released by reclaim; 0 before any reclaim. */
    public double evictedObjectsPerReclaimedFrame() {
        return reclaimedFrames == 0 ? 0.0 : (double) evictedObjects / reclaimedFrames;
    }
}

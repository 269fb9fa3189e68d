package io.zstate.benchmarks;

import io.zstate.allocator.ZPoolStats;

/**
 * A pool's occupancy at the end of one report phase.
 *
 * @param objects live objects
 * @param frames frames the pool holds
 * @param payloadBytes bytes of live objects
 * @param utilization payload bytes / bytes of frames held
 * @param metadataBytes on-heap bytes of the pool's own structures
 * @param metadataBytesPerObject on-heap metadata bytes per live object
 * @param millis how long the phase took
 * @param inFrameMetadataBytesPerObject bytes of the pool's headers inside the frames per live object
 * @param reads reads of the pool so far
 * @param copiesPerRead contiguous copies per read so far (one per piece of an object)
 * @param splitReadShare share of the reads so far whose object was in more than one piece
 */
public record PhaseStats(long objects, long frames, long payloadBytes, double utilization,
        long metadataBytes, double metadataBytesPerObject, long millis, double inFrameMetadataBytesPerObject,
        long reads, double copiesPerRead, double splitReadShare) {

    static PhaseStats of(ZPoolStats s, long millis) {
        return new PhaseStats(s.objects(), s.framesHeld(), s.payloadBytes(), s.utilization(),
                s.metadataBytes(), s.metadataBytesPerObject(), millis, s.inFrameMetadataBytesPerObject(),
                s.reads(), s.copiesPerRead(), s.splitReadShare());
    }
}

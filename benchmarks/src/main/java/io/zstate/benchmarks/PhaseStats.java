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
 */
public record PhaseStats(long objects, long frames, long payloadBytes, double utilization,
        long metadataBytes, double metadataBytesPerObject, long millis) {

    static PhaseStats of(ZPoolStats s, long millis) {
        return new PhaseStats(s.objects(), s.framesHeld(), s.payloadBytes(), s.utilization(),
                s.metadataBytes(), s.metadataBytesPerObject(), millis);
    }
}

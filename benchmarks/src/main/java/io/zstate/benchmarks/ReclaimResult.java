package io.zstate.benchmarks;

/**
 * What reclaiming a full pool frame by frame did.
 *
 * @param calls reclaim(1, evictor) calls made
 * @param framesReleased frames the calls returned, summed
 * @param objectsEvicted objects the evictor received (all accepted)
 * @param maxFramesPerCall the most frames one reclaim(1, ...) call released
 * @param callsOverMax calls that released more frames than the 1 asked for
 * @param wholeFrames every call's return equalled the drop in the frame source's frames in use
 * @param emptied the pool ended with no object and no frame
 * @param millis how long reclaiming took
 */
public record ReclaimResult(long calls, long framesReleased, long objectsEvicted, int maxFramesPerCall,
        long callsOverMax, boolean wholeFrames, boolean emptied, long millis) {

    /** Objects evicted per frame released. */
    public double objectsPerFrame() {
        return framesReleased == 0 ? 0.0 : (double) objectsEvicted / framesReleased;
    }
}

package io.zstate.jobs;

import java.io.Serializable;

/**
 * How big an example job run is: distinct keys, total events and the source's rate. Sources
 * derive every event from its index alone, so two runs of the same size see the same stream.
 *
 * @param keys distinct keys (users, sensors, sessions ...)
 * @param events events the source emits, then it finishes
 * @param eventsPerSecond source rate over all subtasks, or 0 for as fast as the job goes
 */
public record JobSize(long keys, long events, double eventsPerSecond) implements Serializable {

    public JobSize {
        if (keys < 1 || events < keys || eventsPerSecond < 0) {
            throw new IllegalArgumentException("need keys >= 1, events >= keys and a rate >= 0, got keys "
                    + keys + ", events " + events + ", rate " + eventsPerSecond);
        }
    }
}

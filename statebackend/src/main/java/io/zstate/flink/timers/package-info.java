/**
 * The backend's timer queues: Flink's timers in a heap of primitive timestamps. Internal to the
 * backend; snapshots and restores of timers go through Flink's heap wrapper unchanged.
 */
package io.zstate.flink.timers;

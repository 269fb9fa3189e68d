/**
 * The page store's counters as Flink gauges ({@code ZStateMetrics}) and, for embedded runs and
 * benchmarks, per JVM ({@code ZStateLocalStats}, public).
 */
package io.zstate.flink.metrics;

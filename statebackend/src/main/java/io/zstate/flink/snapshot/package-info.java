/**
 * Full snapshots in the canonical savepoint layout: frozen on the task thread, written
 * asynchronously by Flink's {@code FullSnapshotAsyncWriter}. Internal to the backend.
 */
package io.zstate.flink.snapshot;

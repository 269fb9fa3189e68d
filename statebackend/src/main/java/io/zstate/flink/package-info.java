/**
 * The Flink side of zstate, laid out as Flink's RocksDB backend: the public {@code ZStateBackend},
 * {@code ZStateBackendFactory} and {@code ZStateOptions}; the keyed backend and its builder; the
 * package-private state classes; and what they share ({@code CompositeKeyBuffer}, {@code
 * ZStateTables}, {@code ZSnapshotTransforms}). Restore, snapshot, iteration and metrics live in
 * the subpackages; what they need from here is public and says so ("internal") in its javadoc.
 */
package io.zstate.flink;

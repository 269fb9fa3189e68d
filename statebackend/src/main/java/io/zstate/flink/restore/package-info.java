/**
 * Restoring full snapshots and canonical savepoints into the page store, and migrating restored
 * entries when a state is registered with a serializer that needs it. Internal to the backend.
 */
package io.zstate.flink.restore;

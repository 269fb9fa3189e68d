/**
 * Walks over stored entries: a snapshot's entries in (key-group, state) order, the keys and
 * namespaces of a state, the entries of one map. Internal to the backend.
 */
package io.zstate.flink.iterator;

package io.zstate.flink;

import io.zstate.flink.iterator.ExpiredEntries;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.runtime.state.ttl.TtlTimeProvider;
import org.apache.flink.runtime.state.ttl.TtlUtils;
import org.apache.flink.runtime.state.ttl.TtlValue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TTL cleanup in the background, zstate's counterpart of RocksDB's compaction filter: where
 * RocksDB drops expired entries while compaction rewrites its files, zstate drops them after the
 * pass that reads every entry anyway, a checkpoint's. For the states whose TTL asks for
 * background cleanup (Flink's default; RocksDB's criterion: {@code
 * CleanupStrategies.inRocksdbCompactFilter()}):
 *
 * <pre>
 *   snapshot thread   while the checkpoint walks the frozen store, each entry whose last-access
 *                     timestamp (the first 8 bytes of a TtlValue: a value, a list's first
 *                     element, a map entry's value after its null flag) has expired is noted,
 *                     key and value copied (up to 64 MiB per checkpoint; the next one notes
 *                     the rest)
 *   task thread       when Flink reports the checkpoint complete, the noted entries are decoded
 *                     as states and cut to their unexpired part, as the incremental cleanup does:
 *                     expired values and map entries removed, lists rewritten without their
 *                     expired elements; an entry written since it was noted is left alone
 *   aborted           the notes of an aborted or subsumed checkpoint are dropped
 * </pre>
 *
 * Nothing is read on behalf of the user, and with Flink's default visibility an expired value
 * is never returned anyway (with ReturnExpiredIfNotCleanedUp it is, until cleaned up: as on
 * RocksDB after a compaction); what changes is that it stops costing memory. Failures of the cleanup are
 * logged and the notes dropped: cleanup is best effort and must not fail the job.
 *
 * <p>Owns the notes and the expiry test on stored bytes; the decoding and the guarded writes are
 * the state classes' ({@link AbstractZState#statesOf}, {@code removeStates}, {@code updateStates}).
 */
final class ZTtlPurge {

    private static final Logger LOG = LoggerFactory.getLogger(ZTtlPurge.class);
    static final long MAX_NOTED_BYTES = 64L << 20;

    /** Where a state's timestamp is and how long its values live. */
    private record Ttl(long millis, boolean mapEntry) {}

    private final TtlTimeProvider time;
    /** TTL states by table; replaced whole on change, read by snapshot threads. */
    private volatile Map<Integer, Ttl> ttls = Map.of();
    private final Map<Long, Notes> notes = new ConcurrentHashMap<>();

    ZTtlPurge(TtlTimeProvider time) {
        this.time = time;
    }

    /** Notes whether a state (newly registered or updated) gets background cleanup. */
    void register(int table, StateDescriptor<?, ?> descriptor) {
        StateTtlConfig config = descriptor.getTtlConfig();
        Map<Integer, Ttl> updated = new HashMap<>(ttls);
        if (config.isEnabled() && config.getCleanupStrategies().inRocksdbCompactFilter()) {
            updated.put(table, new Ttl(config.getTimeToLive().toMillis(),
                    descriptor.getType() == StateDescriptor.Type.MAP));
        } else {
            updated.remove(table);
        }
        ttls = Map.copyOf(updated);
    }

    /** Notes for the snapshot of a checkpoint, or null if no state asks for background cleanup. */
    ExpiredEntries startNoting(long checkpointId) {
        Map<Integer, Ttl> current = ttls;
        if (current.isEmpty()) {
            return null;
        }
        Notes n = new Notes(current, time.currentTimestamp());
        notes.put(checkpointId, n);
        return n;
    }

    /** The checkpoint completed: its notes are acted on, older ones dropped. On the task thread. */
    void checkpointComplete(long checkpointId, Map<Integer, AbstractZState<?, ?, ?>> states) {
        Notes n = notes.remove(checkpointId);
        notes.keySet().removeIf(id -> id < checkpointId);
        if (n == null) {
            return;
        }
        long now = time.currentTimestamp();
        Map<Integer, Map<Integer, List<byte[][]>>> noted;
        synchronized (n) { // written by the snapshot thread under the same monitor
            noted = new HashMap<>(n.entries);
        }
        for (Map.Entry<Integer, Map<Integer, List<byte[][]>>> table : noted.entrySet()) {
            AbstractZState<?, ?, ?> state = states.get(table.getKey());
            Ttl ttl = n.ttls.get(table.getKey());
            if (state == null || ttl == null) {
                continue;
            }
            try {
                purge(state, table.getValue(), ttl.millis(), now);
            } catch (Exception e) {
                LOG.warn("zstate: background TTL cleanup of state {} after checkpoint {} failed; its expired"
                        + " entries stay until a later checkpoint or read", state.info.meta().getName(), checkpointId, e);
            }
        }
    }

    void checkpointAborted(long checkpointId) {
        notes.remove(checkpointId);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static <K, N, V> void purge(AbstractZState<K, N, V> state, Map<Integer, List<byte[][]>> byKeyGroup,
            long ttl, long now) throws Exception {
        for (Map.Entry<Integer, List<byte[][]>> group : byKeyGroup.entrySet()) {
            for (ZStateIncrementalVisitor.ZStateEntry<K, N, V> entry : state.statesOf(group.getKey(), group.getValue())) {
                V value = entry.getState();
                Object unexpired = unexpired(value, ttl, now);
                if (unexpired == null) {
                    state.removeStates(entry);
                } else if (unexpired != value) {
                    state.updateStates(entry, (V) unexpired);
                }
            }
        }
    }

    /** A state's unexpired part: itself, a smaller list or map, or null if nothing is left. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static Object unexpired(Object state, long ttl, long now) {
        if (state instanceof TtlValue<?> value) {
            return TtlUtils.expired(value, ttl, now) ? null : state;
        }
        if (state instanceof List<?> list) {
            List<Object> kept = new ArrayList<>(list.size());
            for (Object element : list) {
                if (!(element instanceof TtlValue<?> value) || !TtlUtils.expired(value, ttl, now)) {
                    kept.add(element);
                }
            }
            return kept.isEmpty() ? null : kept.size() == list.size() ? state : kept;
        }
        if (state instanceof Map<?, ?> map) {
            Map<Object, Object> kept = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!(e.getValue() instanceof TtlValue<?> value) || !TtlUtils.expired(value, ttl, now)) {
                    kept.put(e.getKey(), e.getValue());
                }
            }
            return kept.isEmpty() ? null : kept.size() == map.size() ? state : kept;
        }
        return state;
    }

    /** One checkpoint's notes: written by its snapshot thread, read on the task thread after it completed. */
    private static final class Notes implements ExpiredEntries {
        final Map<Integer, Ttl> ttls;
        final long now;
        /** table -> key-group -> [key, value] copies. */
        final Map<Integer, Map<Integer, List<byte[][]>>> entries = new HashMap<>();
        private long bytes;

        Notes(Map<Integer, Ttl> ttls, long now) {
            this.ttls = ttls;
            this.now = now;
        }

        @Override
        public boolean wanted(int table) {
            return ttls.containsKey(table);
        }

        /** Whether the TtlValue timestamp a stored value starts with (after a map entry's null flag) has expired. */
        @Override
        public boolean expired(int table, byte[] value) {
            Ttl ttl = ttls.get(table);
            if (ttl == null) {
                return false;
            }
            int at = ttl.mapEntry() ? 1 : 0;
            if (value.length < at + Long.BYTES || (ttl.mapEntry() && value[0] != 0)) {
                return false;
            }
            long timestamp = 0;
            for (int i = 0; i < Long.BYTES; i++) {
                timestamp = timestamp << 8 | (value[at + i] & 0xff);
            }
            return TtlUtils.expired(timestamp, ttl.millis(), now);
        }

        @Override
        public synchronized void note(int table, int keyGroup, byte[] key, byte[] value) {
            if (bytes > MAX_NOTED_BYTES) {
                return;
            }
            entries.computeIfAbsent(table, t -> new HashMap<>())
                    .computeIfAbsent(keyGroup, g -> new ArrayList<>())
                    .add(new byte[][] {key, value});
            bytes += 80 + key.length + value.length; // the pair's arrays, their headers and the list slot
        }
    }
}

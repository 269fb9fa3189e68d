package io.zstate.flink;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import org.apache.flink.runtime.state.internal.InternalKvState.StateIncrementalVisitor;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.StateEntry;
import org.apache.flink.util.FlinkRuntimeException;

/**
 * Walks one state key-group by key-group for Flink's incremental TTL cleanup ({@code
 * TtlIncrementalCleanup}): each key-group's entries are copied out (under the store's lock) and
 * handed out as (key, namespace, state) a batch at a time; the cleanup then removes expired states
 * or rewrites them without their expired parts, through {@link #remove} and {@link #update}.
 *
 * <p>A state is what Flink's state type holds for one (key, namespace): a value, a whole list, a
 * whole map; the state class turns stored entries into states ({@link AbstractZState#statesOf}),
 * so a map's user-key entries become one state. Copying a key-group at a time bounds what is held
 * to one key-group of one state. The cleanup acts on a copy that the task may have changed since
 * (Flink works through a batch over many later state accesses), so {@link #remove} and {@link
 * #update} act on a stored entry only if it still holds exactly the bytes that were copied: an
 * entry written since is newer than what the cleanup judged, and is left alone (a later round
 * sees it).
 *
 * <p>Touches the state's table only through the state; not thread-safe (the task thread).
 */
final class ZStateIncrementalVisitor<K, N, V> implements StateIncrementalVisitor<K, N, V> {

    private final AbstractZState<K, N, V> state;
    private final KeyGroupRange range;
    private final int batch;
    private int nextKeyGroup;
    private List<ZStateEntry<K, N, V>> pending = List.of();
    private int next;

    ZStateIncrementalVisitor(AbstractZState<K, N, V> state, KeyGroupRange range, int recommendedBatch) {
        this.state = state;
        this.range = range;
        this.batch = Math.max(1, recommendedBatch);
        this.nextKeyGroup = range.getStartKeyGroup();
    }

    @Override
    public boolean hasNext() {
        while (next == pending.size() && nextKeyGroup <= range.getEndKeyGroup()) {
            pending = state.statesOf(nextKeyGroup, copyKeyGroup(nextKeyGroup));
            next = 0;
            nextKeyGroup++;
        }
        return next < pending.size();
    }

    @Override
    public Collection<StateEntry<K, N, V>> nextEntries() {
        if (!hasNext()) {
            return List.of();
        }
        int end = Math.min(pending.size(), next + batch);
        List<StateEntry<K, N, V>> entries = new ArrayList<>(pending.subList(next, end));
        next = end;
        return entries;
    }

    @Override
    public void remove(StateEntry<K, N, V> entry) {
        ZStateEntry<K, N, V> stored = (ZStateEntry<K, N, V>) entry;
        state.removeStates(stored);
    }

    @Override
    public void update(StateEntry<K, N, V> entry, V newValue) {
        ZStateEntry<K, N, V> stored = (ZStateEntry<K, N, V>) entry;
        try {
            state.updateStates(stored, newValue);
        } catch (Exception e) {
            throw new FlinkRuntimeException("Error while updating state " + state.info.meta().getName()
                    + " during incremental TTL cleanup", e);
        }
    }

    /** The stored entries of one key-group: [key bytes, value bytes] pairs. */
    private List<byte[][]> copyKeyGroup(int keyGroup) {
        List<byte[][]> entries = new ArrayList<>();
        synchronized (state.store) {
            state.store.forEachInKeyGroup(state.info.table(), keyGroup, (k, ko, kl, v, vo, vl) -> entries.add(
                    new byte[][] {Arrays.copyOfRange(k, ko, ko + kl), Arrays.copyOfRange(v, vo, vo + vl)}));
        }
        return entries;
    }

    /**
     * One state of one (key, namespace) and where it is stored: its key-group, its prefix (key-group
     * | key | namespace), and the stored keys it came from (one, or a map's user-key entries).
     */
    static final class ZStateEntry<K, N, V> implements StateEntry<K, N, V> {
        final int keyGroup;
        final byte[] prefix;
        final List<byte[]> storedKeys;
        /** The stored values as copied, parallel to the keys: remove and update act only on these. */
        final List<byte[]> storedValues;
        /**
         * A map's user keys as decoded into its value, parallel to the stored keys: the very
         * objects the cleanup's result is keyed by (empty for other states).
         */
        final List<Object> userKeys;
        private final K key;
        private final N namespace;
        private final V value;

        ZStateEntry(int keyGroup, byte[] prefix, List<byte[]> storedKeys, List<byte[]> storedValues, K key,
                N namespace, V value) {
            this(keyGroup, prefix, storedKeys, storedValues, List.of(), key, namespace, value);
        }

        ZStateEntry(int keyGroup, byte[] prefix, List<byte[]> storedKeys, List<byte[]> storedValues,
                List<Object> userKeys, K key, N namespace, V value) {
            this.keyGroup = keyGroup;
            this.prefix = prefix;
            this.storedKeys = storedKeys;
            this.storedValues = storedValues;
            this.userKeys = userKeys;
            this.key = key;
            this.namespace = namespace;
            this.value = value;
        }

        @Override
        public K getKey() {
            return key;
        }

        @Override
        public N getNamespace() {
            return namespace;
        }

        @Override
        public V getState() {
            return value;
        }
    }
}

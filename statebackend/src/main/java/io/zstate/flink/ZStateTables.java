package io.zstate.flink;

import io.zstate.flink.timers.TimerQueueFactory;
import io.zstate.pagestore.PageStore;
import java.io.IOException;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.KeyExtractorFunction;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.RegisteredPriorityQueueStateBackendMetaInfo;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSetFactory;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSnapshotRestoreWrapper;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;

/**
 * The registry of a keyed backend's states, built before the backend itself because a restore
 * fills it (and settles the key serializer) before Flink's base class is constructed: the page
 * store, one table per key-value state with Flink's meta info, and the heap timer queues.
 *
 * <p>Owns the registrations and the page store's table ids; must not read or write entries (the
 * states, the restore and the snapshot do, through {@link #store()}).
 *
 * <p>Public, as its {@link ZStateInfo}, for the restore ({@code io.zstate.flink.restore}), the
 * snapshot ({@code io.zstate.flink.snapshot}) and the walks ({@code io.zstate.flink.iterator}):
 * internal, not for users.
 */
public final class ZStateTables {

    private final PageStore store;
    private final KeyGroupRange keyGroupRange;
    private final int numberOfKeyGroups;
    private final int keyGroupPrefixBytes;
    /** Key-value states by name, in registration order (a snapshot's state ids follow it). */
    final LinkedHashMap<String, ZStateInfo> kvStates = new LinkedHashMap<>();
    /** Timer queues by name, in registration order (after the key-value states in a snapshot). */
    final LinkedHashMap<String, HeapPriorityQueueSnapshotRestoreWrapper<?>> pqStates = new LinkedHashMap<>();
    final HeapPriorityQueueSetFactory pqFactory;

    ZStateTables(PageStore store, KeyGroupRange keyGroupRange, int numberOfKeyGroups) {
        this(store, keyGroupRange, numberOfKeyGroups, true);
    }

    ZStateTables(PageStore store, KeyGroupRange keyGroupRange, int numberOfKeyGroups, boolean timerHeap) {
        this.store = store;
        this.keyGroupRange = keyGroupRange;
        this.numberOfKeyGroups = numberOfKeyGroups;
        this.keyGroupPrefixBytes =
                CompositeKeySerializationUtils.computeRequiredBytesInKeyGroupPrefix(numberOfKeyGroups);
        this.pqFactory = new TimerQueueFactory(keyGroupRange, numberOfKeyGroups, 128, timerHeap);
    }

    /** The page store; every access to it and the decoding of what it returns hold its monitor. */
    public PageStore store() {
        return store;
    }

    /** The key-groups of this backend. */
    public KeyGroupRange keyGroupRange() {
        return keyGroupRange;
    }

    /** Bytes of the key-group prefix of every stored key (1 or 2). */
    public int keyGroupPrefixBytes() {
        return keyGroupPrefixBytes;
    }

    /** The key-value states in registration order (a read-only view). */
    public Collection<ZStateInfo> states() {
        return Collections.unmodifiableCollection(kvStates.values());
    }

    /** The timer queues in registration order (a read-only view). */
    public Collection<HeapPriorityQueueSnapshotRestoreWrapper<?>> queues() {
        return Collections.unmodifiableCollection(pqStates.values());
    }

    /** The option of a state's snapshot meta info that keeps its table's hash seed. */
    public static final String HASH_SEED_OPTION = "zstate.hash-seed";

    /**
     * The option of a state's snapshot meta info that names the zstate format the snapshot was
     * written in. Every format this code wrote stays readable: a test restores a checkpoint of
     * each (test resources {@code checkpoints/format-v<N>}).
     */
    public static final String FORMAT_VERSION_OPTION = "zstate.format-version";

    /**
     * The format written now. 1: Flink's canonical key-group layout of full snapshots, each
     * state's table hash seed in {@link #HASH_SEED_OPTION} (snapshots without the option, written
     * by zstate before it had one or by another backend, read as canonical ones). 2: incremental
     * checkpoints (a base in format 1's layout, deltas, a meta file:
     * {@code io.zstate.flink.snapshot.IncrementalFormat}); full snapshots as in 1. 3: an
     * incremental checkpoint's base is the store's pages as they are stored (page images, placed
     * into the pool on restore); format-2 bases stay readable; full snapshots as in 1.
     */
    public static final int FORMAT_VERSION = 3;

    /**
     * Registers a state found in a snapshot, or returns the one already registered by that name
     * (in a rescaled restore, the first snapshot's seed is kept: entries are placed anew).
     */
    public ZStateInfo registerRestored(RegisteredKeyValueStateBackendMetaInfo<?, ?> meta, StateMetaInfoSnapshot snapshot) {
        checkFormatVersion(meta.getName(), snapshot.getOption(FORMAT_VERSION_OPTION));
        String seed = snapshot.getOption(HASH_SEED_OPTION);
        return kvStates.computeIfAbsent(meta.getName(), name -> {
            if (seed == null) { // written by another backend
                return new ZStateInfo(store.createTable(name), meta);
            }
            try {
                return new ZStateInfo(store.createTable(name, Integer.parseInt(seed)), meta);
            } catch (NumberFormatException e) {
                throw new IllegalStateException("The snapshot is corrupt: option " + HASH_SEED_OPTION + " of state '"
                        + name + "' is '" + seed + "', expected a 32-bit integer.", e);
            }
        });
    }

    /**
     * Whether a restored state's table places keys with the hash seed the snapshot's pages were
     * written with (then they can be placed as they are; else their entries are put anew).
     */
    public boolean placesLike(ZStateInfo info, StateMetaInfoSnapshot snapshot) {
        String seed = snapshot.getOption(HASH_SEED_OPTION);
        return seed != null && seed.equals(Integer.toString(store.tableSeed(info.table())));
    }

    /** Refuses a snapshot written in a format newer than this code reads, saying what to do. */
    private static void checkFormatVersion(String state, String version) {
        if (version == null) {
            return; // canonical: another backend's, or zstate's before the option
        }
        int v;
        try {
            v = Integer.parseInt(version);
        } catch (NumberFormatException e) {
            throw new IllegalStateException("The snapshot is corrupt: option " + FORMAT_VERSION_OPTION + " of state '"
                    + state + "' is '" + version + "', expected a format version number.", e);
        }
        if (v < 1 || v > FORMAT_VERSION) {
            throw new IllegalStateException("State '" + state + "' was written in zstate snapshot format " + v
                    + ", but this zstate reads formats 1 to " + FORMAT_VERSION + ": restore it with the zstate"
                    + " version that wrote it (or a newer one), or from a canonical savepoint.");
        }
    }

    /**
     * A state's snapshot meta info with zstate's options added: its table's hash seed ({@link
     * #HASH_SEED_OPTION}) and the format version ({@link #FORMAT_VERSION_OPTION}).
     */
    public StateMetaInfoSnapshot withSeed(ZStateInfo info) {
        StateMetaInfoSnapshot meta = info.meta().snapshot();
        java.util.Map<String, String> options = new java.util.HashMap<>(meta.getOptionsImmutable());
        options.put(HASH_SEED_OPTION, Integer.toString(store.tableSeed(info.table())));
        options.put(FORMAT_VERSION_OPTION, Integer.toString(FORMAT_VERSION));
        java.util.Map<String, TypeSerializer<?>> serializers = new java.util.HashMap<>();
        for (String key : meta.getSerializerSnapshotsImmutable().keySet()) {
            TypeSerializer<?> serializer = meta.getTypeSerializer(key);
            if (serializer != null) {
                serializers.put(key, serializer);
            }
        }
        return new StateMetaInfoSnapshot(meta.getName(), meta.getBackendStateType(), options,
                new java.util.HashMap<>(meta.getSerializerSnapshotsImmutable()), serializers);
    }

    /** Registers a timer queue found in a snapshot, or returns the one already registered by that name. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public HeapPriorityQueueSnapshotRestoreWrapper<?> registerRestoredQueue(StateMetaInfoSnapshot meta) {
        return pqStates.computeIfAbsent(meta.getName(), name -> {
            RegisteredPriorityQueueStateBackendMetaInfo info = new RegisteredPriorityQueueStateBackendMetaInfo<>(meta);
            return new HeapPriorityQueueSnapshotRestoreWrapper(
                    pqFactory.create(name, info.getElementSerializer()), info,
                    KeyExtractorFunction.forKeyedObjects(), keyGroupRange, numberOfKeyGroups);
        });
    }

    /**
     * How many leading bytes of a stored key place it in the page store: the whole key, except for
     * a map entry, whose user key follows the prefix (key-group | key | namespace).
     */
    public int prefixLength(ZStateInfo info, byte[] key, TypeSerializer<?> keySerializer) throws IOException {
        if (info.meta().getStateType() != StateDescriptor.Type.MAP) {
            return key.length;
        }
        return readPrefix(key, keySerializer, info.meta().getNamespaceSerializer()).length();
    }

    /**
     * Reads the prefix of a stored key, key-group | key | namespace, as Flink's RocksDB layout
     * writes it: the one decoder of that prefix (restore, getKeys, TTL cleanup).
     */
    public <K, N> Prefix<K, N> readPrefix(byte[] storedKey, TypeSerializer<K> keySerializer,
            TypeSerializer<N> namespaceSerializer) throws IOException {
        boolean ambiguous = CompositeKeySerializationUtils.isAmbiguousKeyPossible(keySerializer, namespaceSerializer);
        DataInputDeserializer in = new DataInputDeserializer(storedKey);
        CompositeKeySerializationUtils.readKeyGroup(keyGroupPrefixBytes, in);
        K key = CompositeKeySerializationUtils.readKey(keySerializer, in, ambiguous);
        N namespace = CompositeKeySerializationUtils.readNamespace(namespaceSerializer, in, ambiguous);
        return new Prefix<>(key, namespace, storedKey.length - in.available());
    }

    /** A stored key's key and namespace, and the length of its prefix (key-group | key | namespace). */
    public record Prefix<K, N>(K key, N namespace, int length) {}

    /** A registered state: its page-store table and Flink's meta info. */
    public static final class ZStateInfo {
        private final int table;
        private final RegisteredKeyValueStateBackendMetaInfo<?, ?> meta;

        ZStateInfo(int table, RegisteredKeyValueStateBackendMetaInfo<?, ?> meta) {
            this.table = table;
            this.meta = meta;
        }

        /** The state's table in the page store. */
        public int table() {
            return table;
        }

        /** Flink's meta info of the state (its serializers are updated in place on re-registration). */
        public RegisteredKeyValueStateBackendMetaInfo<?, ?> meta() {
            return meta;
        }
    }
}

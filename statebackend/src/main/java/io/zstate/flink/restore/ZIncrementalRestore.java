package io.zstate.flink.restore;

import io.zstate.flink.ZStateTables;
import io.zstate.flink.ZStateTables.ZStateInfo;
import io.zstate.flink.snapshot.IncrementalFormat;
import io.zstate.flink.snapshot.IncrementalFormat.FileRef;
import io.zstate.flink.snapshot.IncrementalFormat.Meta;
import io.zstate.pagestore.PageStore;
import io.zstate.pagestore.delta.DeltaLog;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedBackendSerializationProxy;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;

/**
 * Restores zstate incremental checkpoints ({@link IncrementalFormat}): reads each handle's meta
 * file into a plan; the bases go through the full restore together (their key-group offsets cut
 * to the key-groups both the handle and this backend own: a rescaled restore reads only those);
 * then each handle's deltas are replayed in order onto the store, record by record, skipping
 * key-groups outside that range.
 *
 * <p>Errors name the file and the key-group range: a missing shared file, a meta file of another
 * backend, a corrupt or newer-format delta. Nothing half-restored survives an error: the builder
 * closes the store when the restore throws.
 */
final class ZIncrementalRestore {

    private final ZStateTables tables;
    private final ClassLoader userClassLoader;

    ZIncrementalRestore(ZStateTables tables, ClassLoader userClassLoader) {
        this.tables = tables;
        this.userClassLoader = userClassLoader;
    }

    /** One handle read: its base for the full restore, then its deltas to replay after it. */
    final class Plan {
        private final KeyGroupsStateHandle base;
        private KeyGroupsStateHandle timers; // null: none
        private final List<StreamStateHandle> deltas = new java.util.ArrayList<>();
        private final List<String> names = new java.util.ArrayList<>();
        private final KeyGroupRange range;

        private Plan(KeyGroupsStateHandle base, KeyGroupRange range) {
            this.base = base;
            this.range = range;
        }

        /**
         * The base and the timers, in the canonical layout, cut to the key-groups this backend
         * restores from them: for the full restore.
         */
        List<KeyGroupsStateHandle> fullSnapshots() {
            return timers == null ? List.of(base) : List.of(base, timers);
        }

        /** Replays the deltas in order (after every base of the restore is in). */
        void replayDeltas() throws Exception {
            for (int i = 0; i < deltas.size(); i++) {
                replay(deltas.get(i), range, names.get(i));
            }
        }
    }

    /**
     * Reads a handle's meta file and checks that every file it lists is there (the restore reads
     * the bases of all handles in one go, as Flink's reader settles the key serializer once).
     */
    Plan plan(IncrementalRemoteKeyedStateHandle handle) throws Exception {
        KeyGroupRange range = handle.getKeyGroupRange().getIntersection(tables.keyGroupRange());
        String what = "checkpoint " + handle.getCheckpointId() + ", key-groups " + handle.getKeyGroupRange();
        Meta meta;
        try (FSDataInputStream in = handle.getMetaDataStateHandle().openInputStream()) {
            meta = IncrementalFormat.readMeta(new DataInputViewStreamWrapper(in),
                    handle.getMetaDataStateHandle() + " (" + what + ")");
        }
        Map<String, StreamStateHandle> shared = new HashMap<>();
        for (HandleAndLocalPath file : handle.getSharedState()) {
            shared.put(file.getLocalPath(), file.getHandle());
        }
        Plan plan = null;
        for (FileRef ref : meta.files()) {
            StreamStateHandle file = shared.get(ref.name());
            if (file == null) {
                throw new IOException("The zstate incremental checkpoint (" + what + ") lists file " + ref.name()
                        + " in its meta file, but the checkpoint's handle has no such shared file (it has "
                        + shared.keySet() + "): the checkpoint is incomplete");
            }
            boolean first = plan == null;
            if (first != (ref.kind() == IncrementalFormat.BASE)) {
                throw new IOException("The zstate incremental checkpoint (" + what + ") is corrupt: file " + ref.name()
                        + " is a " + (ref.kind() == IncrementalFormat.BASE ? "base" : "delta") + " at position "
                        + (first ? "0, expected the base" : "> 0, expected a delta"));
            }
            if (first) {
                plan = new Plan(new KeyGroupsStateHandle(meta.baseOffsets().getIntersection(range), file), range);
            } else {
                plan.deltas.add(file);
                plan.names.add(ref.name() + " (" + what + ")");
            }
        }
        if (plan == null) {
            throw new IOException("The zstate incremental checkpoint (" + what + ") lists no files: it is corrupt");
        }
        if (meta.timers() != null) {
            StreamStateHandle timers = null;
            for (HandleAndLocalPath file : handle.getPrivateState()) {
                if (file.getLocalPath().equals(meta.timers())) {
                    timers = file.getHandle();
                }
            }
            if (timers == null) {
                throw new IOException("The zstate incremental checkpoint (" + what + ") lists its timers in file "
                        + meta.timers() + ", but the checkpoint's handle has no such private file: the checkpoint is"
                        + " incomplete");
            }
            plan.timers = new KeyGroupsStateHandle(meta.timerOffsets().getIntersection(range), timers);
        }
        return plan;
    }

    /** Replays one delta file's records in order, those of {@code range}'s key-groups. */
    private void replay(StreamStateHandle file, KeyGroupRange range, String where) throws Exception {
        PageStore store = tables.store();
        FSDataInputStream opened;
        try {
            opened = file.openInputStream();
        } catch (IOException e) {
            throw new IOException("The delta file " + where + " of a zstate incremental checkpoint cannot be read: "
                    + e.getMessage() + ". The checkpoint refers to it; was it deleted?", e);
        }
        try (FSDataInputStream stream = opened) {
            DataInputViewStreamWrapper in = new DataInputViewStreamWrapper(stream);
            IncrementalFormat.readDeltaHeader(in, where);
            KeyedBackendSerializationProxy<?> proxy = new KeyedBackendSerializationProxy<>(userClassLoader);
            proxy.read(in);
            List<StateMetaInfoSnapshot> metas = proxy.getStateMetaInfoSnapshots();
            ZStateInfo[] states = new ZStateInfo[metas.size()];
            for (int i = 0; i < metas.size(); i++) {
                StateMetaInfoSnapshot meta = metas.get(i);
                states[i] = tables.registerRestored(ZRestoreOperation.keyValueMetaInfo(meta), meta);
            }
            java.io.InputStream records = proxy.isUsingKeyGroupCompression()
                    ? org.apache.flink.runtime.state.SnappyStreamCompressionDecorator.INSTANCE
                            .decorateWithCompression(stream)
                    : stream;
            in = new DataInputViewStreamWrapper(records);
            IncrementalFormat.Record record = new IncrementalFormat.Record();
            while (record.read(in, where)) {
                if (record.state < 0 || record.state >= states.length) {
                    throw new IOException("The delta file " + where + " is corrupt: a record of state " + record.state
                            + ", but the file describes " + states.length + " states");
                }
                if (!range.contains(record.keyGroup)) {
                    continue;
                }
                int table = states[record.state].table();
                switch (record.op) {
                    case DeltaLog.PUT -> store.put(table, record.keyGroup, record.key, 0, record.keyLength,
                            record.prefixLength, record.value, 0, record.valueLength);
                    case DeltaLog.APPEND -> store.append(table, record.keyGroup, record.key, 0, record.keyLength,
                            record.prefixLength, record.value, 0, record.valueLength);
                    case DeltaLog.DELETE -> store.delete(table, record.keyGroup, record.key, 0, record.keyLength,
                            record.prefixLength);
                    default -> store.deletePrefix(table, record.keyGroup, record.key, 0, record.keyLength);
                }
            }
        }
    }
}

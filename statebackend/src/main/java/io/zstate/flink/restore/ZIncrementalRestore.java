package io.zstate.flink.restore;

import io.zstate.flink.ZStateTables;
import io.zstate.flink.ZStateTables.ZStateInfo;
import io.zstate.flink.snapshot.IncrementalFormat;
import io.zstate.flink.snapshot.IncrementalFormat.FileRef;
import io.zstate.flink.snapshot.IncrementalFormat.Meta;
import io.zstate.flink.snapshot.ZstdStreamCompressionDecorator;
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
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeOffsets;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedBackendSerializationProxy;
import org.apache.flink.runtime.state.StreamCompressionDecorator;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.UncompressedStreamCompressionDecorator;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;

/**
 * Restores zstate incremental checkpoints ({@link IncrementalFormat}): reads each handle's meta
 * file into a plan. A page base (format 3) is read for the key-groups both the handle and this
 * backend own (a rescaled restore reads only those): the first into a store without pages is
 * placed page by page as it was stored (no entry decoded; {@code PageStore.placePages}), the
 * others are put entry by entry. Format-2 bases (canonical layout) and the timers go through the
 * full restore. Then each handle's deltas are replayed in order onto the store, record by record,
 * skipping key-groups outside that range.
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

    /**
     * One handle read: its base (a page base, or a format-2 base for the full restore), then its
     * deltas to replay after it.
     */
    final class Plan {
        private final KeyGroupsStateHandle base; // format 2 (canonical), or null
        private final StreamStateHandle pageBase; // format 3, or null
        private final KeyGroupRangeOffsets pageBaseOffsets;
        private final String pageBaseName;
        private KeyGroupsStateHandle timers; // null: none
        private final List<StreamStateHandle> deltas = new java.util.ArrayList<>();
        private final List<String> names = new java.util.ArrayList<>();
        private final KeyGroupRange range;

        private Plan(KeyGroupsStateHandle base, StreamStateHandle pageBase, KeyGroupRangeOffsets pageBaseOffsets,
                String pageBaseName, KeyGroupRange range) {
            this.base = base;
            this.pageBase = pageBase;
            this.pageBaseOffsets = pageBaseOffsets;
            this.pageBaseName = pageBaseName;
            this.range = range;
        }

        /**
         * What of this handle is in the canonical layout, cut to the key-groups this backend
         * restores from it, for the full restore: the timers, and a format-2 base.
         */
        List<KeyGroupsStateHandle> fullSnapshots() {
            List<KeyGroupsStateHandle> full = new java.util.ArrayList<>(2);
            if (base != null) {
                full.add(base);
            }
            if (timers != null) {
                full.add(timers);
            }
            return full;
        }

        boolean hasPageBase() {
            return pageBase != null;
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
            boolean isBase = ref.kind() == IncrementalFormat.BASE || ref.kind() == IncrementalFormat.PAGE_BASE;
            if (first != isBase) {
                throw new IOException("The zstate incremental checkpoint (" + what + ") is corrupt: file " + ref.name()
                        + " is a " + (isBase ? "base" : "delta") + " at position "
                        + (first ? "0, expected the base" : "> 0, expected a delta"));
            }
            if (first && ref.kind() == IncrementalFormat.PAGE_BASE) {
                plan = new Plan(null, file, meta.baseOffsets(), ref.name() + " (" + what + ")", range);
            } else if (first) {
                plan = new Plan(new KeyGroupsStateHandle(meta.baseOffsets().getIntersection(range), file), null, null,
                        null, range);
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

    /** Checks the key serializer of a snapshot against the job's (once per restore). */
    @FunctionalInterface
    interface KeyCheck {
        void check(KeyedBackendSerializationProxy<?> proxy) throws Exception;
    }

    /**
     * Restores a plan's page base (format 3), the key-groups of this backend's range it holds:
     * placed as its pages are stored if this store can take them (it holds no page yet, same page
     * size, every state's table has the seed the pages were written with: a restore's first
     * base), else entry by entry (a second handle when scaling in, another page size).
     *
     * @return whether the pages were placed
     */
    boolean restorePageBase(Plan plan, KeyCheck keyCheck, TypeSerializer<?> keySerializer) throws Exception {
        PageStore store = tables.store();
        String where = plan.pageBaseName;
        FSDataInputStream opened;
        try {
            opened = plan.pageBase.openInputStream();
        } catch (IOException e) {
            throw new IOException("The base file " + where + " of a zstate incremental checkpoint cannot be read: "
                    + e.getMessage() + ". The checkpoint refers to it; was it deleted?", e);
        }
        try (FSDataInputStream stream = opened) {
            DataInputViewStreamWrapper in = new DataInputViewStreamWrapper(stream);
            int pageSize = IncrementalFormat.readPageBaseHeader(in, where);
            KeyedBackendSerializationProxy<?> proxy = new KeyedBackendSerializationProxy<>(userClassLoader);
            proxy.read(in);
            keyCheck.check(proxy);
            List<StateMetaInfoSnapshot> metas = proxy.getStateMetaInfoSnapshots();
            ZStateInfo[] states = new ZStateInfo[metas.size()];
            boolean place = store.canPlacePages() && pageSize == store.pageSize();
            for (int i = 0; i < metas.size(); i++) {
                StateMetaInfoSnapshot meta = metas.get(i);
                states[i] = tables.registerRestored(ZRestoreOperation.keyValueMetaInfo(meta), meta);
                place &= tables.placesLike(states[i], meta);
            }
            StreamCompressionDecorator compression = proxy.isUsingKeyGroupCompression()
                    ? ZstdStreamCompressionDecorator.INSTANCE : UncompressedStreamCompressionDecorator.INSTANCE;
            for (int kg = plan.range.getStartKeyGroup(); kg <= plan.range.getEndKeyGroup(); kg++) {
                stream.seek(plan.pageBaseOffsets.getKeyGroupOffset(kg));
                try {
                    in = new DataInputViewStreamWrapper(new java.io.BufferedInputStream(
                            compression.decorateWithCompression(stream), 1 << 16));
                    restoreKeyGroup(in, kg, place, states, metas, pageSize, keySerializer, where);
                } catch (java.io.EOFException e) {
                    throw e;
                } catch (IOException e) {
                    if (e.getMessage() != null && e.getMessage().contains(where)) {
                        throw e; // says where already
                    }
                    throw new IOException("The base file " + where + " is corrupt at key-group " + kg + " (expected a"
                            + " zstd frame of page images there): " + e.getMessage(), e);
                }
            }
            if (place) {
                store.finishPlacing();
            }
            return place;
        } catch (java.io.EOFException e) {
            throw new IOException("The base file " + where + " of a zstate incremental checkpoint is truncated: it"
                    + " ends before the key-groups " + plan.range + " its meta file says it holds", e);
        }
    }

    /** Places or puts the page images of one key-group of a page base. */
    private void restoreKeyGroup(DataInputViewStreamWrapper in, int kg, boolean place, ZStateInfo[] states,
            List<StateMetaInfoSnapshot> metas, int pageSize, TypeSerializer<?> keySerializer, String where)
            throws IOException {
        for (int state = IncrementalFormat.readImageOf(in, where); state >= 0;
                state = IncrementalFormat.readImageOf(in, where)) {
            if (state >= states.length) {
                throw new IOException("The base file " + where + " is corrupt: key-group " + kg + " holds pages of"
                        + " state " + state + ", but the file describes " + states.length + " states");
            }
            String image = where + ", key-group " + kg + ", state " + metas.get(state).getName();
            if (place) {
                tables.store().placePages(states[state].table(), kg, in, image);
            } else {
                reput(in, pageSize, states[state], kg, keySerializer, image);
            }
        }
    }

    /** Puts the entries of one page image into the store, one by one. */
    private void reput(DataInputViewStreamWrapper in, int pageSize, ZStateInfo state, int keyGroup,
            TypeSerializer<?> keySerializer, String where) throws IOException {
        PageStore store = tables.store();
        IOException[] failed = new IOException[1];
        PageStore.forEachEntryInImage(in, pageSize, (k, ko, kl, v, vo, vl) -> {
            if (failed[0] != null) {
                return;
            }
            byte[] key = java.util.Arrays.copyOfRange(k, ko, ko + kl);
            try {
                store.put(state.table(), keyGroup, key, 0, key.length, tables.prefixLength(state, key, keySerializer),
                        v, vo, vl);
            } catch (IOException e) {
                failed[0] = e;
            }
        }, where);
        if (failed[0] != null) {
            throw failed[0];
        }
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

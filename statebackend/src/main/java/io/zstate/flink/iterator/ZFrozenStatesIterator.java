package io.zstate.flink.iterator;

import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.snapshot.FrozenView;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.runtime.state.CompositeKeySerializationUtils;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyValueStateIterator;
import org.apache.flink.runtime.state.StateSnapshotTransformer;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueStateSnapshot;

/**
 * The entries of a full snapshot, for Flink's {@code FullSnapshotAsyncWriter}: every state of a
 * frozen page store and the timer queues' snapshots, ordered by (key-group, state id) as the
 * canonical layout wants (what {@code RocksStatesPerKeyGroupMergeIterator} is for RocksDB). State
 * ids are the index in the snapshot's meta infos: the tables first, in their order, then the
 * queues.
 *
 * <p>Walks key-groups in order, and in each the states in order, buffering one batch at a time
 * (a bucket chain's entries or one leaf of a large map, {@code FrozenView.batches}; a key-group's
 * timers of a queue): the frozen view decompresses or reads each page as it is visited, values
 * are copied out and passed through the state's snapshot transformer (TTL cleanup; an entry it
 * drops is left out), timers are serialized with the key-group prefix as their key and an empty
 * value. Entries of TTL states with background cleanup that have expired are noted in {@link
 * ExpiredEntries}. A map of ten million entries under one key is written a leaf at a time.
 *
 * <p>Owns the order and the buffering; runs on the snapshot's asynchronous thread and must not
 * touch the live page store, only the frozen view (which its resources close, not this
 * iterator). Public, internal: for {@code io.zstate.flink.snapshot.ZFullSnapshotResources}.
 */
public final class ZFrozenStatesIterator implements KeyValueStateIterator {

    private final FrozenView frozen;
    private final KeyGroupRange keyGroupRange;
    private final int keyGroupPrefixBytes;
    private final int[] tables;
    private final List<StateSnapshotTransformer<byte[]>> transformers;
    private final List<HeapPriorityQueueStateSnapshot<?>> queues;
    private final ExpiredEntries expired;
    private static final byte[] EMPTY = new byte[0];
    private final List<byte[]> keys = new ArrayList<>();
    private final List<byte[]> values = new ArrayList<>();
    private final List<Integer> ids = new ArrayList<>();
    private final DataOutputSerializer out = new DataOutputSerializer(64);
    /** Keys and values of finished batches, handed out again (the writer holds one pair back). */
    private final ArrayRecycler recycler = new ArrayRecycler();
    /** The last pair of the previous batch: the writer may still hold it, so it is recycled one batch later. */
    private byte[] heldKey;
    private byte[] heldValue;
    /** The key-group being walked, and in it the state id and its batches (null: not started). */
    private int keyGroup;
    private int stateId;
    private FrozenView.Batches batches;
    /** The key-group of the buffered entries. */
    private int bufferKeyGroup;
    private int index;
    private boolean newKeyGroup;
    private boolean newState;
    private int largestBatch;

    /**
     * An iterator positioned on the first entry, if any.
     *
     * @param tables the page-store table of each key-value state, by state id
     * @param transformers each table's snapshot transformer, or null for none
     * @param queues the timer queues' snapshots; their state ids follow the tables'
     * @param expired where entries of TTL states are offered for background cleanup, or null
     */
    public ZFrozenStatesIterator(FrozenView frozen, KeyGroupRange keyGroupRange, int keyGroupPrefixBytes,
            int[] tables, List<StateSnapshotTransformer<byte[]>> transformers,
            List<HeapPriorityQueueStateSnapshot<?>> queues, ExpiredEntries expired) throws IOException {
        this.frozen = frozen;
        this.keyGroupRange = keyGroupRange;
        this.keyGroupPrefixBytes = keyGroupPrefixBytes;
        this.tables = tables;
        this.transformers = transformers;
        this.queues = queues;
        this.expired = expired;
        this.keyGroup = keyGroupRange.getStartKeyGroup();
        fill();
        newKeyGroup = true;
        newState = true;
    }

    /** Loads the next batch that has entries; leaves the buffer empty at the end. */
    private void fill() throws IOException {
        recycleBatch();
        keys.clear();
        values.clear();
        ids.clear();
        index = 0;
        while (keys.isEmpty() && keyGroup <= keyGroupRange.getEndKeyGroup()) {
            bufferKeyGroup = keyGroup;
            if (stateId < tables.length) {
                if (batches == null) {
                    batches = frozen.batches(tables[stateId], keyGroup);
                }
                if (!batches.next(collector(stateId))) {
                    batches = null;
                    stateId++;
                }
            } else if (stateId < tables.length + queues.size()) {
                addQueue(stateId, queues.get(stateId - tables.length));
                stateId++;
            } else {
                keyGroup++;
                stateId = 0;
            }
        }
        largestBatch = Math.max(largestBatch, keys.size());
    }

    /**
     * The writer has taken every pair of the batch and moved past all but the last (it keeps the
     * previous pair until the next one): every array but the last pair's goes back to the
     * recycler, and the last pair of the batch before, which the writer has let go by now.
     */
    private void recycleBatch() {
        if (keys.isEmpty()) {
            return;
        }
        if (heldKey != null) {
            recycler.recycle(heldKey);
            recycler.recycle(heldValue);
        }
        int last = keys.size() - 1;
        for (int i = 0; i < last; i++) {
            recycler.recycle(keys.get(i));
            recycler.recycle(values.get(i));
        }
        heldKey = keys.get(last);
        heldValue = values.get(last);
    }

    /** Copies a state's entries into the buffer (through its transformer), noting expired ones. */
    private EntryVisitor collector(int id) {
        StateSnapshotTransformer<byte[]> transformer = transformers.get(id);
        int table = tables[id];
        int group = keyGroup;
        boolean noting = expired != null && expired.wanted(table);
        return (k, ko, kl, v, vo, vl) -> {
            byte[] value = recycler.copyOf(v, vo, vl);
            if (noting && expired.expired(table, value)) { // copies of its own: the writer changes keys
                expired.note(table, group, Arrays.copyOfRange(k, ko, ko + kl), value.clone());
            }
            if (transformer != null) {
                byte[] transformed = transformer.filterOrTransform(value);
                if (transformed != value) {
                    recycler.recycle(value); // dropped or replaced: nobody holds it
                }
                value = transformed;
            }
            if (value != null) {
                keys.add(recycler.copyOf(k, ko, kl));
                values.add(value);
                ids.add(id);
            }
        };
    }

    /** The most entries one batch buffered so far (for tests: a walk in batches stays small). */
    public int largestBatch() {
        return largestBatch;
    }

    private <T> void addQueue(int id, HeapPriorityQueueStateSnapshot<T> snapshot) throws IOException {
        TypeSerializer<T> serializer = snapshot.getMetaInfo().getElementSerializer();
        Iterator<T> elements = snapshot.getIteratorForKeyGroup(keyGroup);
        while (elements.hasNext()) {
            out.clear();
            CompositeKeySerializationUtils.writeKeyGroup(keyGroup, keyGroupPrefixBytes, out);
            serializer.serialize(elements.next(), out);
            keys.add(recycler.copyOf(out.getSharedBuffer(), 0, out.length()));
            values.add(EMPTY);
            ids.add(id);
        }
    }

    @Override
    public void next() throws IOException {
        int previousId = ids.get(index);
        int previousKeyGroup = bufferKeyGroup;
        index++;
        if (index >= keys.size()) {
            fill();
        }
        if (index < keys.size()) {
            newKeyGroup = bufferKeyGroup != previousKeyGroup;
            newState = newKeyGroup || ids.get(index) != previousId;
        }
    }

    @Override
    public int keyGroup() {
        return bufferKeyGroup;
    }

    @Override
    public byte[] key() {
        // an array of its own until the writer is two entries further: it flags the last key of a
        // run in place
        return keys.get(index);
    }

    @Override
    public byte[] value() {
        return values.get(index);
    }

    @Override
    public int kvStateId() {
        return ids.get(index);
    }

    @Override
    public boolean isNewKeyValueState() {
        return newState;
    }

    @Override
    public boolean isNewKeyGroup() {
        return newKeyGroup;
    }

    @Override
    public boolean isValid() {
        return index < keys.size();
    }

    @Override
    public void close() {}
}

package io.zstate.flink.timers;

import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.function.ToLongFunction;
import javax.annotation.Nonnull;
import javax.annotation.Nullable;
import org.apache.flink.runtime.state.KeyExtractorFunction;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueSet;
import org.apache.flink.util.CloseableIterator;

/**
 * A timer queue whose priorities are {@code long}s (a timer's timestamp): a four-ary min-heap
 * that keeps each element's priority in a {@code long[]} beside it, and a set of its elements in
 * an open-addressing table, for the set semantics Flink's timer services need (registering a
 * timer twice keeps one).
 *
 * <p>Why: Flink's heap queue ({@link HeapPriorityQueueSet}) compares two elements by reading both
 * objects, on each of a binary heap's levels, and keeps its set as a {@code HashMap} per
 * key-group, which hashes the key to its key-group and allocates a node on every add. With a
 * million timers waiting (the sessions example job), both are cache misses: a profile put 25% of
 * the task's time in the heap's sift-down and 15% in the maps. Here a sift reads the priorities of
 * four children from one array (one cache line, not four objects), the heap has half the
 * levels, and the set's table holds each element's hash beside it, so a probe reads an element
 * only when the hashes match.
 *
 * <pre>
 *   heap (0-based, children of i at 4i+1 .. 4i+4)      set (linear probing, at most half full)
 *     priorities  long[]   [ 5 | 9 | 7 | 6 | 8 | ...]     hashes    int[]    [ h |   | h | h |   ]
 *     elements    Object[] [ e | e | e | e | e | ...]     elements  Object[] [ e |   | e | e |   ]
 *   each element knows its heap position (HeapPriorityQueueElement's internal index)
 * </pre>
 *
 * <p>Invariants ({@link #checkInvariants}): every parent's priority is at most its children's;
 * {@code priorities[i]} is the priority of {@code elements[i]} and that element's internal index
 * is {@code i}; the set holds exactly the heap's elements, each reachable from its hash's home
 * slot without crossing an empty slot.
 *
 * <p>The queue is a {@link HeapPriorityQueueSet} only so that Flink's snapshot wrapper and
 * managers take it: it overrides every public method and uses none of its parent's state (a test
 * checks that each public method of the parents is overridden). Unlike Flink's set it does not
 * check that an element's key belongs to the backend's key-groups (a timer's key is the
 * operator's current key, which always does); {@link #getSubsetForKeyGroup} scans the queue,
 * which only Flink's legacy raw-keyed timer snapshots call. Not thread-safe: the task's thread
 * only, as Flink's; a snapshot copies it with {@link #toArray} on that thread.
 *
 * @param <T> the element type; {@code priorityOf} must order it as its {@code comparePriorityTo}
 */
public final class TimerHeap<T extends HeapPriorityQueueElement> extends HeapPriorityQueueSet<T> {

    private static final int ARITY = 4;
    private static final int MIN_CAPACITY = 16;

    private final ToLongFunction<? super T> priorityOf;
    private final KeyExtractorFunction<T> keyExtractor;
    private final int totalKeyGroups;

    private long[] priorities;
    private Object[] elements;
    private int size;

    private int[] setHashes;
    private Object[] setElements;
    private int setMask;

    public TimerHeap(
            ToLongFunction<? super T> priorityOf,
            KeyExtractorFunction<T> keyExtractor,
            int minimumCapacity,
            KeyGroupRange keyGroupRange,
            int totalKeyGroups) {
        super((a, b) -> Long.compare(priorityOf.applyAsLong(a), priorityOf.applyAsLong(b)),
                keyExtractor, 1, keyGroupRange, totalKeyGroups);
        this.priorityOf = priorityOf;
        this.keyExtractor = keyExtractor;
        this.totalKeyGroups = totalKeyGroups;
        int capacity = Math.max(MIN_CAPACITY, minimumCapacity);
        this.priorities = new long[capacity];
        this.elements = new Object[capacity];
        int setCapacity = Integer.highestOneBit(capacity * 2 - 1) << 1;
        this.setHashes = new int[setCapacity];
        this.setElements = new Object[setCapacity];
        this.setMask = setCapacity - 1;
    }

    // ---- the queue --------------------------------------------------------------------------

    @Override
    @Nullable
    @SuppressWarnings("unchecked")
    public T peek() {
        return size == 0 ? null : (T) elements[0];
    }

    @Override
    @Nullable
    @SuppressWarnings("unchecked")
    public T poll() {
        if (size == 0) {
            return null;
        }
        T head = (T) elements[0];
        removeFromSet(head);
        removeAt(0);
        return head;
    }

    /** Adds the element unless an equal one is queued; true if it became the head. */
    @Override
    public boolean add(@Nonnull T element) {
        int hash = hashOf(element);
        int slot = find(element, hash);
        if (slot >= 0) {
            return false;
        }
        if (size >= setMask / 2) {
            growSet();
            slot = find(element, hash);
        }
        setHashes[~slot] = hash;
        setElements[~slot] = element;
        if (size == elements.length) {
            int capacity = size * 2;
            priorities = Arrays.copyOf(priorities, capacity);
            elements = Arrays.copyOf(elements, capacity);
        }
        int position = size++;
        siftUp(position, priorityOf.applyAsLong(element), element);
        return element.getInternalIndex() == 0;
    }

    /** Removes the queued element equal to this one; true if it was the head. */
    @Override
    @SuppressWarnings("unchecked")
    public boolean remove(@Nonnull T element) {
        int slot = find(element, hashOf(element));
        if (slot < 0) {
            return false;
        }
        T stored = (T) setElements[slot];
        deleteSlot(slot);
        int position = stored.getInternalIndex();
        removeAt(position);
        return position == 0;
    }

    @Override
    public boolean isEmpty() {
        return size == 0;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public void addAll(@Nullable Collection<? extends T> toAdd) {
        if (toAdd != null) {
            for (T element : toAdd) {
                add(element);
            }
        }
    }

    /** Re-places an element whose priority changed while queued (Flink's heap offers this too). */
    @Override
    public void adjustModifiedElement(@Nonnull T element) {
        int position = element.getInternalIndex();
        if (position >= 0 && position < size && elements[position] == element) {
            removeAt(position);
            if (size == elements.length) {
                int capacity = size * 2;
                priorities = Arrays.copyOf(priorities, capacity);
                elements = Arrays.copyOf(elements, capacity);
            }
            siftUp(size++, priorityOf.applyAsLong(element), element);
        }
    }

    @Override
    public void clear() {
        for (int i = 0; i < size; i++) {
            ((HeapPriorityQueueElement) elements[i]).setInternalIndex(HeapPriorityQueueElement.NOT_CONTAINED);
        }
        Arrays.fill(elements, 0, size, null);
        Arrays.fill(setElements, null);
        size = 0;
    }

    /** The queued elements, in heap order, into {@code out} if it is large enough (as Flink's). */
    @Override
    @SuppressWarnings("unchecked")
    public <O> O[] toArray(O[] out) {
        if (out.length < size) {
            return (O[]) Arrays.copyOf(elements, size, out.getClass());
        }
        System.arraycopy(elements, 0, out, 0, size);
        if (out.length > size) {
            out[size] = null;
        }
        return out;
    }

    @Override
    @Nonnull
    public CloseableIterator<T> iterator() {
        return new CloseableIterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < size;
            }

            @Override
            @SuppressWarnings("unchecked")
            public T next() {
                if (next >= size) {
                    throw new NoSuchElementException("Iterator has no next element.");
                }
                return (T) elements[next++];
            }

            @Override
            public void close() {}
        };
    }

    /** The queued elements of one key-group (a scan: for Flink's legacy raw-keyed timer snapshots). */
    @Override
    @Nonnull
    @SuppressWarnings("unchecked")
    public Set<T> getSubsetForKeyGroup(int keyGroupId) {
        Set<T> subset = new HashSet<>();
        for (int i = 0; i < size; i++) {
            T element = (T) elements[i];
            if (KeyGroupRangeAssignment.assignToKeyGroup(keyExtractor.extractKeyFromElement(element), totalKeyGroups)
                    == keyGroupId) {
                subset.add(element);
            }
        }
        return subset;
    }

    // ---- the heap ---------------------------------------------------------------------------

    /** Removes the element at {@code position}: the last element takes its place and sifts. */
    private void removeAt(int position) {
        ((HeapPriorityQueueElement) elements[position]).setInternalIndex(HeapPriorityQueueElement.NOT_CONTAINED);
        int last = --size;
        Object moved = elements[last];
        long movedPriority = priorities[last];
        elements[last] = null;
        if (position == last) {
            return;
        }
        if (position > 0 && movedPriority < priorities[(position - 1) >>> 2]) {
            siftUp(position, movedPriority, moved);
        } else {
            siftDown(position, movedPriority, moved);
        }
    }

    /** Places {@code element} at {@code position} or above it, moving larger parents down. */
    private void siftUp(int position, long priority, Object element) {
        long[] p = priorities;
        Object[] e = elements;
        while (position > 0) {
            int parent = (position - 1) >>> 2;
            if (p[parent] <= priority) {
                break;
            }
            place(parent, position, p, e);
            position = parent;
        }
        p[position] = priority;
        e[position] = element;
        ((HeapPriorityQueueElement) element).setInternalIndex(position);
    }

    /** Places {@code element} at {@code position} or below it, moving the smallest child up. */
    private void siftDown(int position, long priority, Object element) {
        long[] p = priorities;
        Object[] e = elements;
        int n = size;
        while (true) {
            int first = position * ARITY + 1;
            if (first >= n) {
                break;
            }
            int end = Math.min(first + ARITY, n);
            int smallest = first;
            long smallestPriority = p[first];
            for (int child = first + 1; child < end; child++) {
                if (p[child] < smallestPriority) {
                    smallest = child;
                    smallestPriority = p[child];
                }
            }
            if (smallestPriority >= priority) {
                break;
            }
            place(smallest, position, p, e);
            position = smallest;
        }
        p[position] = priority;
        e[position] = element;
        ((HeapPriorityQueueElement) element).setInternalIndex(position);
    }

    private static void place(int from, int to, long[] p, Object[] e) {
        p[to] = p[from];
        e[to] = e[from];
        ((HeapPriorityQueueElement) e[to]).setInternalIndex(to);
    }

    // ---- the set ----------------------------------------------------------------------------

    private static int hashOf(Object element) {
        int h = element.hashCode() * 0x9E3779B9;
        return h ^ (h >>> 16);
    }

    /** The slot holding an element equal to {@code element}, or {@code ~slot} of the empty slot where it would go. */
    private int find(Object element, int hash) {
        int[] hashes = setHashes;
        Object[] stored = setElements;
        int mask = setMask;
        int slot = hash & mask;
        while (true) {
            Object candidate = stored[slot];
            if (candidate == null) {
                return ~slot;
            }
            if (hashes[slot] == hash && (candidate == element || candidate.equals(element))) {
                return slot;
            }
            slot = (slot + 1) & mask;
        }
    }

    private void removeFromSet(Object element) {
        int slot = find(element, hashOf(element));
        if (slot < 0) {
            throw new IllegalStateException("A queued timer is missing from its queue's set: " + element);
        }
        deleteSlot(slot);
    }

    /** Empties a slot, moving later entries of its probe run back so that none is cut off (no tombstones). */
    private void deleteSlot(int slot) {
        int[] hashes = setHashes;
        Object[] stored = setElements;
        int mask = setMask;
        int hole = slot;
        int next = (slot + 1) & mask;
        while (stored[next] != null) {
            int home = hashes[next] & mask;
            // the entry at next may fill the hole unless its home lies cyclically in (hole, next]
            boolean homeAfterHole = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
            if (!homeAfterHole) {
                hashes[hole] = hashes[next];
                stored[hole] = stored[next];
                hole = next;
            }
            next = (next + 1) & mask;
        }
        stored[hole] = null;
    }

    private void growSet() {
        int[] oldHashes = setHashes;
        Object[] oldElements = setElements;
        int capacity = oldElements.length * 2;
        setHashes = new int[capacity];
        setElements = new Object[capacity];
        setMask = capacity - 1;
        for (int i = 0; i < oldElements.length; i++) {
            if (oldElements[i] != null) {
                int slot = oldHashes[i] & setMask;
                while (setElements[slot] != null) {
                    slot = (slot + 1) & setMask;
                }
                setHashes[slot] = oldHashes[i];
                setElements[slot] = oldElements[i];
            }
        }
    }

    // ---- checks -----------------------------------------------------------------------------

    /** Verifies the invariants in the header; throws {@link IllegalStateException} naming the first broken one. */
    @SuppressWarnings("unchecked")
    public void checkInvariants() {
        int inSet = 0;
        for (int slot = 0; slot <= setMask; slot++) {
            Object element = setElements[slot];
            if (element == null) {
                continue;
            }
            inSet++;
            if (setHashes[slot] != hashOf(element)) {
                throw new IllegalStateException("set slot " + slot + " holds a stale hash for " + element);
            }
            if (find(element, setHashes[slot]) != slot) {
                throw new IllegalStateException("set slot " + slot + " is not reachable from its home: " + element);
            }
            int position = ((HeapPriorityQueueElement) element).getInternalIndex();
            if (position < 0 || position >= size || elements[position] != element) {
                throw new IllegalStateException(element + " is in the set but not at its heap position " + position);
            }
        }
        if (inSet != size) {
            throw new IllegalStateException("the set holds " + inSet + " elements, the heap " + size);
        }
        for (int i = 0; i < size; i++) {
            T element = (T) elements[i];
            if (element.getInternalIndex() != i) {
                throw new IllegalStateException("heap position " + i + " holds an element that says "
                        + element.getInternalIndex());
            }
            if (priorities[i] != priorityOf.applyAsLong(element)) {
                throw new IllegalStateException("heap position " + i + " keeps priority " + priorities[i]
                        + " for an element of priority " + priorityOf.applyAsLong(element));
            }
            if (i > 0 && priorities[(i - 1) >>> 2] > priorities[i]) {
                throw new IllegalStateException("heap position " + i + " is smaller than its parent");
            }
        }
        for (int i = size; i < elements.length; i++) {
            if (elements[i] != null) {
                throw new IllegalStateException("heap position " + i + " past the end is not cleared");
            }
        }
    }
}

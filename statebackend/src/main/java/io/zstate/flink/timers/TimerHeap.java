package io.zstate.flink.timers;

import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.function.ToIntFunction;
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
 * A timer queue whose priorities are {@code long}s (a timer's timestamp): the nearest timers in a
 * small four-ary min-heap that keeps each priority in a {@code long[]} beside its element, the
 * later ones in buckets by timestamp (a calendar queue in two rungs), and a set of all of them
 * ({@link TimerSet}, open addressing) for the set semantics Flink's timer services need
 * (registering a timer twice keeps one).
 *
 * <p>Why: Flink's heap queue ({@link HeapPriorityQueueSet}) keeps every timer in one binary heap
 * that compares two elements by reading both objects on each level, and its set as a {@code
 * HashMap} per key-group, which hashes the key to its key-group and allocates a node on every
 * add. With half a million timers waiting (the sessions example job) every level is a cache
 * miss: a profile put 25% of the task's time in the heap's sift-down and 15% in the maps. A
 * timer service's timers come nearly in order (a new timer lands a gap after the one that
 * fired), so only the nearest need a heap: the rest wait unsorted in buckets of equal timestamp
 * width and move into the heap a bucket at a time, when the heap runs dry.
 *
 * <pre>
 *   heap: timers of bucket <= heapBucket     buckets (farBase + b << shift ...)      overflow
 *   4-ary, long[] priorities + elements      [b1: t t t] [b2: ] [b3: t t] ... [bN-1]   [t t t t]
 *        ^ peek/poll                         doubly linked lists in one slab          later than every bucket
 *   add: the bucket of its timestamp (the heap if at or before heapBucket, the overflow past the last)
 *   heap empty: the next non-empty bucket moves in; none left: the overflow is bucketed anew by its range
 *   heap over splitAt: its range is bucketed anew, bucket 0 stays (the far timers are routed again)
 * </pre>
 *
 * <p>Each element knows where it is (HeapPriorityQueueElement's internal index): its heap
 * position, or {@code -2 - slot} for its slab slot, so a removal finds it from the set in O(1)
 * (a far timer is unlinked; a heap timer is replaced by the last and sifted).
 *
 * <p>Invariants ({@link #checkInvariants}): a parent's priority is at most its children's;
 * every heap timer routes to the heap and every bucket's and the overflow's timers route there
 * (so every heap timer is earlier than every far one); while any timer is far, the heap is not
 * empty (so its head is the queue's); {@code priorities[i]} is the priority of {@code
 * elements[i]}, and internal indexes match positions; the set holds exactly the queued elements
 * (and its own invariants hold).
 *
 * <p>The heap's splits and refills are linear in what they move and happen when the heap has
 * doubled or emptied, so each timer pays a constant share; timestamps all in one bucket (all
 * equal, say) degrade to one heap, as Flink's. The queue is a {@link HeapPriorityQueueSet} only
 * so that Flink's snapshot wrapper and managers take it: it overrides every public method and
 * uses none of its parent's state (a test checks that each public method of the parents is
 * overridden). Unlike Flink's set it does not check that an element's key belongs to the
 * backend's key-groups (a timer's key is the operator's current key, which always does); {@link
 * #getSubsetForKeyGroup} scans the queue, which only Flink's legacy raw-keyed timer snapshots
 * call. Not thread-safe: the task's thread only, as Flink's; a snapshot copies it with {@link
 * #toArray} on that thread.
 *
 * @param <T> the element type; {@code priorityOf} must order it as its {@code comparePriorityTo}
 */
public final class TimerHeap<T extends HeapPriorityQueueElement> extends HeapPriorityQueueSet<T> {

    /** Buckets of the far timers (a power of two). */
    static final int DEFAULT_BUCKETS = 1024;
    /** The heap's size at which it is first bucketed. */
    static final int DEFAULT_SPLIT_AT = 4096;

    private static final int ARITY = 4;
    private static final int MIN_CAPACITY = 16;
    private static final int NONE = -1;
    private static final int HEAP = -1;
    /** Priorities sampled to size the buckets. */
    private static final int SAMPLES = 64;

    private final ToLongFunction<? super T> priorityOf;
    private final KeyExtractorFunction<T> keyExtractor;
    private final int totalKeyGroups;
    private final int bucketCount;
    private final int bucketBits;
    private final int minSplitAt;

    // the heap of the nearest timers
    private long[] priorities;
    private Object[] elements;
    private int size;
    private int splitAt;

    // the far timers: bucket lists (the last list is the overflow) in one slab
    private boolean bucketed;
    private long farBase;
    private int shift;
    private int heapBucket;
    private final int[] listHeads;
    private long[] farPriorities;
    private Object[] farElements;
    private int[] farNext;
    private int[] farPrev;
    private int farFree = NONE;
    private int farUsed;
    private int farCount;
    private final long[] sample = new long[SAMPLES];

    // the set of all queued timers
    private final TimerSet<T> set;

    /**
     * @param priorityOf an element's priority, ordering elements as their {@code comparePriorityTo}
     * @param hashOf an element's hash, equal for equal elements (its {@code hashCode}, or a stronger
     *     one: Java's {@code 31 * h + ...} of a timer's timestamp and key collides for timers of
     *     nearby keys and times, and each collision costs a probe an {@code equals} on a cold object)
     */
    public TimerHeap(
            ToLongFunction<? super T> priorityOf,
            ToIntFunction<? super T> hashOf,
            KeyExtractorFunction<T> keyExtractor,
            int minimumCapacity,
            KeyGroupRange keyGroupRange,
            int totalKeyGroups) {
        this(priorityOf, hashOf, keyExtractor, minimumCapacity, keyGroupRange, totalKeyGroups, DEFAULT_BUCKETS,
                DEFAULT_SPLIT_AT);
    }

    /** With {@code buckets} (a power of two) and a first split at {@code splitAt} (tests make both small). */
    TimerHeap(
            ToLongFunction<? super T> priorityOf,
            ToIntFunction<? super T> hashOf,
            KeyExtractorFunction<T> keyExtractor,
            int minimumCapacity,
            KeyGroupRange keyGroupRange,
            int totalKeyGroups,
            int buckets,
            int splitAt) {
        super((a, b) -> Long.compare(priorityOf.applyAsLong(a), priorityOf.applyAsLong(b)),
                keyExtractor, 1, keyGroupRange, totalKeyGroups);
        if (Integer.bitCount(buckets) != 1 || buckets < 2 || splitAt < 2) {
            throw new IllegalArgumentException("buckets " + buckets + " (a power of two) and split at " + splitAt);
        }
        this.priorityOf = priorityOf;
        this.keyExtractor = keyExtractor;
        this.totalKeyGroups = totalKeyGroups;
        this.bucketCount = buckets;
        this.bucketBits = Integer.numberOfTrailingZeros(buckets);
        this.minSplitAt = splitAt;
        this.splitAt = splitAt;
        int capacity = Math.max(MIN_CAPACITY, minimumCapacity);
        this.priorities = new long[capacity];
        this.elements = new Object[capacity];
        this.listHeads = new int[buckets + 1];
        Arrays.fill(listHeads, NONE);
        this.farPriorities = new long[MIN_CAPACITY];
        this.farElements = new Object[MIN_CAPACITY];
        this.farNext = new int[MIN_CAPACITY];
        this.farPrev = new int[MIN_CAPACITY];
        this.set = new TimerSet<>(hashOf, capacity);
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
        set.removeQueued(head);
        removeFromHeap(0);
        return head;
    }

    /** Adds the element unless an equal one is queued; true if it became the head. */
    @Override
    public boolean add(@Nonnull T element) {
        if (!set.addIfAbsent(element)) {
            return false;
        }
        enqueue(element, priorityOf.applyAsLong(element));
        return element.getInternalIndex() == 0;
    }

    /** Removes the queued element equal to this one; true if it was the head. */
    @Override
    @SuppressWarnings("unchecked")
    public boolean remove(@Nonnull T element) {
        T stored = set.removeEqual(element);
        if (stored == null) {
            return false;
        }
        int index = stored.getInternalIndex();
        if (index >= 0) {
            removeFromHeap(index);
            return index == 0;
        }
        removeFar(farSlotOrIndex(index));
        return false; // a far timer is never the head: the heap is not empty while one waits
    }

    /** Timers in the heap part (the rest wait in buckets): for tests. */
    int heapSize() {
        return size;
    }

    @Override
    public boolean isEmpty() {
        return size == 0;
    }

    @Override
    public int size() {
        return size + farCount;
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
        if (!isQueued(element)) {
            return;
        }
        int index = element.getInternalIndex();
        if (index >= 0) {
            removeFromHeap(index);
        } else {
            removeFar(farSlotOrIndex(index));
        }
        enqueue(element, priorityOf.applyAsLong(element));
    }

    @Override
    public void clear() {
        for (int i = 0; i < size; i++) {
            ((HeapPriorityQueueElement) elements[i]).setInternalIndex(HeapPriorityQueueElement.NOT_CONTAINED);
        }
        for (int i = 0; i < farUsed; i++) {
            if (farElements[i] != null) {
                ((HeapPriorityQueueElement) farElements[i]).setInternalIndex(HeapPriorityQueueElement.NOT_CONTAINED);
            }
        }
        Arrays.fill(elements, 0, size, null);
        Arrays.fill(farElements, 0, farUsed, null);
        set.clear();
        Arrays.fill(listHeads, NONE);
        size = 0;
        farUsed = 0;
        farFree = NONE;
        farCount = 0;
        bucketed = false;
        splitAt = minSplitAt;
    }

    /** The queued elements (the heap's, then the far ones), into {@code out} if it is large enough (as Flink's). */
    @Override
    @SuppressWarnings("unchecked")
    public <O> O[] toArray(O[] out) {
        int total = size();
        O[] result = out.length >= total ? out
                : (O[]) java.lang.reflect.Array.newInstance(out.getClass().getComponentType(), total);
        System.arraycopy(elements, 0, result, 0, size);
        int next = size;
        for (int i = 0; i < farUsed; i++) {
            if (farElements[i] != null) {
                result[next++] = (O) farElements[i];
            }
        }
        if (result.length > total) {
            result[total] = null;
        }
        return result;
    }

    @Override
    @Nonnull
    @SuppressWarnings("unchecked")
    public CloseableIterator<T> iterator() {
        java.util.List<T> all = (java.util.List<T>) (java.util.List<?>) Arrays.asList(toArray(new Object[size()]));
        return CloseableIterator.adapterForIterator(all.iterator());
    }

    /** The queued elements of one key-group (a scan: for Flink's legacy raw-keyed timer snapshots). */
    @Override
    @Nonnull
    @SuppressWarnings("unchecked")
    public Set<T> getSubsetForKeyGroup(int keyGroupId) {
        Set<T> subset = new HashSet<>();
        for (Object element : toArray(new Object[size()])) {
            if (KeyGroupRangeAssignment.assignToKeyGroup(keyExtractor.extractKeyFromElement((T) element),
                    totalKeyGroups) == keyGroupId) {
                subset.add((T) element);
            }
        }
        return subset;
    }

    // ---- where a timer goes -----------------------------------------------------------------

    /** {@link #HEAP}, a bucket, or {@code bucketCount} (the overflow) for a timer of this priority. */
    private int route(long priority) {
        if (!bucketed || priority < farBase) {
            return HEAP;
        }
        long bucket = (priority - farBase) >>> shift; // an unsigned offset: negative means past 2^63
        if (bucket < 0 || bucket >= bucketCount) {
            return bucketCount;
        }
        return bucket <= heapBucket ? HEAP : (int) bucket;
    }

    private void enqueue(Object element, long priority) {
        int where = route(priority);
        if (where == HEAP) {
            pushHeap(priority, element);
            if (size > splitAt) {
                split();
            }
        } else {
            link(allocateFar(priority, element), where);
        }
    }

    /**
     * The heap's size at which it is next bucketed: twice what it holds, and at least an eighth
     * of the far timers, as a split walks every one of them (so adds into the heap, timers due
     * before the current bucket ends, pay a bounded share of the walk however many wait).
     */
    private int nextSplitAt() {
        return Math.max(minSplitAt, Math.max(2 * size, farCount / 8));
    }

    /** Buckets the heap's range anew: bucket 0 stays in the heap, the rest and every far timer are routed again. */
    private void split() {
        long min = Long.MAX_VALUE;
        long max = Long.MIN_VALUE;
        int stride = Math.max(1, size / SAMPLES);
        int samples = 0;
        for (int i = 0; i < size; i++) {
            min = Math.min(min, priorities[i]);
            max = Math.max(max, priorities[i]);
        }
        for (int i = 0; i < size && samples < SAMPLES; i += stride) {
            sample[samples++] = priorities[i];
        }
        if (min != max) {
            int[] far = farSlots();
            Arrays.fill(listHeads, NONE);
            bucketRange(min, max, samples);
            heapBucket = 0;
            int kept = 0;
            for (int i = 0; i < size; i++) {
                long priority = priorities[i];
                Object element = elements[i];
                int where = route(priority);
                if (where == HEAP) {
                    put(kept++, priority, element);
                } else {
                    link(allocateFar(priority, element), where);
                }
            }
            Arrays.fill(elements, kept, size, null);
            size = kept;
            for (int slot : far) {
                int where = route(farPriorities[slot]);
                if (where == HEAP) {
                    pushUnordered(farPriorities[slot], farElements[slot]);
                    freeFar(slot);
                } else {
                    link(slot, where);
                }
            }
            heapify();
        }
        splitAt = nextSplitAt();
    }

    /** The heap ran dry: the next non-empty bucket moves in, or the overflow is bucketed anew by its range. */
    private void refill() {
        while (true) {
            for (int bucket = heapBucket + 1; bucket < bucketCount; bucket++) {
                int slot = listHeads[bucket];
                if (slot == NONE) {
                    continue;
                }
                listHeads[bucket] = NONE;
                while (slot != NONE) {
                    int next = farNext[slot];
                    pushUnordered(farPriorities[slot], farElements[slot]);
                    freeFar(slot);
                    slot = next;
                }
                heapBucket = bucket;
                heapify();
                splitAt = nextSplitAt();
                return;
            }
            // every far timer is in the overflow now (farCount of them): bucket it anew
            long min = Long.MAX_VALUE;
            long max = Long.MIN_VALUE;
            int stride = Math.max(1, farCount / SAMPLES);
            int samples = 0;
            int untilSample = 0;
            for (int slot = listHeads[bucketCount]; slot != NONE; slot = farNext[slot]) {
                long priority = farPriorities[slot];
                min = Math.min(min, priority);
                max = Math.max(max, priority);
                if (--untilSample < 0 && samples < SAMPLES) {
                    sample[samples++] = priority;
                    untilSample = stride - 1;
                }
            }
            int slot = listHeads[bucketCount];
            listHeads[bucketCount] = NONE;
            bucketRange(min, max, samples);
            heapBucket = -1;
            while (slot != NONE) { // bucket 0 gets the earliest at least; the latest may stay in the overflow
                int next = farNext[slot];
                link(slot, route(farPriorities[slot]));
                slot = next;
            }
        }
    }

    /**
     * Buckets from {@code min}, wide enough that the last one reaches the sample's 31/32 quantile
     * (or {@code max}, if that quantile is {@code min}): a few far outliers (a timer at {@code
     * Long.MAX_VALUE}) stay in the overflow rather than widen the buckets until every other timer
     * shares the first.
     */
    private void bucketRange(long min, long max, int samples) {
        Arrays.sort(sample, 0, samples);
        long high = sample[samples - 1 - samples / 32];
        if (high == min) {
            high = max;
        }
        long range = high - min; // unsigned
        bucketed = true;
        farBase = min;
        shift = Math.max(0, 64 - Long.numberOfLeadingZeros(range) - bucketBits);
    }

    // ---- the heap ---------------------------------------------------------------------------

    private void pushHeap(long priority, Object element) {
        if (size == elements.length) {
            growHeap();
        }
        siftUp(size++, priority, element);
    }

    private void pushUnordered(long priority, Object element) {
        if (size == elements.length) {
            growHeap();
        }
        put(size++, priority, element);
    }

    private void growHeap() {
        int capacity = elements.length * 2;
        priorities = Arrays.copyOf(priorities, capacity);
        elements = Arrays.copyOf(elements, capacity);
    }

    /** Floyd's heap construction over the whole heap. */
    private void heapify() {
        if (size < 2) {
            return; // a lone element's index was set where it was placed
        }
        for (int i = (size - 2) / ARITY; i >= 0; i--) {
            siftDown(i, priorities[i], elements[i]);
        }
    }

    /** Removes the heap element at {@code position}: the last takes its place and sifts; a dry heap is refilled. */
    private void removeFromHeap(int position) {
        ((HeapPriorityQueueElement) elements[position]).setInternalIndex(HeapPriorityQueueElement.NOT_CONTAINED);
        int last = --size;
        Object moved = elements[last];
        long movedPriority = priorities[last];
        elements[last] = null;
        if (position != last) {
            if (position > 0 && movedPriority < priorities[(position - 1) >>> 2]) {
                siftUp(position, movedPriority, moved);
            } else {
                siftDown(position, movedPriority, moved);
            }
        }
        if (size == 0) {
            if (farCount > 0) {
                refill();
            } else {
                bucketed = false;
                splitAt = minSplitAt;
            }
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
            moveUp(parent, position, p, e);
            position = parent;
        }
        put(position, priority, element);
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
            moveUp(smallest, position, p, e);
            position = smallest;
        }
        put(position, priority, element);
    }

    /** Puts a timer at a heap position: its priority beside it, its index pointing there. */
    private void put(int position, long priority, Object element) {
        priorities[position] = priority;
        elements[position] = element;
        ((HeapPriorityQueueElement) element).setInternalIndex(position);
    }

    private static void moveUp(int from, int to, long[] p, Object[] e) {
        p[to] = p[from];
        e[to] = e[from];
        ((HeapPriorityQueueElement) e[to]).setInternalIndex(to);
    }

    /**
     * A far timer's element index from its slab slot, and its slot from its index: {@code -2 -
     * slot} either way, below -1 so that it never reads as a heap position or as Flink's
     * {@code NOT_CONTAINED}.
     */
    private static int farSlotOrIndex(int slotOrIndex) {
        return -2 - slotOrIndex;
    }

    /** Whether the element is where its index says: at its heap position or in its slab slot. */
    private boolean isQueued(Object element) {
        int index = ((HeapPriorityQueueElement) element).getInternalIndex();
        if (index >= 0) {
            return index < size && elements[index] == element;
        }
        int slot = farSlotOrIndex(index);
        return slot >= 0 && slot < farUsed && farElements[slot] == element;
    }

    // ---- the far timers ---------------------------------------------------------------------

    private int allocateFar(long priority, Object element) {
        int slot;
        if (farFree != NONE) {
            slot = farFree;
            farFree = farNext[slot];
        } else {
            if (farUsed == farElements.length) {
                if (farUsed >= Integer.MAX_VALUE / 2 - 2) {
                    throw new IllegalStateException("more than " + farUsed + " timers wait in one queue");
                }
                int capacity = farUsed * 2;
                farPriorities = Arrays.copyOf(farPriorities, capacity);
                farElements = Arrays.copyOf(farElements, capacity);
                farNext = Arrays.copyOf(farNext, capacity);
                farPrev = Arrays.copyOf(farPrev, capacity);
            }
            slot = farUsed++;
        }
        farPriorities[slot] = priority;
        farElements[slot] = element;
        ((HeapPriorityQueueElement) element).setInternalIndex(farSlotOrIndex(slot));
        farCount++;
        return slot;
    }

    /** Puts a slab slot at the head of list {@code list} (a bucket, or the overflow). */
    private void link(int slot, int list) {
        int head = listHeads[list];
        farNext[slot] = head;
        farPrev[slot] = -2 - list; // a head's prev names its list
        if (head != NONE) {
            farPrev[head] = slot;
        }
        listHeads[list] = slot;
    }

    private void unlink(int slot) {
        int next = farNext[slot];
        int prev = farPrev[slot];
        if (prev >= 0) {
            farNext[prev] = next;
        } else {
            listHeads[-2 - prev] = next;
        }
        if (next != NONE) {
            farPrev[next] = prev;
        }
    }

    private void freeFar(int slot) {
        farElements[slot] = null;
        farNext[slot] = farFree;
        farFree = slot;
        farCount--;
    }

    private void removeFar(int slot) {
        ((HeapPriorityQueueElement) farElements[slot]).setInternalIndex(HeapPriorityQueueElement.NOT_CONTAINED);
        unlink(slot);
        freeFar(slot);
    }

    /** The slab slots of every far timer (they stay allocated; the lists are rebuilt by the caller). */
    private int[] farSlots() {
        int[] slots = new int[farCount];
        int n = 0;
        for (int list = 0; list <= bucketCount; list++) {
            for (int slot = listHeads[list]; slot != NONE; slot = farNext[slot]) {
                slots[n++] = slot;
            }
        }
        return slots;
    }

    // ---- checks -----------------------------------------------------------------------------

    /** Verifies the invariants in the header; throws {@link IllegalStateException} naming the first broken one. */
    public void checkInvariants() {
        set.checkInvariants(this::isQueued);
        if (set.size() != size()) {
            throw new IllegalStateException("the set holds " + set.size() + " elements, the queue " + size());
        }
        if (farCount > 0 && size == 0) {
            throw new IllegalStateException(farCount + " far timers wait behind an empty heap");
        }
        if (!bucketed && farCount > 0) {
            throw new IllegalStateException(farCount + " far timers without buckets");
        }
        for (int i = 0; i < size; i++) {
            HeapPriorityQueueElement element = (HeapPriorityQueueElement) elements[i];
            if (element.getInternalIndex() != i) {
                throw new IllegalStateException("heap position " + i + " holds an element that says "
                        + element.getInternalIndex());
            }
            checkPriority(priorities[i], element, "heap position " + i);
            if (i > 0 && priorities[(i - 1) >>> 2] > priorities[i]) {
                throw new IllegalStateException("heap position " + i + " is smaller than its parent");
            }
            if (route(priorities[i]) != HEAP) {
                throw new IllegalStateException("heap position " + i + " (" + priorities[i] + ") belongs in list "
                        + route(priorities[i]));
            }
        }
        for (int i = size; i < elements.length; i++) {
            if (elements[i] != null) {
                throw new IllegalStateException("heap position " + i + " past the end is not cleared");
            }
        }
        int linked = 0;
        for (int list = 0; list <= bucketCount; list++) {
            int prev = -2 - list;
            for (int slot = listHeads[list]; slot != NONE; slot = farNext[slot]) {
                if (++linked > farCount) {
                    throw new IllegalStateException("the far lists hold more than " + farCount + " timers (a cycle?)");
                }
                if (farPrev[slot] != prev) {
                    throw new IllegalStateException("far slot " + slot + " has prev " + farPrev[slot] + ", not " + prev);
                }
                HeapPriorityQueueElement element = (HeapPriorityQueueElement) farElements[slot];
                if (element == null || element.getInternalIndex() != farSlotOrIndex(slot)) {
                    throw new IllegalStateException("far slot " + slot + " of list " + list + " holds " + element);
                }
                checkPriority(farPriorities[slot], element, "far slot " + slot);
                if (route(farPriorities[slot]) != list) {
                    throw new IllegalStateException("far slot " + slot + " (" + farPriorities[slot] + ") is in list "
                            + list + " but belongs in " + route(farPriorities[slot]));
                }
                prev = slot;
            }
        }
        if (linked != farCount) {
            throw new IllegalStateException("the far lists hold " + linked + " timers, the count says " + farCount);
        }
    }

    @SuppressWarnings("unchecked")
    private void checkPriority(long kept, Object element, String where) {
        long actual = priorityOf.applyAsLong((T) element);
        if (kept != actual) {
            throw new IllegalStateException(where + " keeps priority " + kept + " for an element of priority " + actual);
        }
    }
}

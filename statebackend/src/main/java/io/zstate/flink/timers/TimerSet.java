package io.zstate.flink.timers;

import java.util.Arrays;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;
import org.apache.flink.runtime.state.heap.HeapPriorityQueueElement;

/**
 * The set of a {@link TimerHeap}'s timers, for the set semantics Flink's timer services need
 * (registering a timer twice keeps one; deleting a timer finds the queued one equal to it): an
 * open-addressing table with linear probing, at most half full, that keeps each element's hash
 * beside it, so a probe reads an element only when the hashes match. Deletion shifts the later
 * entries of the probe run back (no tombstones).
 *
 * <pre>
 *   hashes    int[]    [ h |   | h | h |   | ... ]     an element sits at its hash's home slot
 *   elements  Object[] [ e |   | e | e |   | ... ]     or after it, with no empty slot between
 * </pre>
 *
 * <p>Invariants ({@link #checkInvariants}): each slot's hash is its element's; every element is
 * reachable from its home slot without crossing an empty slot; the count is the number of
 * elements. The hash function must give equal elements equal hashes. Not thread-safe (its
 * heap's thread).
 *
 * @param <T> the element type
 */
final class TimerSet<T> {

    private final ToIntFunction<? super T> hashing;
    private int[] hashes;
    private Object[] elements;
    private int mask;
    private int count;

    TimerSet(ToIntFunction<? super T> hashing, int expected) {
        this.hashing = hashing;
        int capacity = Integer.highestOneBit(Math.max(8, expected) * 2 - 1) << 1;
        this.hashes = new int[capacity];
        this.elements = new Object[capacity];
        this.mask = capacity - 1;
    }

    /** Adds the element unless an equal one is in the set; false if one was. */
    boolean addIfAbsent(T element) {
        int hash = hashOf(element);
        int slot = find(element, hash);
        if (slot >= 0) {
            return false;
        }
        if (count >= mask / 2) {
            grow();
            slot = find(element, hash);
        }
        hashes[~slot] = hash;
        elements[~slot] = element;
        count++;
        return true;
    }

    /** Removes and returns the element equal to this one, or null if there is none. */
    @SuppressWarnings("unchecked")
    T removeEqual(T element) {
        int slot = find(element, hashOf(element));
        if (slot < 0) {
            return null;
        }
        T stored = (T) elements[slot];
        deleteSlot(slot);
        return stored;
    }

    /** Removes an element known to be in the set (its heap's head); throws if it is not. */
    void removeQueued(T element) {
        if (removeEqual(element) == null) {
            throw new IllegalStateException("A queued timer is missing from its queue's set: " + element);
        }
    }

    void clear() {
        Arrays.fill(elements, null);
        count = 0;
    }

    int size() {
        return count;
    }

    private int hashOf(T element) {
        int h = hashing.applyAsInt(element) * 0x9E3779B9;
        return h ^ (h >>> 16);
    }

    /** The slot holding an element equal to {@code element}, or {@code ~slot} of the empty slot where it would go. */
    private int find(Object element, int hash) {
        int[] hs = hashes;
        Object[] stored = elements;
        int m = mask;
        int slot = hash & m;
        while (true) {
            Object candidate = stored[slot];
            if (candidate == null) {
                return ~slot;
            }
            if (hs[slot] == hash && (candidate == element || candidate.equals(element))) {
                return slot;
            }
            slot = (slot + 1) & m;
        }
    }

    /** Empties a slot, moving later entries of its probe run back so that none is cut off. */
    private void deleteSlot(int slot) {
        int[] hs = hashes;
        Object[] stored = elements;
        int m = mask;
        int hole = slot;
        int next = (slot + 1) & m;
        while (stored[next] != null) {
            int home = hs[next] & m;
            // the entry at next may fill the hole unless its home lies cyclically in (hole, next]
            boolean homeAfterHole = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
            if (!homeAfterHole) {
                hs[hole] = hs[next];
                stored[hole] = stored[next];
                hole = next;
            }
            next = (next + 1) & m;
        }
        stored[hole] = null;
        count--;
    }

    private void grow() {
        int[] oldHashes = hashes;
        Object[] oldElements = elements;
        int capacity = oldElements.length * 2;
        hashes = new int[capacity];
        elements = new Object[capacity];
        mask = capacity - 1;
        for (int i = 0; i < oldElements.length; i++) {
            if (oldElements[i] != null) {
                int slot = oldHashes[i] & mask;
                while (elements[slot] != null) {
                    slot = (slot + 1) & mask;
                }
                hashes[slot] = oldHashes[i];
                elements[slot] = oldElements[i];
            }
        }
    }

    /**
     * Verifies the invariants in the header, and that {@code queued} holds for every element (its
     * heap checks that each is where its index says); throws {@link IllegalStateException}.
     */
    @SuppressWarnings("unchecked")
    void checkInvariants(Predicate<Object> queued) {
        int found = 0;
        for (int slot = 0; slot <= mask; slot++) {
            Object element = elements[slot];
            if (element == null) {
                continue;
            }
            found++;
            if (hashes[slot] != hashOf((T) element)) {
                throw new IllegalStateException("set slot " + slot + " holds a stale hash for " + element);
            }
            if (find(element, hashes[slot]) != slot) {
                throw new IllegalStateException("set slot " + slot + " is not reachable from its home: " + element);
            }
            if (!queued.test(element)) {
                throw new IllegalStateException(element + " is in the set but not where its index "
                        + ((HeapPriorityQueueElement) element).getInternalIndex()
                        + " says");
            }
        }
        if (found != count) {
            throw new IllegalStateException("the set holds " + found + " elements, its count says " + count);
        }
    }
}

package io.zstate.allocator;

import java.util.Arrays;

/**
 * A set of intrusive doubly-linked lists over small int ids (frames, spans), the {@code
 * list_head} of the kernel allocators without an object per node: each id sits in at most one of
 * the lists at a time, and the caller knows which (it passes the list to {@link #remove}).
 *
 * <pre>
 *   head[list] -> id -> next[id] -> ... -> tail[list]     prev[] runs the other way
 *   prev[id] == DETACHED: id is in no list
 * </pre>
 *
 * <p>All operations are O(1) and allocation-free once the capacity covers the ids. Cost: 8 bytes
 * per id of capacity; capacity grows by an eighth at a time, so little of it is slack.
 */
final class IntLinkedLists {

    static final int NIL = -1;
    private static final int DETACHED = -2;

    private final int[] head;
    private final int[] tail;
    private final int[] size;
    private final int maxCapacity;
    private int[] prev = new int[0];
    private int[] next = new int[0];

    /** Lists over ids below {@code maxCapacity}. */
    IntLinkedLists(int lists, int maxCapacity) {
        head = new int[lists];
        tail = new int[lists];
        size = new int[lists];
        Arrays.fill(head, NIL);
        Arrays.fill(tail, NIL);
        this.maxCapacity = maxCapacity;
    }

    /** Makes room for ids below {@code capacity}. */
    void ensureCapacity(int capacity) {
        if (capacity <= prev.length) {
            return;
        }
        if (capacity > maxCapacity) {
            throw new IllegalArgumentException("id " + (capacity - 1) + " is beyond " + maxCapacity + " ids");
        }
        int grown = (int) Math.min(maxCapacity, Math.max(capacity, prev.length + (prev.length >> 3) + 64L));
        int old = prev.length;
        prev = Arrays.copyOf(prev, grown);
        next = Arrays.copyOf(next, grown);
        Arrays.fill(prev, old, grown, DETACHED);
    }

    void addFirst(int list, int id) {
        assert prev[id] == DETACHED : "id " + id + " is already in a list";
        int h = head[list];
        prev[id] = NIL;
        next[id] = h;
        if (h != NIL) {
            prev[h] = id;
        } else {
            tail[list] = id;
        }
        head[list] = id;
        size[list]++;
    }

    void remove(int list, int id) {
        assert prev[id] != DETACHED : "id " + id + " is in no list";
        int p = prev[id];
        int n = next[id];
        if (p != NIL) {
            next[p] = n;
        } else {
            assert head[list] == id : "id " + id + " is not in list " + list;
            head[list] = n;
        }
        if (n != NIL) {
            prev[n] = p;
        } else {
            tail[list] = p;
        }
        prev[id] = DETACHED;
        size[list]--;
    }

    /** Moves {@code id} to the head of {@code list}, whether it is in that list or in none. */
    void moveToFirst(int list, int id) {
        if (head[list] == id) {
            return;
        }
        if (prev[id] != DETACHED) {
            remove(list, id);
        }
        addFirst(list, id);
    }

    boolean contains(int id) {
        return id < prev.length && prev[id] != DETACHED;
    }

    int first(int list) {
        return head[list];
    }

    int last(int list) {
        return tail[list];
    }

    int next(int id) {
        return next[id];
    }

    int size(int list) {
        return size[list];
    }

    int lists() {
        return head.length;
    }

    long metadataBytes() {
        return 8L * prev.length + 12L * head.length + 5 * 16L;
    }

    /**
     * Walks every list: links agree both ways, sizes match, no cycles, and the ids that claim to
     * be listed are exactly the ids the lists hold.
     *
     * @return for each id listed, its list; ids in no list map to NIL
     */
    int[] checkInvariants(String what) {
        int[] listOf = new int[prev.length];
        Arrays.fill(listOf, NIL);
        int total = 0;
        for (int list = 0; list < head.length; list++) {
            int count = 0;
            int p = NIL;
            for (int id = head[list]; id != NIL; id = next[id]) {
                if (prev[id] != p || listOf[id] != NIL) {
                    throw new IllegalStateException(
                            what + " list " + list + ": links of id " + id + " are inconsistent");
                }
                listOf[id] = list;
                if (++count > prev.length) {
                    throw new IllegalStateException(what + " list " + list + " has a cycle");
                }
                p = id;
            }
            if (tail[list] != p || size[list] != count) {
                throw new IllegalStateException(what + " list " + list + ": tail or size disagrees with its links");
            }
            total += count;
        }
        int attached = 0;
        for (int id = 0; id < prev.length; id++) {
            if (prev[id] != DETACHED) {
                attached++;
            }
        }
        if (attached != total) {
            throw new IllegalStateException(
                    what + " lists: " + attached + " ids claim a list but the lists hold " + total);
        }
        return listOf;
    }
}

package io.zstate.allocator;

import java.util.Arrays;

/**
 * A set of intrusive doubly-linked lists over small int ids (frames, spans), the {@code
 * list_head} of the kernel allocators without an object per node: each id sits in at most one of
 * the lists at a time. Used for LRU order and for the free-space and fullness lists.
 *
 * <pre>
 *   head[list] -> id -> next[id] -> ... -> tail[list]     prev[] runs the other way
 *   owner[id] = list holding id, or NIL
 * </pre>
 *
 * <p>All operations are O(1) and allocation-free once the capacity covers the ids.
 */
final class IntLinkedLists {

    static final int NIL = -1;

    private final int[] head;
    private final int[] tail;
    private final int[] size;
    private int[] prev;
    private int[] next;
    private int[] owner;

    IntLinkedLists(int lists, int initialCapacity) {
        head = new int[lists];
        tail = new int[lists];
        size = new int[lists];
        Arrays.fill(head, NIL);
        Arrays.fill(tail, NIL);
        prev = new int[initialCapacity];
        next = new int[initialCapacity];
        owner = new int[initialCapacity];
        Arrays.fill(owner, NIL);
    }

    /** Makes room for ids below {@code capacity}. */
    void ensureCapacity(int capacity) {
        if (capacity <= owner.length) {
            return;
        }
        int grown = Math.max(capacity, owner.length + (owner.length >> 1) + 8);
        int old = owner.length;
        prev = Arrays.copyOf(prev, grown);
        next = Arrays.copyOf(next, grown);
        owner = Arrays.copyOf(owner, grown);
        Arrays.fill(owner, old, grown, NIL);
    }

    void addFirst(int list, int id) {
        assert owner[id] == NIL : "id " + id + " already in list " + owner[id];
        int h = head[list];
        prev[id] = NIL;
        next[id] = h;
        if (h != NIL) {
            prev[h] = id;
        } else {
            tail[list] = id;
        }
        head[list] = id;
        owner[id] = list;
        size[list]++;
    }

    void remove(int id) {
        int list = owner[id];
        assert list != NIL : "id " + id + " is in no list";
        int p = prev[id];
        int n = next[id];
        if (p != NIL) {
            next[p] = n;
        } else {
            head[list] = n;
        }
        if (n != NIL) {
            prev[n] = p;
        } else {
            tail[list] = p;
        }
        owner[id] = NIL;
        size[list]--;
    }

    /** Moves {@code id} to the head of {@code list}, from whatever list holds it. */
    void moveToFirst(int list, int id) {
        if (owner[id] == list && head[list] == id) {
            return;
        }
        if (owner[id] != NIL) {
            remove(id);
        }
        addFirst(list, id);
    }

    /** The list holding {@code id}, or {@link #NIL}. */
    int listOf(int id) {
        return id < owner.length ? owner[id] : NIL;
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
        return 12L * owner.length + 12L * head.length + 6 * 16L;
    }

    /** Walks every list: links agree both ways, owners match, sizes match, no cycles. */
    void checkInvariants(String what) {
        int total = 0;
        for (int list = 0; list < head.length; list++) {
            int count = 0;
            int p = NIL;
            for (int id = head[list]; id != NIL; id = next[id]) {
                if (owner[id] != list || prev[id] != p) {
                    throw new IllegalStateException(
                            what + " list " + list + ": links or owner of id " + id + " are inconsistent");
                }
                if (++count > owner.length) {
                    throw new IllegalStateException(what + " list " + list + " has a cycle");
                }
                p = id;
            }
            if (tail[list] != p || size[list] != count) {
                throw new IllegalStateException(
                        what + " list " + list + ": tail or size disagrees with its links");
            }
            total += count;
        }
        int owned = 0;
        for (int o : owner) {
            if (o != NIL) {
                owned++;
            }
        }
        if (owned != total) {
            throw new IllegalStateException(
                    what + " lists: " + owned + " ids claim a list but the lists hold " + total);
        }
    }
}

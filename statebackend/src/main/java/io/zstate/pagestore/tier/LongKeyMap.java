package io.zstate.pagestore.tier;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * A hash map from {@code long} keys to objects without boxing: what the snapshot pins are found
 * by (page id -> pin per snapshot, pool handle -> pin), on paths that run once per saved page.
 *
 * <pre>
 *   open addressing, linear probing, capacity a power of two, at most half full; key 0 is kept
 *   apart (a flag and a value of its own) because an empty slot holds 0; removal shifts the
 *   following entries of the run back (no tombstones), so lookups stop at the first empty slot
 * </pre>
 *
 * <p>Not thread-safe: used under the store's lock.
 */
final class LongKeyMap<V> {

    private long[] keys = new long[16];
    private Object[] values = new Object[16];
    private int size;
    private boolean hasZero;
    private Object zeroValue;

    int size() {
        return size + (hasZero ? 1 : 0);
    }

    boolean isEmpty() {
        return size() == 0;
    }

    @SuppressWarnings("unchecked")
    V get(long key) {
        if (key == 0) {
            return hasZero ? (V) zeroValue : null;
        }
        int mask = keys.length - 1;
        for (int i = slot(key, mask); keys[i] != 0; i = (i + 1) & mask) {
            if (keys[i] == key) {
                return (V) values[i];
            }
        }
        return null;
    }

    /** Maps {@code key} to {@code value} (not null); returns the previous value or null. */
    @SuppressWarnings("unchecked")
    V put(long key, V value) {
        if (value == null) {
            throw new IllegalArgumentException("no null values");
        }
        if (key == 0) {
            V previous = hasZero ? (V) zeroValue : null;
            hasZero = true;
            zeroValue = value;
            return previous;
        }
        if (2 * (size + 1) > keys.length) {
            grow();
        }
        int mask = keys.length - 1;
        int i = slot(key, mask);
        for (; keys[i] != 0; i = (i + 1) & mask) {
            if (keys[i] == key) {
                V previous = (V) values[i];
                values[i] = value;
                return previous;
            }
        }
        keys[i] = key;
        values[i] = value;
        size++;
        return null;
    }

    /** Removes {@code key}; returns its value or null. */
    @SuppressWarnings("unchecked")
    V remove(long key) {
        if (key == 0) {
            V previous = hasZero ? (V) zeroValue : null;
            hasZero = false;
            zeroValue = null;
            return previous;
        }
        int mask = keys.length - 1;
        int i = slot(key, mask);
        while (keys[i] != key) {
            if (keys[i] == 0) {
                return null;
            }
            i = (i + 1) & mask;
        }
        V previous = (V) values[i];
        // shift the rest of the run back over the hole
        int hole = i;
        for (int j = (i + 1) & mask; keys[j] != 0; j = (j + 1) & mask) {
            int home = slot(keys[j], mask);
            boolean movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
            if (movable) {
                keys[hole] = keys[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        keys[hole] = 0;
        values[hole] = null;
        size--;
        return previous;
    }

    @SuppressWarnings("unchecked")
    void forEachValue(Consumer<V> action) {
        if (hasZero) {
            action.accept((V) zeroValue);
        }
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != 0) {
                action.accept((V) values[i]);
            }
        }
    }

    void clear() {
        Arrays.fill(keys, 0);
        Arrays.fill(values, null);
        size = 0;
        hasZero = false;
        zeroValue = null;
    }

    private void grow() {
        long[] oldKeys = keys;
        Object[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new Object[oldKeys.length * 2];
        int mask = keys.length - 1;
        for (int j = 0; j < oldKeys.length; j++) {
            if (oldKeys[j] != 0) {
                int i = slot(oldKeys[j], mask);
                while (keys[i] != 0) {
                    i = (i + 1) & mask;
                }
                keys[i] = oldKeys[j];
                values[i] = oldValues[j];
            }
        }
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L; // Fibonacci hashing: page ids and handles are dense
        return (int) (h ^ (h >>> 32)) & mask;
    }
}

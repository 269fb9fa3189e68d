package io.zstate.pagestore.index;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * The registry of tables (one per Flink state) and, per table, a random hash seed and one
 * {@link Directory} per key-group of the store's range, created on first write.
 */
final class Tables {

    private final int firstKeyGroup;
    private final int numberOfKeyGroups;
    private final List<String> names = new ArrayList<>();
    private final List<Directory[]> groups = new ArrayList<>();
    private int[] seeds = new int[8];
    private final java.util.SplittableRandom random = new java.util.SplittableRandom();

    Tables(int firstKeyGroup, int numberOfKeyGroups) {
        if (numberOfKeyGroups < 1) {
            throw new IllegalArgumentException("a page store needs at least one key-group");
        }
        this.firstKeyGroup = firstKeyGroup;
        this.numberOfKeyGroups = numberOfKeyGroups;
    }

    int create(String name) {
        return create(name, random.nextInt());
    }

    /** Creates a table whose entries are placed with {@code seed} (one kept from a snapshot). */
    int create(String name, int seed) {
        int table = names.size();
        names.add(name);
        groups.add(new Directory[numberOfKeyGroups]);
        if (table == seeds.length) {
            seeds = java.util.Arrays.copyOf(seeds, table * 2);
        }
        seeds[table] = seed;
        return table;
    }

    /** The table's hash seed, drawn at random when it was created, or the one it was created with. */
    int seed(int table) {
        return seeds[table];
    }

    String name(int table) {
        return names.get(table);
    }

    /** Checks a table id and key-group before anything is touched. */
    void check(int table, int keyGroup) {
        if (table < 0 || table >= names.size()) {
            throw new IllegalArgumentException("table " + table + " does not exist: this store has " + names.size());
        }
        int index = keyGroup - firstKeyGroup;
        if (index < 0 || index >= numberOfKeyGroups) {
            throw new IllegalArgumentException("key-group " + keyGroup + " is outside this store's range "
                    + firstKeyGroup + ".." + (firstKeyGroup + numberOfKeyGroups - 1));
        }
    }

    /** The directory of a table and key-group, or null if nothing was written there. */
    Directory directory(int table, int keyGroup) {
        return groups.get(table)[keyGroup - firstKeyGroup];
    }

    void directory(int table, int keyGroup, Directory directory) {
        groups.get(table)[keyGroup - firstKeyGroup] = directory;
    }

    Directory[] directories(int table) {
        return groups.get(table);
    }

    int count() {
        return names.size();
    }

    /**
     * Every directory's heads as they are now, for a frozen view: [table][key-group index] (null
     * where none). The arrays are shared, not copied: each directory copies its own before its
     * next change (copy on write), so this costs one step per directory, not per bucket.
     */
    int[][][] freeze() {
        int[][][] frozen = new int[groups.size()][][];
        for (int t = 0; t < groups.size(); t++) {
            Directory[] g = groups.get(t);
            frozen[t] = new int[g.length][];
            for (int i = 0; i < g.length; i++) {
                if (g[i] != null) {
                    frozen[t][i] = g[i].pages;
                    g[i].shared = true;
                }
            }
        }
        return frozen;
    }

    long heapBytes() {
        long bytes = 0;
        for (Directory[] g : groups) {
            for (Directory d : g) {
                if (d != null) {
                    bytes += d.heapBytes();
                }
            }
        }
        return bytes;
    }

    void checkInvariants(IntPredicate isLive) {
        for (int t = 0; t < groups.size(); t++) {
            for (Directory d : groups.get(t)) {
                if (d != null) {
                    d.checkInvariants(names.get(t), isLive);
                }
            }
        }
    }
}

package io.zstate.benchmarks;

/**
 * The keys of the point-access benchmarks, written the way Flink serializes a {@code
 * ValueState<Long>} entry keyed by a long: key (8 bytes, big-endian) | VoidNamespace (1 byte).
 * Entry {@code i} has key {@code i} and lives in key-group {@code murmur(i) % keyGroups}, the
 * way Flink assigns key-groups. Writing a key into a reused buffer allocates nothing.
 */
final class StateKeys {

    static final int KEY_BYTES = 9;

    private StateKeys() {}

    static void write(long key, byte[] buffer, int offset) {
        for (int b = 0; b < 8; b++) {
            buffer[offset + b] = (byte) (key >>> (56 - 8 * b));
        }
        buffer[offset + 8] = 0;
    }

    static int keyGroup(long key, int keyGroups) {
        int h = Long.hashCode(key);
        // Flink's MathUtils.murmurHash(int) finalizer
        h *= 0xcc9e2d51;
        h = Integer.rotateLeft(h, 15);
        h *= 0x1b873593;
        h = Integer.rotateLeft(h, 13);
        h = h * 5 + 0xe6546b64;
        h ^= 4;
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        h ^= h >>> 16;
        return (h & 0x7fffffff) % keyGroups;
    }

    /** A fixed random visiting order of {@code n} entries, so picking a key costs one array read. */
    static int[] uniformOrder(int n, int length, long seed) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        int[] order = new int[length];
        for (int i = 0; i < length; i++) {
            order[i] = random.nextInt(n);
        }
        return order;
    }

    static void writeValue(long value, byte[] buffer) {
        for (int b = 0; b < 8; b++) {
            buffer[b] = (byte) (value >>> (56 - 8 * b));
        }
    }
}

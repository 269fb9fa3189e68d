package io.zstate.benchmarks.state;

import java.util.SplittableRandom;

/**
 * The constants of Apache flink-benchmarks' state benchmarks (500,000 setup keys, 500,000 new
 * keys, 10 map keys, 100 list values, 1,000,000 random values), with every key and value boxed
 * once up front so the measured loops allocate nothing of their own.
 */
final class StateConstants {

    static final int SETUP_KEYS = 500_000;
    static final int NEW_KEYS = 500_000;
    static final int MAP_KEYS = 10;
    static final int LIST_VALUES = 100;
    static final int RANDOM_VALUES = 1_000_000;

    /** Setup key {@code i} is {@code i}; the benchmarks visit them in a {@link KeyDistribution}'s order. */
    static final Long[] SETUP_KEY_OBJECTS = new Long[SETUP_KEYS];
    /** Keys no setup wrote, in a shuffled order. */
    static final Long[] NEW_KEY_OBJECTS = new Long[NEW_KEYS];
    static final Long[] RANDOM_VALUE_OBJECTS = new Long[RANDOM_VALUES];
    static final Long[] MAP_KEY_OBJECTS = new Long[MAP_KEYS];
    static final Double[] MAP_VALUE_OBJECTS = new Double[MAP_KEYS];

    static {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < SETUP_KEYS; i++) {
            SETUP_KEY_OBJECTS[i] = (long) i;
        }
        int[] newOrder = KeyDistribution.permutation(NEW_KEYS, random);
        for (int i = 0; i < NEW_KEYS; i++) {
            NEW_KEY_OBJECTS[i] = (long) SETUP_KEYS + newOrder[i];
        }
        int[] valueOrder = KeyDistribution.permutation(RANDOM_VALUES, random);
        for (int i = 0; i < RANDOM_VALUES; i++) {
            RANDOM_VALUE_OBJECTS[i] = (long) valueOrder[i];
        }
        int[] mapOrder = KeyDistribution.permutation(MAP_KEYS, random);
        for (int i = 0; i < MAP_KEYS; i++) {
            MAP_KEY_OBJECTS[i] = (long) mapOrder[i];
            MAP_VALUE_OBJECTS[i] = random.nextDouble();
        }
    }

    private StateConstants() {}

    /** Initialises the constants now (so a memory measurement does not count them). */
    static void touch() {
        if (SETUP_KEY_OBJECTS[0] == null) {
            throw new IllegalStateException("constants not initialised");
        }
    }
}

package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.state.AggregatingState;
import org.apache.flink.api.common.state.AggregatingStateDescriptor;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ReducingState;
import org.apache.flink.api.common.state.ReducingStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.StateBackend;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * zstate against Flink's HashMap backend as the oracle: random sequences of operations on every
 * state type (Value, List, Map, Reducing, Aggregating), several namespaces, keys and values from
 * a few bytes to 64 KiB (composite keys far over half a page), maps from one entry to a few
 * thousand (bulk puts; 100,000 with -Dzstate.differential.maxBulk=100000), removal through map
 * iterators, applied to both and every read compared; snapshots restored in the middle of a sequence, into one backend or rescaled into two
 * (key-groups split) and back. zstate runs with a 64 KiB zbud pool and an 8-page cache, so every
 * tier is used.
 */
class DifferentialStatePropertyTest {

    enum Kind {
        VALUE_UPDATE, VALUE_GET, VALUE_CLEAR,
        LIST_ADD, LIST_UPDATE, LIST_GET, LIST_CLEAR,
        MAP_PUT, MAP_GET, MAP_REMOVE, MAP_CONTAINS, MAP_ITERATE, MAP_IS_EMPTY, MAP_CLEAR,
        MAP_BULK_PUT, MAP_ITERATE_REMOVE,
        REDUCE, AGGREGATE,
        RESTORE, RESCALE
    }

    record Op(Kind kind, int key, int namespace, int userKey, int size, int seed) {}

    private static final int KEY_GROUPS = 8;
    /** Entries a bulk put adds at most: -Dzstate.differential.maxBulk=100000 for the full sizes. */
    private static final int MAX_BULK = Integer.getInteger("zstate.differential.maxBulk", 3_000);

    private static final ValueStateDescriptor<String> VALUE = new ValueStateDescriptor<>("value", String.class);
    private static final ListStateDescriptor<String> LIST = new ListStateDescriptor<>("list", String.class);
    private static final MapStateDescriptor<String, String> MAP =
            new MapStateDescriptor<>("map", String.class, String.class);
    private static final ReducingStateDescriptor<Long> REDUCING =
            new ReducingStateDescriptor<>("reducing", Long::sum, Long.class);
    private static final AggregatingStateDescriptor<String, Long, String> AGGREGATING =
            new AggregatingStateDescriptor<>("aggregating", new LengthSum(), Long.class);

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Kind> kinds = Arbitraries.frequency(
                Tuple.of(10, Kind.VALUE_UPDATE), Tuple.of(6, Kind.VALUE_GET), Tuple.of(2, Kind.VALUE_CLEAR),
                Tuple.of(8, Kind.LIST_ADD), Tuple.of(2, Kind.LIST_UPDATE), Tuple.of(5, Kind.LIST_GET),
                Tuple.of(1, Kind.LIST_CLEAR),
                Tuple.of(14, Kind.MAP_PUT), Tuple.of(6, Kind.MAP_GET), Tuple.of(4, Kind.MAP_REMOVE),
                Tuple.of(3, Kind.MAP_CONTAINS), Tuple.of(3, Kind.MAP_ITERATE), Tuple.of(2, Kind.MAP_IS_EMPTY),
                Tuple.of(1, Kind.MAP_CLEAR), Tuple.of(2, Kind.MAP_BULK_PUT), Tuple.of(1, Kind.MAP_ITERATE_REMOVE),
                Tuple.of(4, Kind.REDUCE), Tuple.of(4, Kind.AGGREGATE),
                Tuple.of(1, Kind.RESTORE), Tuple.of(1, Kind.RESCALE));
        Arbitrary<Integer> sizes = Arbitraries.frequencyOf(
                Tuple.of(8, Arbitraries.integers().between(0, 40)),
                Tuple.of(3, Arbitraries.integers().between(41, 1500)),
                Tuple.of(1, Arbitraries.integers().between(1501, 65_536)));
        return Combinators.combine(
                        kinds,
                        Arbitraries.integers().between(0, 40),
                        Arbitraries.integers().between(0, 3),
                        Arbitraries.integers().between(0, 60),
                        sizes,
                        Arbitraries.integers())
                .as(Op::new)
                .list()
                .ofMinSize(20)
                .ofMaxSize(150);
    }

    @Property(tries = 150)
    void zstateReadsWhatHashMapReads(@ForAll("ops") List<Op> ops) throws Exception {
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            Side zstate = new Side(ZStateBackendTest.backend("zbud-tiny-pool"), env);
            Side oracle = new Side(new HashMapStateBackend(), env);
            try {
                for (Op op : ops) {
                    switch (op.kind()) {
                        case RESTORE -> {
                            zstate.restore(false);
                            oracle.restore(false);
                            Statistics.label("restores").collect("into one backend");
                        }
                        case RESCALE -> {
                            boolean split = zstate.parts.size() == 1;
                            zstate.restore(split);
                            oracle.restore(split);
                            Statistics.label("restores").collect(split ? "split into two" : "merged from two");
                        }
                        default -> assertThat(zstate.apply(op)).as("%s", op).isEqualTo(oracle.apply(op));
                    }
                }
                long buffered = 0;
                for (CheckpointableKeyedStateBackend<Integer> part : zstate.parts) {
                    buffered += ((ZKeyedStateBackend<?>) part).pageStoreStats().bufferedWrites();
                }
                Statistics.label("writes waited in the write buffer").collect(buffered > 0);
                for (int key = 0; key <= 40; key++) {
                    for (int ns = 0; ns <= 3; ns++) {
                        Op everything = new Op(Kind.MAP_ITERATE, key, ns, 0, 0, 0);
                        assertThat(zstate.apply(everything)).isEqualTo(oracle.apply(everything));
                        Op value = new Op(Kind.VALUE_GET, key, ns, 0, 0, 0);
                        assertThat(zstate.apply(value)).isEqualTo(oracle.apply(value));
                        Op list = new Op(Kind.LIST_GET, key, ns, 0, 0, 0);
                        assertThat(zstate.apply(list)).isEqualTo(oracle.apply(list));
                    }
                }
            } finally {
                zstate.dispose();
                oracle.dispose();
            }
        }
        Statistics.label("writes waited in the write buffer").coverage(c -> c.check(true).count(n -> n > 0));
        Statistics.label("restores").coverage(c -> {
            c.check("split into two").count(n -> n > 0);
            c.check("merged from two").count(n -> n > 0);
        });
    }

    /** One backend kind: one keyed backend, or two after a rescale (key-groups 0..3 and 4..7). */
    static final class Side {
        final StateBackend backend;
        final MockEnvironment env;
        List<CheckpointableKeyedStateBackend<Integer>> parts = new ArrayList<>();

        Side(StateBackend backend, MockEnvironment env) throws Exception {
            this.backend = backend;
            this.env = env;
            parts.add(KeyedBackends.create(backend, env, KEY_GROUPS, new KeyGroupRange(0, KEY_GROUPS - 1), List.of()));
        }

        /** Checkpoints every part and restores the handles into one backend, or into two halves. */
        void restore(boolean split) throws Exception {
            List<KeyedStateHandle> handles = new ArrayList<>();
            for (CheckpointableKeyedStateBackend<Integer> part : parts) {
                KeyedStateHandle handle = KeyedBackends.checkpointOrNull(part);
                if (handle != null) {
                    handles.add(handle);
                }
            }
            dispose();
            parts = new ArrayList<>();
            List<KeyGroupRange> ranges = split
                    ? List.of(new KeyGroupRange(0, 3), new KeyGroupRange(4, KEY_GROUPS - 1))
                    : List.of(new KeyGroupRange(0, KEY_GROUPS - 1));
            for (KeyGroupRange range : ranges) {
                parts.add(KeyedBackends.create(backend, env, KEY_GROUPS, range, intersect(handles, range)));
            }
        }

        /** What Flink's state assignment hands a backend: each handle cut to the backend's key-groups. */
        private static List<KeyedStateHandle> intersect(List<KeyedStateHandle> handles, KeyGroupRange range) {
            List<KeyedStateHandle> cut = new ArrayList<>();
            for (KeyedStateHandle handle : handles) {
                KeyedStateHandle part = handle.getIntersection(range);
                if (part != null) {
                    cut.add(part);
                }
            }
            return cut;
        }

        void dispose() throws Exception {
            for (CheckpointableKeyedStateBackend<Integer> part : parts) {
                KeyedBackends.dispose(part);
            }
        }

        /** Applies an operation; returns what it read (null for writes). */
        Object apply(Op op) throws Exception {
            int keyGroup = KeyGroupRangeAssignment.assignToKeyGroup(op.key(), KEY_GROUPS);
            CheckpointableKeyedStateBackend<Integer> b = parts.get(0);
            for (CheckpointableKeyedStateBackend<Integer> part : parts) {
                if (part.getKeyGroupRange().contains(keyGroup)) {
                    b = part;
                }
            }
            b.setCurrentKey(op.key());
            String ns = namespace(op.namespace());
            Random random = new Random(op.seed());
            switch (op.kind()) {
                case VALUE_UPDATE -> state(b, ns, VALUE).update(text(random, op.size()));
                case VALUE_GET -> {
                    return state(b, ns, VALUE).value();
                }
                case VALUE_CLEAR -> state(b, ns, VALUE).clear();
                case LIST_ADD -> state(b, ns, LIST).add(text(random, op.size()));
                case LIST_UPDATE -> state(b, ns, LIST).update(List.of(text(random, op.size()), text(random, 3)));
                case LIST_GET -> {
                    List<String> read = new ArrayList<>();
                    Iterable<String> got = state(b, ns, LIST).get();
                    if (got != null) {
                        got.forEach(read::add);
                    }
                    return read;
                }
                case LIST_CLEAR -> state(b, ns, LIST).clear();
                case MAP_PUT -> state(b, ns, MAP).put(userKey(op.userKey()), text(random, op.size()));
                case MAP_GET -> {
                    return String.valueOf(state(b, ns, MAP).get(userKey(op.userKey())));
                }
                case MAP_REMOVE -> state(b, ns, MAP).remove(userKey(op.userKey()));
                case MAP_CONTAINS -> {
                    return state(b, ns, MAP).contains(userKey(op.userKey()));
                }
                case MAP_ITERATE -> {
                    Map<String, String> read = new HashMap<>();
                    for (Map.Entry<String, String> e : state(b, ns, MAP).entries()) {
                        read.put(e.getKey(), e.getValue());
                    }
                    return read;
                }
                case MAP_IS_EMPTY -> {
                    return state(b, ns, MAP).isEmpty();
                }
                case MAP_CLEAR -> state(b, ns, MAP).clear();
                case MAP_BULK_PUT -> { // one map grows by up to MAX_BULK entries: zstate gives it an index
                    MapState<String, String> map = state(b, ns, MAP);
                    for (int i = 100 + op.size() % MAX_BULK; i > 0; i--) {
                        map.put("bulk" + random.nextInt(4 * MAX_BULK), text(random, random.nextInt(12)));
                    }
                }
                case MAP_ITERATE_REMOVE -> { // removes through the iterator what it meets with an odd length
                    Map<String, String> read = new HashMap<>();
                    for (Iterator<Map.Entry<String, String>> it = state(b, ns, MAP).iterator(); it.hasNext(); ) {
                        Map.Entry<String, String> e = it.next();
                        read.put(e.getKey(), e.getValue());
                        if (e.getValue().length() % 2 == 1) {
                            it.remove();
                        }
                    }
                    return read;
                }
                case REDUCE -> {
                    ReducingState<Long> reducing = state(b, ns, REDUCING);
                    reducing.add((long) op.size());
                    return reducing.get();
                }
                case AGGREGATE -> {
                    AggregatingState<String, String> aggregating = state(b, ns, AGGREGATING);
                    aggregating.add(text(random, op.size() % 300));
                    return aggregating.get();
                }
                default -> throw new IllegalStateException(op.kind().toString());
            }
            return null;
        }
    }

    private static <S extends org.apache.flink.api.common.state.State> S state(
            CheckpointableKeyedStateBackend<Integer> backend, String namespace,
            org.apache.flink.api.common.state.StateDescriptor<S, ?> descriptor) throws Exception {
        return backend.getPartitionedState(namespace, StringSerializer.INSTANCE, descriptor);
    }

    /** Namespaces from a few bytes to 3 KiB: composite keys over half of zstate's 1 KiB pages. */
    private static String namespace(int n) {
        return "ns" + n + "-" + "w".repeat(n == 3 ? 3000 : n * 5);
    }

    /** User keys from a few bytes to about 2 KiB (every seventh long). */
    private static String userKey(int k) {
        return "uk" + k + (k % 7 == 3 ? "-" + "r".repeat(500 + k * 29) : "");
    }

    private static String text(Random random, int length) {
        StringBuilder text = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            text.append((char) ('a' + (random.nextInt(4) == 0 ? random.nextInt(26) : i % 3)));
        }
        return text.toString();
    }

    /** Sums the lengths of the strings added; reads as "n=<count>,len=<sum>" through the accumulator. */
    static final class LengthSum implements AggregateFunction<String, Long, String> {
        @Override
        public Long createAccumulator() {
            return 0L;
        }

        @Override
        public Long add(String value, Long accumulator) {
            return accumulator + value.length() + 1_000_000L;
        }

        @Override
        public String getResult(Long accumulator) {
            return "n=" + accumulator / 1_000_000L + ",len=" + accumulator % 1_000_000L;
        }

        @Override
        public Long merge(Long a, Long b) {
            return a + b;
        }
    }
}

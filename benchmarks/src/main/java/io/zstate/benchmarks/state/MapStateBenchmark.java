package io.zstate.benchmarks.state;

import static io.zstate.benchmarks.state.StateConstants.MAP_KEYS;
import static io.zstate.benchmarks.state.StateConstants.MAP_KEY_OBJECTS;
import static io.zstate.benchmarks.state.StateConstants.MAP_VALUE_OBJECTS;
import static io.zstate.benchmarks.state.StateConstants.SETUP_KEYS;

import java.util.Iterator;
import java.util.Map;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.infra.Blackhole;

/**
 * flink-benchmarks' MapStateBenchmark: {@code MapState<Long, Double>} with
 * {@value StateConstants#MAP_KEYS} map keys per setup key (5,000,000 entries).
 * {@code mapIterator} counts one operation per entry, as theirs does.
 */
public class MapStateBenchmark extends StateBenchmarkBase {

    static final MapStateDescriptor<Long, Double> DESCRIPTOR =
            new MapStateDescriptor<>("mapState", Long.class, Double.class);

    /** Map keys shifted left by one, as flink-benchmarks' mapContains asks: half are present. */
    private static final Long[] CONTAINS_KEYS = new Long[MAP_KEYS];

    static {
        for (int i = 0; i < MAP_KEYS; i++) {
            CONTAINS_KEYS[i] = MAP_KEY_OBJECTS[i] << 1;
        }
    }

    private MapState<Long, Double> state;

    @Override
    protected org.apache.flink.api.common.state.StateDescriptor<?, ?> descriptor() {
        return DESCRIPTOR;
    }

    @Override
    protected StateSize.Kind kind() {
        return StateSize.Kind.map;
    }

    @Override
    protected void createAndLoad() throws Exception {
        state = load(keyed);
    }

    /** Creates the map state and puts every map key under every setup key. */
    static MapState<Long, Double> load(KeyedStateBackend<Long> keyed) throws Exception {
        MapState<Long, Double> state = keyed.getPartitionedState(VoidNamespace.INSTANCE,
                VoidNamespaceSerializer.INSTANCE, DESCRIPTOR);
        for (int i = 0; i < SETUP_KEYS; i++) {
            keyed.setCurrentKey((long) i);
            for (int j = 0; j < MAP_KEYS; j++) {
                state.put(MAP_KEY_OBJECTS[j], (double) MAP_VALUE_OBJECTS[(i + j) % MAP_KEYS]);
            }
        }
        return state;
    }

    @Benchmark
    public Double mapGet() throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        return state.get(mapKey(nextMapKeyIndex()));
    }

    @Benchmark
    public void mapUpdate() throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        int i = nextMapKeyIndex();
        state.put(mapKey(i), mapValue(i));
    }

    @Benchmark
    public boolean mapContains() throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        return state.contains(CONTAINS_KEYS[nextMapKeyIndex()]);
    }

    @Benchmark
    @OperationsPerInvocation(MAP_KEYS)
    public void mapIterator(Blackhole bh) throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        Iterator<Map.Entry<Long, Double>> entries = state.iterator();
        while (entries.hasNext()) {
            Map.Entry<Long, Double> entry = entries.next();
            bh.consume(entry.getKey());
            bh.consume(entry.getValue());
        }
    }

    @Benchmark
    public void mapRemove() throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        state.remove(mapKey(nextMapKeyIndex()));
    }
}

package io.zstate.benchmarks.state;

import static io.zstate.benchmarks.state.StateConstants.LIST_VALUES;
import static io.zstate.benchmarks.state.StateConstants.RANDOM_VALUE_OBJECTS;
import static io.zstate.benchmarks.state.StateConstants.SETUP_KEYS;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.infra.Blackhole;

/**
 * flink-benchmarks' ListStateBenchmark: {@code ListState<Long>}, one value per setup key after
 * setup; {@code listAdd} writes a new key's list of {@value StateConstants#LIST_VALUES} values
 * (flink-benchmarks writes a one-value list there and uses the 100 values for {@code addAll},
 * which this suite leaves out; see docs/benchmarks.md).
 */
public class ListStateBenchmark extends StateBenchmarkBase {

    static final ListStateDescriptor<Long> DESCRIPTOR =
            new ListStateDescriptor<>("listState", Long.class);

    private ListState<Long> state;
    private List<Long> hundredValues;

    @Override
    protected org.apache.flink.api.common.state.StateDescriptor<?, ?> descriptor() {
        return DESCRIPTOR;
    }

    @Override
    protected StateSize.Kind kind() {
        return StateSize.Kind.list;
    }

    @Override
    protected void createAndLoad() throws Exception {
        state = load(keyed);
        hundredValues = new ArrayList<>(LIST_VALUES);
        for (int i = 0; i < LIST_VALUES; i++) {
            hundredValues.add(RANDOM_VALUE_OBJECTS[RANDOM_VALUE_OBJECTS.length - 1 - i]);
        }
    }

    /** Creates the list state and adds one value to every setup key's list. */
    static ListState<Long> load(KeyedStateBackend<Long> keyed) throws Exception {
        ListState<Long> state = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                DESCRIPTOR);
        for (int i = 0; i < SETUP_KEYS; i++) {
            keyed.setCurrentKey((long) i);
            state.add((long) RANDOM_VALUE_OBJECTS[i]);
        }
        return state;
    }

    @Benchmark
    public void listAdd() throws Exception {
        keyed.setCurrentKey(nextNewKey());
        state.update(hundredValues);
    }

    @Benchmark
    public void listAppend() throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        state.add(nextValue());
    }

    @Benchmark
    public Iterable<Long> listGet() throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        return state.get();
    }

    @Benchmark
    public void listGetAndIterate(Blackhole bh) throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        Iterable<Long> values = state.get();
        if (values != null) {
            for (Long value : values) {
                bh.consume(value);
            }
        }
    }
}

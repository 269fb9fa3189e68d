package io.zstate.benchmarks.state;

import static io.zstate.benchmarks.state.StateConstants.RANDOM_VALUE_OBJECTS;
import static io.zstate.benchmarks.state.StateConstants.SETUP_KEYS;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.openjdk.jmh.annotations.Benchmark;

/** flink-benchmarks' ValueStateBenchmark: {@code ValueState<Long>}, one entry per setup key. */
public class ValueStateBenchmark extends StateBenchmarkBase {

    static final ValueStateDescriptor<Long> DESCRIPTOR = new ValueStateDescriptor<>("valueState", Long.class);

    private ValueState<Long> state;

    @Override
    protected org.apache.flink.api.common.state.StateDescriptor<?, ?> descriptor() {
        return DESCRIPTOR;
    }

    @Override
    protected StateSize.Kind kind() {
        return StateSize.Kind.value;
    }

    @Override
    protected void createAndLoad() throws Exception {
        state = load(keyed);
    }

    /** Creates the value state and gives every setup key a value. */
    static ValueState<Long> load(KeyedStateBackend<Long> keyed) throws Exception {
        ValueState<Long> state = keyed.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                DESCRIPTOR);
        for (int i = 0; i < SETUP_KEYS; i++) {
            keyed.setCurrentKey((long) i);
            state.update((long) RANDOM_VALUE_OBJECTS[i]);
        }
        return state;
    }

    @Benchmark
    public void valueUpdate() throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        state.update(nextValue());
    }

    @Benchmark
    public void valueAdd() throws Exception {
        keyed.setCurrentKey(nextNewKey());
        state.update(nextValue());
    }

    @Benchmark
    public Long valueGet() throws Exception {
        keyed.setCurrentKey(nextSetupKey());
        return state.value();
    }
}

package io.zstate.jobs;

import java.util.HashSet;
import java.util.List;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Example job 1, a keyed event counter and enricher on ValueState: event {@code i} belongs to
 * user {@code i % keys}; per user the job counts events and keeps the last event seen. It checks
 * itself: a user is emitted exactly when its count reaches the number of events the generator
 * gives it, so the output has one record per user if and only if every event was counted once.
 */
public final class EventCounterJob implements ExampleJob<Long> {

    @Override
    public String describe(JobSize size) {
        return String.format("keyed event counter on ValueState: %,d events over %,d keys", size.events(), size.keys());
    }

    /** The stream of users whose count is complete. */
    @Override
    public DataStream<Long> build(StreamExecutionEnvironment env, JobSize size) {
        long keys = size.keys();
        long events = size.events();
        DataGeneratorSource<Long> source =
                Sources.generator((GeneratorFunction<Long, Long>) index -> index, size, Types.LONG);
        return env.fromSource(source, WatermarkStrategy.noWatermarks(), "events")
                .uid("events")
                .keyBy(event -> event % keys)
                .process(new CountEvents(keys, events))
                .uid("count-events")
                .name("count-events");
    }

    @Override
    public Verdict check(List<Long> output, JobSize size) {
        int distinct = new HashSet<>(output).size();
        boolean correct = distinct == size.keys() && output.size() == size.keys();
        return new Verdict(correct, String.format("%,d of %,d keys counted exactly", distinct, size.keys()));
    }

    /** How many of {@code events} events go to {@code key}. */
    static long expected(long key, long keys, long events) {
        return events / keys + (key < events % keys ? 1 : 0);
    }

    static final class CountEvents extends KeyedProcessFunction<Long, Long, Long> {
        private final long keys;
        private final long events;
        private transient ValueState<Long> count;
        private transient ValueState<Long> lastEvent;

        CountEvents(long keys, long events) {
            this.keys = keys;
            this.events = events;
        }

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            lastEvent = getRuntimeContext().getState(new ValueStateDescriptor<>("last-event", Types.LONG));
        }

        @Override
        public void processElement(Long event, Context ctx, Collector<Long> out) throws Exception {
            Long current = count.value();
            long next = current == null ? 1 : current + 1;
            count.update(next);
            lastEvent.update(event);
            Progress.PROCESSED.increment();
            if (next == expected(ctx.getCurrentKey(), keys, events)) {
                out.collect(ctx.getCurrentKey());
            }
        }
    }
}

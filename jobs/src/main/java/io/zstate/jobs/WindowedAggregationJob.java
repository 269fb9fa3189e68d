package io.zstate.jobs;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * Example job 2, windowed aggregation on event time with AggregatingState and ReducingState:
 * sensors report temperatures, and the job summarises each sensor's readings (count, sum, min,
 * max) per tumbling event-time window, once with each of the two states Flink's window operator
 * uses for incremental aggregation.
 *
 * <p><b>Data.</b> The source emits readings in rounds of {@code keys} events: event {@code i} is
 * sensor {@code i % keys}'s reading of round {@code i / keys}. A round is one minute of event time;
 * inside it each reading gets a pseudo-random millisecond, and its value (tenths of a degree,
 * -10.0 to 30.0) comes from the same hash of {@code i}. So within a round readings are up to a
 * minute out of order, and the whole stream is a pure function of the index.
 *
 * <p><b>Pipeline.</b> Keyed by sensor, two branches over the same readings:
 * <ul>
 *   <li>short windows ({@link #shortWindowRounds} minutes, about a third of the run) with
 *       {@code aggregate(AggregateFunction, ProcessWindowFunction)}: the window operator keeps one
 *       accumulator per (sensor, window) in an {@code AggregatingState};</li>
 *   <li>long windows (three short ones) with {@code reduce(ReduceFunction, ProcessWindowFunction)}
 *       over single-reading summaries: a {@code ReducingState} per (sensor, window).</li>
 * </ul>
 * Each window fires on the event-time timer the window operator registers for its end; the
 * process function only stamps the sensor and the window onto the summary. Windows are aligned to
 * the start of the data (2025-01-01), so they hold whole rounds.
 *
 * <p><b>Watermarks.</b> Each source subtask reads a contiguous range of indices, so it sees the
 * rounds in order and its readings are at most one round behind the latest it has seen: a
 * bounded-out-of-orderness watermark of one round never overtakes a later reading of the same
 * subtask. The window operators follow the minimum of the subtasks' watermarks, which is lower
 * still, so no reading is late. (As windows hold whole rounds, a tighter bound would not lose
 * readings either: a window fires only when the watermark passes the end of its last round. The
 * bound matters in job 3, {@link SessionAnalysisJob}.) At the end of the bounded source Flink
 * emits the maximum watermark and every remaining window fires.
 *
 * <p><b>Check.</b> {@link #expected} recomputes every (window length, sensor, window) summary from
 * the generator's formula; the check sorts the output the same way and compares record by record,
 * so a missing, duplicated or wrong window is reported with the first difference. It also adds up
 * the readings counted per window length: a reading dropped as late would show up there.
 */
public final class WindowedAggregationJob implements ExampleJob<WindowedAggregationJob.WindowStats> {

    /** 2025-01-01T00:00:00Z, the event time of round 0. */
    static final long EPOCH = 1_735_689_600_000L;
    /** A round: every sensor reports once per minute of event time. */
    static final long ROUND_MS = 60_000;
    /** Long windows span this many short ones. */
    static final int LONG_PER_SHORT = 3;

    /** One temperature reading, in tenths of a degree. */
    public record Reading(long sensor, long timestamp, long value) {}

    /**
     * What a window says about one sensor: its readings, their sum, minimum and maximum. Also the
     * accumulator of the aggregate branch and the value of the reduce branch, before
     * {@link #inWindow} stamps the sensor and the window on it.
     */
    public record WindowStats(long sensor, long windowStart, long windowEnd, long readings, long sum, long min, long max) {

        static final WindowStats EMPTY = new WindowStats(0, 0, 0, 0, 0, Long.MAX_VALUE, Long.MIN_VALUE);

        static WindowStats of(Reading reading) {
            return new WindowStats(reading.sensor(), 0, 0, 1, reading.value(), reading.value(), reading.value());
        }

        WindowStats plus(long value) {
            return new WindowStats(sensor, windowStart, windowEnd, readings + 1, sum + value,
                    Math.min(min, value), Math.max(max, value));
        }

        WindowStats merge(WindowStats other) {
            return new WindowStats(sensor, windowStart, windowEnd, readings + other.readings, sum + other.sum,
                    Math.min(min, other.min), Math.max(max, other.max));
        }

        WindowStats inWindow(long sensor, long start, long end) {
            return new WindowStats(sensor, start, end, readings, sum, min, max);
        }

        long length() {
            return windowEnd - windowStart;
        }
    }

    /** Sort order of output and expectation: window length, sensor, window start. */
    static final Comparator<WindowStats> ORDER = Comparator.comparingLong(WindowStats::length)
            .thenComparingLong(WindowStats::sensor)
            .thenComparingLong(WindowStats::windowStart);

    /** Rounds (minutes) in the run: the last one may be partial. */
    static long rounds(JobSize size) {
        return (size.events() + size.keys() - 1) / size.keys();
    }

    /** Rounds per short window, so that the run has about three short windows. */
    static long shortWindowRounds(JobSize size) {
        return Math.max(1, (rounds(size) + 2) / 3);
    }

    /** Event {@code index} of a run with {@code keys} sensors. */
    static Reading reading(long index, long keys) {
        long hash = Sources.mix(index);
        long round = index / keys;
        long timestamp = EPOCH + round * ROUND_MS + (hash & 0xFFFF_FFFFL) % ROUND_MS;
        long value = (hash >>> 32) % 401 - 100;
        return new Reading(index % keys, timestamp, value);
    }

    @Override
    public String describe(JobSize size) {
        long shortMinutes = shortWindowRounds(size);
        return String.format("windowed aggregation on AggregatingState and ReducingState: %,d readings of %,d sensors,"
                        + " %d-minute windows (aggregate) and %d-minute windows (reduce)",
                size.events(), size.keys(), shortMinutes, shortMinutes * LONG_PER_SHORT);
    }

    @Override
    public DataStream<WindowStats> build(StreamExecutionEnvironment env, JobSize size) {
        long keys = size.keys();
        DataGeneratorSource<Reading> source = Sources.generator(
                (GeneratorFunction<Long, Reading>) index -> reading(index, keys), size, TypeInformation.of(Reading.class));
        WatermarkStrategy<Reading> watermarks = WatermarkStrategy
                .<Reading>forBoundedOutOfOrderness(Duration.ofMillis(ROUND_MS))
                .withTimestampAssigner((reading, previous) -> reading.timestamp());
        DataStream<Reading> readings = env.fromSource(source, watermarks, "readings").uid("readings");

        long shortMs = shortWindowRounds(size) * ROUND_MS;
        long longMs = shortMs * LONG_PER_SHORT;
        DataStream<WindowStats> shortWindows = readings
                .keyBy(Reading::sensor)
                .window(aligned(shortMs))
                .aggregate(new SummarizeReadings(), new StampWindow())
                .uid("short-windows")
                .name("short-windows (aggregate)");
        DataStream<WindowStats> longWindows = readings
                .map(WindowStats::of)
                .uid("to-stats")
                .name("to-stats")
                .keyBy(WindowStats::sensor)
                .window(aligned(longMs))
                .reduce(WindowStats::merge, new StampWindow())
                .uid("long-windows")
                .name("long-windows (reduce)");
        return shortWindows.union(longWindows);
    }

    /** Tumbling windows of {@code lengthMs} that start at {@link #EPOCH}, so they hold whole rounds. */
    private static TumblingEventTimeWindows aligned(long lengthMs) {
        return TumblingEventTimeWindows.of(Duration.ofMillis(lengthMs), Duration.ofMillis(EPOCH % lengthMs));
    }

    @Override
    public Verdict check(List<WindowStats> output, JobSize size) {
        List<WindowStats> expected = expected(size);
        List<WindowStats> sorted = new ArrayList<>(output);
        sorted.sort(ORDER);
        long shortMs = shortWindowRounds(size) * ROUND_MS;
        long shortReadings = 0;
        long longReadings = 0;
        for (WindowStats stats : sorted) {
            if (stats.length() == shortMs) {
                shortReadings += stats.readings();
            } else {
                longReadings += stats.readings();
            }
        }
        String counted = String.format("readings counted %,d in short and %,d in long windows of %,d",
                shortReadings, longReadings, size.events());
        for (int n = 0; n < Math.min(sorted.size(), expected.size()); n++) {
            if (!sorted.get(n).equals(expected.get(n))) {
                return new Verdict(false, String.format("window result %,d differs: expected %s, got %s; %s",
                        n, expected.get(n), sorted.get(n), counted));
            }
        }
        if (sorted.size() != expected.size()) {
            return new Verdict(false, String.format("%,d window results, expected %,d; %s",
                    sorted.size(), expected.size(), counted));
        }
        boolean allCounted = shortReadings == size.events() && longReadings == size.events();
        return new Verdict(allCounted, String.format("%,d of %,d window results exact, %s",
                sorted.size(), expected.size(), counted));
    }

    /** Every window result of a run of {@code size}, in {@link #ORDER}, computed from the generator's formula. */
    static List<WindowStats> expected(JobSize size) {
        long shortRounds = shortWindowRounds(size);
        List<WindowStats> expected = new ArrayList<>();
        addExpected(size, shortRounds, expected);
        addExpected(size, shortRounds * LONG_PER_SHORT, expected);
        return expected;
    }

    /** Appends the results of windows of {@code windowRounds} rounds, sensor by sensor, window by window. */
    private static void addExpected(JobSize size, long windowRounds, List<WindowStats> into) {
        long keys = size.keys();
        long windowMs = windowRounds * ROUND_MS;
        for (long sensor = 0; sensor < keys; sensor++) {
            WindowStats current = null;
            long currentWindow = -1;
            for (long index = sensor; index < size.events(); index += keys) {
                long window = index / keys / windowRounds;
                if (window != currentWindow) {
                    if (current != null) {
                        into.add(current);
                    }
                    long start = EPOCH + window * windowMs;
                    current = WindowStats.EMPTY.inWindow(sensor, start, start + windowMs);
                    currentWindow = window;
                }
                current = current.plus(reading(index, keys).value());
            }
            into.add(current);
        }
    }

    /** The incremental aggregate of the short windows: its accumulator lives in AggregatingState. */
    static final class SummarizeReadings implements AggregateFunction<Reading, WindowStats, WindowStats> {

        @Override
        public WindowStats createAccumulator() {
            return WindowStats.EMPTY;
        }

        @Override
        public WindowStats add(Reading reading, WindowStats accumulator) {
            // every reading passes here exactly once
            Progress.PROCESSED.increment();
            return accumulator.plus(reading.value());
        }

        @Override
        public WindowStats getResult(WindowStats accumulator) {
            return accumulator;
        }

        @Override
        public WindowStats merge(WindowStats a, WindowStats b) {
            return a.merge(b);
        }
    }

    /** Puts the sensor and the window on the single summary a window yields. */
    static final class StampWindow extends ProcessWindowFunction<WindowStats, WindowStats, Long, TimeWindow> {

        @Override
        public void process(Long sensor, Context context, Iterable<WindowStats> summaries, Collector<WindowStats> out) {
            TimeWindow window = context.window();
            for (WindowStats summary : summaries) {
                out.collect(summary.inWindow(sensor, window.getStart(), window.getEnd()));
            }
        }
    }
}

package io.zstate.jobs;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Example job 3, session analysis on ListState and MapState: users click pages, and the job cuts
 * each user's clicks into sessions (a pause of more than {@link #GAP_MS} ends one) and emits a
 * summary per session: start, end, clicks, distinct pages, the most-clicked page, and how many of
 * its pages the user had never visited in an earlier session.
 *
 * <p><b>Data.</b> As in job 2 the source emits rounds of {@code keys} events: event {@code i} is
 * user {@code i % keys}'s click of round {@code i / keys}. A round is a minute of event time and a
 * click falls on a pseudo-random millisecond of it, so two consecutive clicks of a user are
 * between 0 and 2 minutes apart, and more than {@code GAP_MS} (75 s) in about 28% of cases: a
 * session has about 3.5 clicks on average. The page is geometric (page 0 half the time, page 1 a
 * quarter, ...), so sessions have a clear top page. Everything is a hash of {@code i}.
 *
 * <p><b>State</b>, per user, in one {@link KeyedProcessFunction}:
 * <ul>
 *   <li>{@code ListState<Click> pending}: the clicks of sessions not yet closed, in arrival order;</li>
 *   <li>{@code MapState<Integer, Long> page-visits}: clicks per page over the user's closed sessions,
 *       a profile that lives as long as the user (it makes "new pages" possible);</li>
 *   <li>an event-time timer at {@code click + GAP_MS} for every click (timers on one instant coincide).</li>
 * </ul>
 * A user's clicks do not arrive in event-time order: each source subtask reads a contiguous range
 * of indices, so a user's early clicks come from one subtask and the later ones from another, and
 * the two interleave arbitrarily. So sessions are cut when a timer fires, not on arrival: the
 * function sorts the pending clicks by time, splits them at pauses over the gap, and closes every
 * session whose last click is at least a gap behind the watermark. No click can join such a
 * session any more, because a click that is not late is later than the watermark, so more than a
 * gap after it. A closed session is emitted, added to the page visits, and its clicks leave the
 * list; later sessions stay pending.
 *
 * <p><b>Watermarks.</b> Per source subtask clicks are at most one round out of order, so a
 * bounded-out-of-orderness watermark of one round makes no click late (see job 2); the end of
 * the bounded source brings the maximum watermark, which closes every remaining session. The
 * bound matters here: with a bound of zero the watermark can pass a user's next click before it
 * arrives, sessions close too early, and the check reports the first wrong one (tried at 50,000
 * users and 500,000 clicks).
 *
 * <p><b>Check.</b> {@link #expected} walks each user's clicks in index order (which is time order
 * for one user), cuts them at pauses over the gap and computes each summary from plain arrays;
 * the check sorts the output by user and start and compares it record by record, and adds up the
 * clicks of all sessions, which must be the number of events (a click dropped as late, or counted
 * twice, would show there even before the comparison does).
 */
public final class SessionAnalysisJob implements ExampleJob<SessionAnalysisJob.SessionSummary> {

    /** 2025-01-01T00:00:00Z, the event time of round 0. */
    static final long EPOCH = 1_735_689_600_000L;
    /** A round: every user clicks once per minute of event time, at a random moment of it. */
    static final long ROUND_MS = 60_000;
    /** A pause longer than this ends a session. */
    static final long GAP_MS = 75_000;
    /** Pages 0 .. PAGES - 1. */
    static final int PAGES = 12;

    /** One click of {@code user} on {@code page}. */
    public record Click(long user, long timestamp, int page) {}

    /**
     * One closed session of {@code user}: its first and last click, how many clicks, on how many
     * distinct pages, the page clicked most (the lowest on a tie), and how many of its pages the
     * user visits for the first time.
     */
    public record SessionSummary(long user, long start, long end, int clicks, int distinctPages, int topPage, int newPages) {}

    /** Sort order of output and expectation. */
    static final Comparator<SessionSummary> ORDER =
            Comparator.comparingLong(SessionSummary::user).thenComparingLong(SessionSummary::start);

    /** Event {@code index} of a run with {@code keys} users. */
    static Click click(long index, long keys) {
        long hash = Sources.mix(index);
        long round = index / keys;
        long timestamp = EPOCH + round * ROUND_MS + (hash & 0xFFFF_FFFFL) % ROUND_MS;
        // geometric: the number of trailing zeros of a random word, capped by a sentinel bit
        int page = Long.numberOfTrailingZeros((hash >>> 32) | (1L << (PAGES - 1)));
        return new Click(index % keys, timestamp, page);
    }

    @Override
    public String describe(JobSize size) {
        return String.format("session analysis on ListState, MapState and timers: %,d clicks of %,d users,"
                + " sessions end after a %d s pause", size.events(), size.keys(), GAP_MS / 1000);
    }

    @Override
    public DataStream<SessionSummary> build(StreamExecutionEnvironment env, JobSize size) {
        long keys = size.keys();
        DataGeneratorSource<Click> source = Sources.generator(
                (GeneratorFunction<Long, Click>) index -> click(index, keys), size, TypeInformation.of(Click.class));
        WatermarkStrategy<Click> watermarks = WatermarkStrategy
                .<Click>forBoundedOutOfOrderness(Duration.ofMillis(ROUND_MS))
                .withTimestampAssigner((click, previous) -> click.timestamp());
        return env.fromSource(source, watermarks, "clicks")
                .uid("clicks")
                .keyBy(Click::user)
                .process(new Sessionize())
                .uid("sessions")
                .name("sessions");
    }

    @Override
    public Verdict check(List<SessionSummary> output, JobSize size) {
        List<SessionSummary> expected = expected(size);
        List<SessionSummary> sorted = new ArrayList<>(output);
        sorted.sort(ORDER);
        long clicks = 0;
        for (SessionSummary session : sorted) {
            clicks += session.clicks();
        }
        String counted = String.format("%,d clicks in sessions of %,d", clicks, size.events());
        for (int n = 0; n < Math.min(sorted.size(), expected.size()); n++) {
            if (!sorted.get(n).equals(expected.get(n))) {
                return new Verdict(false, String.format("session %,d differs: expected %s, got %s; %s",
                        n, expected.get(n), sorted.get(n), counted));
            }
        }
        if (sorted.size() != expected.size()) {
            return new Verdict(false, String.format("%,d sessions, expected %,d; %s",
                    sorted.size(), expected.size(), counted));
        }
        return new Verdict(clicks == size.events(), String.format("%,d of %,d sessions exact, %s",
                sorted.size(), expected.size(), counted));
    }

    /** Every session of a run of {@code size}, in {@link #ORDER}, computed from the generator's formula. */
    static List<SessionSummary> expected(JobSize size) {
        long keys = size.keys();
        List<SessionSummary> expected = new ArrayList<>();
        for (long user = 0; user < keys; user++) {
            boolean[] visitedBefore = new boolean[PAGES];
            int[] pageClicks = new int[PAGES];
            long start = 0;
            long last = 0;
            int clicks = 0;
            for (long index = user; index < size.events(); index += keys) {
                Click click = click(index, keys);
                if (clicks > 0 && click.timestamp() - last > GAP_MS) {
                    expected.add(summary(user, start, last, clicks, pageClicks, visitedBefore));
                    clicks = 0;
                }
                if (clicks == 0) {
                    start = click.timestamp();
                }
                last = click.timestamp();
                clicks++;
                pageClicks[click.page()]++;
            }
            expected.add(summary(user, start, last, clicks, pageClicks, visitedBefore));
        }
        return expected;
    }

    /** The summary of a session from its clicks per page; resets them and marks its pages visited. */
    private static SessionSummary summary(
            long user, long start, long end, int clicks, int[] pageClicks, boolean[] visitedBefore) {
        int distinct = 0;
        int top = 0;
        int fresh = 0;
        for (int page = 0; page < PAGES; page++) {
            if (pageClicks[page] > 0) {
                distinct++;
                if (!visitedBefore[page]) {
                    fresh++;
                    visitedBefore[page] = true;
                }
            }
            if (pageClicks[page] > pageClicks[top]) {
                top = page;
            }
        }
        java.util.Arrays.fill(pageClicks, 0);
        return new SessionSummary(user, start, end, clicks, distinct, top, fresh);
    }

    /** Buffers a user's clicks and closes sessions when the watermark has passed them by a gap. */
    static final class Sessionize extends KeyedProcessFunction<Long, Click, SessionSummary> {
        private transient ListState<Click> pending;
        private transient MapState<Integer, Long> pageVisits;

        @Override
        public void open(OpenContext context) {
            pending = getRuntimeContext().getListState(
                    new ListStateDescriptor<>("pending", TypeInformation.of(Click.class)));
            pageVisits = getRuntimeContext().getMapState(
                    new MapStateDescriptor<>("page-visits", Types.INT, Types.LONG));
        }

        @Override
        public void processElement(Click click, Context ctx, Collector<SessionSummary> out) throws Exception {
            Progress.PROCESSED.increment();
            pending.add(click);
            // if this click turns out to end its session, the session can close a gap later
            ctx.timerService().registerEventTimeTimer(click.timestamp() + GAP_MS);
        }

        @Override
        public void onTimer(long timestamp, OnTimerContext ctx, Collector<SessionSummary> out) throws Exception {
            long watermark = ctx.timerService().currentWatermark();
            List<Click> clicks = new ArrayList<>();
            Iterable<Click> stored = pending.get();
            if (stored != null) {
                stored.forEach(clicks::add);
            }
            clicks.sort(Comparator.comparingLong(Click::timestamp));
            int from = 0;
            while (from < clicks.size()) {
                int to = from + 1;
                while (to < clicks.size() && clicks.get(to).timestamp() - clicks.get(to - 1).timestamp() <= GAP_MS) {
                    to++;
                }
                if (clicks.get(to - 1).timestamp() + GAP_MS > watermark) {
                    break; // this session, and any after it, can still grow
                }
                out.collect(close(ctx.getCurrentKey(), clicks.subList(from, to)));
                from = to;
            }
            if (from == 0) {
                return; // a timer of a click that did not end its session: nothing to close yet
            }
            if (from == clicks.size()) {
                pending.clear();
            } else {
                pending.update(new ArrayList<>(clicks.subList(from, clicks.size())));
            }
        }

        /** Summarises one session (clicks in time order) and adds its pages to the user's visits. */
        private SessionSummary close(long user, List<Click> session) throws Exception {
            Map<Integer, Integer> clicksPerPage = new TreeMap<>();
            for (Click click : session) {
                clicksPerPage.merge(click.page(), 1, Integer::sum);
            }
            int top = -1;
            int topClicks = 0;
            int newPages = 0;
            for (Map.Entry<Integer, Integer> page : clicksPerPage.entrySet()) {
                if (page.getValue() > topClicks) { // ascending pages: the lowest wins a tie
                    top = page.getKey();
                    topClicks = page.getValue();
                }
                Long before = pageVisits.get(page.getKey());
                if (before == null) {
                    newPages++;
                    before = 0L;
                }
                pageVisits.put(page.getKey(), before + page.getValue());
            }
            return new SessionSummary(user, session.get(0).timestamp(), session.get(session.size() - 1).timestamp(),
                    session.size(), clicksPerPage.size(), top, newPages);
        }
    }
}

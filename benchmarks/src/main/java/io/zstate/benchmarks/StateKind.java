package io.zstate.benchmarks;

/**
 * The kinds of Flink keyed state whose pages make up the {@link StatePageCorpus}, with the share
 * of pages each kind gets. A page holds entries of one state only, as a column family would.
 */
public enum StateKind {
    /** {@code ValueState<Long>} counters keyed by a long user id, {@code VoidNamespace}. */
    VALUE_COUNTER("ValueState<Long> counter", 0.30),
    /** Window {@code AggregatingState} with a {@code TimeWindow} namespace and a small POJO. */
    WINDOW_AGGREGATE("window AggregatingState<Stats>", 0.25),
    /** {@code MapState<String, Long>}: URL paths and session ids of a user. */
    MAP_VISITS("MapState<String,Long>", 0.25),
    /** {@code ListState<Event>}: the recent events of a user. */
    LIST_EVENTS("ListState<Event>", 0.20);

    private final String label;
    private final double share;

    StateKind(String label, double share) {
        this.label = label;
        this.share = share;
    }

    public String label() {
        return label;
    }

    /** The fraction of corpus pages of this kind (the shares add up to 1). */
    public double share() {
        return share;
    }

    /** The kind whose cumulative share interval holds {@code u}, a uniform number in [0, 1). */
    static StateKind pick(double u) {
        double acc = 0;
        for (StateKind kind : values()) {
            acc += kind.share;
            if (u < acc) {
                return kind;
            }
        }
        return LIST_EVENTS;
    }
}

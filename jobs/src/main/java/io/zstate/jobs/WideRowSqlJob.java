package io.zstate.jobs;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

/**
 * Example job 4, Flink SQL where most Flink users meet state: a regular join of an order stream
 * without a unique key (rows of about 1.1 KiB, which the join keeps whole as MapState user keys)
 * with a customer table (rows of about 600 bytes), and an aggregation grouped by wide string keys
 * (over 600 bytes each). Order {@code i} belongs to customer {@code mix(i) % keys} and has amount
 * {@code i % 100}; customer {@code c} is in segment {@code c % 7}. It checks itself: every order
 * joins its customer exactly once (the count, the amounts, the payload bytes and each joined
 * segment's length), and
 * replaying the aggregation's changelog gives every group's exact count and sum.
 */
public final class WideRowSqlJob implements ExampleJob<String> {

    /** Groups of the aggregation. */
    static final int GROUPS = 97;
    /** Bytes of an order's payload and of a customer's segment description. */
    static final int PAYLOAD = 1_100;
    static final int SEGMENT = 600;

    @Override
    public String describe(JobSize size) {
        return String.format("SQL: regular join of %,d orders (~1.1 KiB rows, no unique key) with %,d customers,"
                + " and an aggregation over %d groups with 600-byte keys", size.events(), size.keys(), GROUPS);
    }

    @Override
    public DataStream<String> build(StreamExecutionEnvironment env, JobSize size) {
        StreamTableEnvironment tables = StreamTableEnvironment.create(env);
        long keys = size.keys();
        TypeInformation<Row> orderType = Types.ROW_NAMED(
                new String[] {"customer", "amount", "payload"}, Types.LONG, Types.LONG, Types.STRING);
        DataStream<Row> orders = env.fromSource(
                        Sources.generator((GeneratorFunction<Long, Row>) i -> {
                            Progress.PROCESSED.increment();
                            return Row.of(customer(i, keys), i % 100, payload(i));
                        }, size, orderType),
                        WatermarkStrategy.noWatermarks(), "orders")
                .uid("orders")
                .returns(orderType);
        TypeInformation<Row> customerType = Types.ROW_NAMED(
                new String[] {"id", "segment"}, Types.LONG, Types.STRING);
        DataStream<Row> customers = env.fromSource(
                        new DataGeneratorSource<>((GeneratorFunction<Long, Row>) c -> Row.of(c, segment(c)), keys,
                                RateLimiterStrategy.noOp(), customerType),
                        WatermarkStrategy.noWatermarks(), "customers")
                .uid("customers")
                .returns(customerType);
        tables.createTemporaryView("orders", tables.fromDataStream(orders));
        tables.createTemporaryView("customers", tables.fromDataStream(customers));

        // the join's output carries both wide columns, so the planner cannot project them away before
        // the join: its state keeps every order row (~1.1 KiB) and every customer row (~600 bytes) whole
        Table joined = tables.sqlQuery("SELECT o.customer, o.amount, c.segment, o.payload"
                + " FROM orders AS o JOIN customers AS c ON o.customer = c.id");
        Table grouped = tables.sqlQuery("SELECT grp, COUNT(*) AS orders_in_group, SUM(amount) AS amount FROM ("
                + " SELECT CONCAT(REPEAT('g', " + SEGMENT + "), '-', CAST(customer % " + GROUPS + " AS STRING)) AS grp,"
                + " amount FROM orders) GROUP BY grp");
        DataStream<String> joins = tables.toChangelogStream(joined)
                .map(row -> "J|" + row.getKind().shortString() + "|" + row.getField(0) + "|" + row.getField(1) + "|"
                        + ((String) row.getField(2)).length() + "|" + ((String) row.getField(3)).length())
                .name("join-results");
        DataStream<String> groups = tables.toChangelogStream(grouped)
                .map(row -> {
                    String grp = (String) row.getField(0);
                    return "A|" + row.getKind().shortString() + "|" + grp.substring(grp.lastIndexOf('-') + 1) + "|"
                            + row.getField(1) + "|" + row.getField(2);
                })
                .name("group-results");
        return joins.union(groups);
    }

    @Override
    public Verdict check(List<String> output, JobSize size) {
        long keys = size.keys();
        long joins = 0;
        long joinedAmount = 0;
        long joinedPayload = 0;
        String problem = null;
        Map<Long, long[]> groups = new HashMap<>();
        for (String line : output) {
            String[] f = line.split("\\|");
            if (f[0].equals("J")) {
                if (!f[1].equals("+I")) {
                    problem = problem != null ? problem : "a join result was retracted: " + line;
                    continue;
                }
                long customer = Long.parseLong(f[2]);
                if (Long.parseLong(f[4]) != segment(customer).length()) {
                    problem = problem != null ? problem : "customer " + customer + " joined a wrong segment: " + line;
                }
                joins++;
                joinedAmount += Long.parseLong(f[3]);
                joinedPayload += Long.parseLong(f[5]);
            } else {
                long group = Long.parseLong(f[2]);
                switch (f[1]) {
                    case "+I", "+U" -> groups.put(group, new long[] {Long.parseLong(f[3]), Long.parseLong(f[4])});
                    case "-U", "-D" -> groups.remove(group);
                    default -> problem = problem != null ? problem : "unknown change " + line;
                }
            }
        }
        long[][] expected = expectedGroups(size);
        long expectedAmount = 0;
        for (long[] g : expected) {
            expectedAmount += g[1];
        }
        int exactGroups = 0;
        for (int g = 0; g < GROUPS; g++) {
            long[] got = groups.get((long) g);
            if (expected[g][0] == 0 ? got == null : got != null && got[0] == expected[g][0] && got[1] == expected[g][1]) {
                exactGroups++;
            } else if (problem == null) {
                problem = "group " + g + " is " + (got == null ? "missing" : got[0] + " orders, amount " + got[1])
                        + ", expected " + expected[g][0] + " orders, amount " + expected[g][1];
            }
        }
        long expectedPayload = expectedPayloadBytes(size);
        boolean correct = problem == null && joins == size.events() && joinedAmount == expectedAmount
                && joinedPayload == expectedPayload;
        String summary = String.format("%,d of %,d orders joined (amount %,d of %,d, payload bytes %,d of %,d),"
                        + " %d of %d groups exact", joins, size.events(), joinedAmount, expectedAmount, joinedPayload,
                expectedPayload, exactGroups, GROUPS)
                + (problem == null ? "" : "; " + problem);
        return new Verdict(correct, summary);
    }

    /** Per group: orders and summed amount, as the generator makes them. */
    static long[][] expectedGroups(JobSize size) {
        long[][] groups = new long[GROUPS][2];
        for (long i = 0; i < size.events(); i++) {
            int g = (int) (customer(i, size.keys()) % GROUPS);
            groups[g][0]++;
            groups[g][1] += i % 100;
        }
        return groups;
    }

    /** The payload bytes of all orders, which the join must hand out once each. */
    static long expectedPayloadBytes(JobSize size) {
        long bytes = 0;
        for (long i = 0; i < size.events(); i++) {
            bytes += payload(i).length();
        }
        return bytes;
    }

    static long customer(long order, long keys) {
        return Math.floorMod(Sources.mix(order), keys);
    }

    /** About 1.1 KiB, different per order, compressible like real text columns. */
    static String payload(long order) {
        StringBuilder payload = new StringBuilder(PAYLOAD + 20).append("order-").append(order).append(':');
        long bits = Sources.mix(order);
        while (payload.length() < PAYLOAD) {
            payload.append("item-").append(bits & 0xff).append(",qty-").append((bits >>> 8) & 0xf).append(';');
            bits = Long.rotateRight(bits, 13);
        }
        return payload.toString();
    }

    /** About 600 bytes: the segment's description and the customer's id. */
    static String segment(long customer) {
        String name = "segment-" + customer % 7 + "-of-customer-" + customer + "-";
        return name + "d".repeat(SEGMENT - name.length());
    }
}

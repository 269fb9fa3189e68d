package io.zstate.benchmarks;

import java.util.SplittableRandom;

/**
 * Writes one serialized keyed-state entry of a {@link StateKind}, byte for byte as Flink's
 * RocksDB backend lays it out (see {@link StatePageCorpus} for the full description):
 *
 * <pre>
 *   key   = key-group (2 bytes, big-endian) | key bytes | namespace bytes [| user key bytes]
 *   value = the state serializer's bytes (MapState values carry a leading null flag)
 * </pre>
 *
 * Key and namespace serializers here are fixed-length (long key; VoidNamespace or TimeWindow), so
 * Flink writes no length suffixes after them. All randomness comes from the caller's generator.
 */
final class StateEntryGenerator {

    /** User ids are dense database ids below this bound. */
    static final long USERS = 20_000_000L;

    static final long MINUTE = 60_000L;
    static final long HOUR = 60 * MINUTE;

    private static final String[] CATEGORIES = {
        "electronics", "books", "garden", "toys", "fashion", "sports", "music", "grocery",
        "beauty", "automotive", "office", "pets", "baby", "tools", "movies", "games"
    };
    private static final String[] WORDS = {
        "laptop", "headphones", "usb-c cable", "running shoes", "coffee", "desk lamp", "novel",
        "backpack", "charger", "monitor", "keyboard", "tent", "water bottle", "jacket", "lego",
        "blender", "phone case", "yoga mat", "sunglasses", "watch", "camera", "printer ink",
        "garden hose", "dog food", "board game", "vinyl", "sneakers", "kettle", "pillow", "drill"
    };
    private static final String[] ACTIONS = {
        "view", "click", "scroll", "add_to_cart", "remove_from_cart", "purchase"
    };
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final SplittableRandom rnd;
    private final StringBuilder text = new StringBuilder(64);

    StateEntryGenerator(SplittableRandom rnd) {
        this.rnd = rnd;
    }

    /**
     * Writes one entry of {@code kind} for key group {@code keyGroup}; {@code now} is the page's
     * wall-clock time in epoch milliseconds.
     */
    void write(StateKind kind, int keyGroup, long now, ByteWriter key, ByteWriter value) {
        key.reset();
        value.reset();
        key.writeShort(keyGroup);
        key.writeLong(1 + rnd.nextLong(USERS)); // LongSerializer: 8 bytes big-endian
        switch (kind) {
            case VALUE_COUNTER:
                key.writeByte(0); // VoidNamespaceSerializer writes one 0 byte
                value.writeLong(logUniform(100_000)); // LongSerializer
                break;
            case WINDOW_AGGREGATE:
                writeWindowEntry(now, key, value);
                break;
            case MAP_VISITS:
                writeMapEntry(now, key, value);
                break;
            case LIST_EVENTS:
                key.writeByte(0);
                writeEventList(now, value);
                break;
            default:
                throw new AssertionError(kind);
        }
    }

    /** TimeWindow namespace (start, end); value: POJO Stats{count, max, min, sum}. */
    private void writeWindowEntry(long now, ByteWriter key, ByteWriter value) {
        long start = (now - rnd.nextLong(HOUR)) / MINUTE * MINUTE;
        key.writeLong(start).writeLong(start + MINUTE); // TimeWindow.Serializer: start, end
        long count = logUniform(1_000);
        long min = 1 + rnd.nextLong(500);
        long max = min + logUniform(30_000);
        double sum = count * (min + (max - min) * rnd.nextDouble());
        // PojoSerializer: flags byte (NO_SUBCLASS), then per field in name order a null flag
        // and the field's bytes
        value.writeByte(2);
        value.writeBoolean(false).writeLong(count);
        value.writeBoolean(false).writeLong(max);
        value.writeBoolean(false).writeLong(min);
        value.writeBoolean(false).writeDouble(sum);
    }

    /** VoidNamespace, then the user key (a URL path or a session id); value: null flag + long. */
    private void writeMapEntry(long now, ByteWriter key, ByteWriter value) {
        key.writeByte(0);
        long userValue;
        if (rnd.nextInt(10) < 6) {
            appendPath();
            userValue = logUniform(1_000); // views of that path
        } else {
            text.setLength(0);
            text.append("session-");
            long id = rnd.nextLong();
            for (int shift = 60; shift >= 0; shift -= 4) {
                text.append(HEX[(int) (id >>> shift) & 0xF]);
            }
            userValue = now - rnd.nextLong(24 * HOUR); // last seen
        }
        key.writeFlinkString(text);
        value.writeBoolean(false).writeLong(userValue); // RocksDBMapState: isNull flag, value
    }

    /**
     * RocksDB ListState: the elements' bytes joined by the delimiter byte ','. An element is POJO
     * Event{payload String, timestamp long, type int} (fields in name order).
     */
    private void writeEventList(long now, ByteWriter value) {
        int n = 1 + rnd.nextInt(4) + rnd.nextInt(9);
        long ts = now - rnd.nextLong(HOUR);
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                value.writeByte(',');
            }
            int type = rnd.nextInt(ACTIONS.length);
            appendPath();
            text.insert(0, ':').insert(0, ACTIONS[type]);
            value.writeByte(2);
            value.writeBoolean(false).writeFlinkString(text);
            value.writeBoolean(false).writeLong(ts);
            value.writeBoolean(false).writeInt(type);
            ts += 200 + rnd.nextLong(MINUTE);
        }
    }

    /** Sets {@link #text} to a web-shop URL path. */
    private void appendPath() {
        text.setLength(0);
        switch (rnd.nextInt(6)) {
            case 0:
            case 1:
                text.append("/product/").append(1 + rnd.nextInt(50_000));
                break;
            case 2:
                text.append("/category/")
                        .append(CATEGORIES[rnd.nextInt(CATEGORIES.length)])
                        .append("?page=")
                        .append(1 + rnd.nextInt(20));
                break;
            case 3:
                text.append("/search?q=").append(WORDS[rnd.nextInt(WORDS.length)]);
                break;
            case 4:
                text.append("/account/orders/").append(100_000 + rnd.nextInt(9_900_000));
                break;
            default:
                text.append(rnd.nextBoolean() ? "/cart" : "/checkout/step-" + (1 + rnd.nextInt(4)));
                break;
        }
    }

    /** An integer spread evenly over the orders of magnitude from 1 to {@code max}. */
    private long logUniform(long max) {
        return (long) Math.exp(rnd.nextDouble() * Math.log(max));
    }
}

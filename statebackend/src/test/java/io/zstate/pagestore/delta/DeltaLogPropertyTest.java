package io.zstate.pagestore.delta;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.pagestore.AppendModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * The delta log against a model of the store: random puts, appends, deletes, prefix deletes and
 * table clears over a few keys sharing prefixes; at each freeze, replaying the frozen records in
 * order onto the model as it was at the previous freeze must give the model now, through growth
 * and compaction (a log that compacts from 64 bytes, in some tries). Small limits
 * make the log give up (then the delta says it is incomplete, and the next one starts whole).
 */
class DeltaLogPropertyTest {

    record Op(int kind, int table, int keyGroup, int key, int value) {}

    private static final int[] KEY_GROUPS = {0, 130, 20_000};

    /** A model key: table, key-group and key bytes. */
    record Key(int table, int keyGroup, List<Byte> key) {}

    @Provide
    Arbitrary<List<Op>> ops() {
        return Combinators.combine(Arbitraries.integers().between(0, 12), Arbitraries.integers().between(0, 1),
                Arbitraries.integers().between(0, 2), Arbitraries.integers().between(0, 11),
                Arbitraries.integers().between(0, 255))
                // tables and key-groups whose varints take one, two and three bytes
                .as((kind, table, keyGroup, key, value) -> new Op(kind, table * 200, KEY_GROUPS[keyGroup], key, value))
                .list().ofMaxSize(800)
                .withSizeDistribution(net.jqwik.api.RandomDistribution.uniform());
    }

    @Property(tries = 300)
    void replayingEachFreezeOntoThePreviousGivesTheStateNow(@ForAll("ops") List<Op> ops,
            @ForAll("limits") long limit, @ForAll boolean compactEarly, @ForAll boolean smallMerges)
            throws Exception {
        // small merges: appends merge only up to 5 value bytes, then follow the key's record
        DeltaLog log = new DeltaLog(limit, compactEarly ? 64 : 1 << 20, compactEarly ? 32 : 4096,
                smallMerges ? 5 : DeltaLog.MERGE_LIMIT);
        Map<Key, byte[]> model = new HashMap<>();
        Map<Key, byte[]> atFreeze = new HashMap<>();
        for (Op given : ops) {
            // the compacting log gets fewer keys (one table, one key-group): more records die
            Op op = compactEarly ? new Op(given.kind(), 0, 0, given.key(), given.value()) : given;
            byte[] key = key(op.key());
            Key k = new Key(op.table(), op.keyGroup(), boxed(key));
            // now and then a value whose length takes a two-byte varint
            byte[] value = op.value() % 37 == 0 ? filled(150, op.value())
                    : new byte[] {(byte) op.value(), (byte) (op.value() * 7)};
            int kind = op.kind() >= 10 && op.value() >= 4 ? 0 : op.kind(); // freezes: about 1 in 300 ops
            switch (kind) {
                case 0, 1, 2 -> {
                    model.put(k, value);
                    log.put(op.table(), op.keyGroup(), key, 0, key.length, 1, value, 0, value.length);
                }
                case 3, 4, 5 -> {
                    model.put(k, AppendModel.appended(model.get(k), value));
                    log.append(op.table(), op.keyGroup(), key, 0, key.length, 1, value, 0, value.length);
                }
                case 6, 7 -> {
                    if (model.remove(k) != null) {
                        log.delete(op.table(), op.keyGroup(), key, 0, key.length, 1);
                    }
                }
                case 8 -> {
                    byte[] prefix = {key[0]};
                    model.keySet().removeIf(m -> m.table() == op.table() && m.keyGroup() == op.keyGroup()
                            && m.key().get(0) == prefix[0]);
                    log.deletePrefix(op.table(), op.keyGroup(), prefix, 0, 1);
                }
                case 9 -> {
                    model.keySet().removeIf(m -> m.table() == op.table()); // a table cleared whole:
                    log.giveUp(); // (what PageStore.clear does: the next checkpoint is a full one)
                }
                default -> {
                    FrozenDeltas frozen = log.freeze();
                    // (after an incomplete one, the checkpoint is a full one: the next delta starts from it)
                    if (frozen.isComplete()) {
                        Map<Key, byte[]> replayed = replay(atFreeze, frozen);
                        assertThat(toLists(replayed)).isEqualTo(toLists(model));
                    }
                    atFreeze = new HashMap<>(model);
                }
            }
            log.checkInvariants();
        }
        Statistics.label("compacted").collect(log.compactions() > 0);
        Statistics.label("compacted").coverage(c -> c.check(true).percentage(p -> p > 2));
    }

    @Provide
    Arbitrary<Long> limits() {
        return Arbitraries.of(200L, 2_000L, 1L << 30);
    }

    private static byte[] filled(int length, int seed) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (seed + i);
        }
        return bytes;
    }

    /** Keys 0..11: three prefixes (first byte) of four keys each, two or three bytes long. */
    private static byte[] key(int key) {
        return key % 2 == 0 ? new byte[] {(byte) (key / 4), (byte) key} : new byte[] {(byte) (key / 4), (byte) key, 9};
    }

    private static Map<Key, byte[]> replay(Map<Key, byte[]> base, FrozenDeltas frozen) throws Exception {
        Map<Key, byte[]> state = new HashMap<>(base);
        frozen.forEach((op, table, keyGroup, bytes, keyOffset, keyLength, prefixLength, valueOffset, valueLength) -> {
            byte[] key = Arrays.copyOfRange(bytes, keyOffset, keyOffset + keyLength);
            byte[] value = Arrays.copyOfRange(bytes, valueOffset, valueOffset + valueLength);
            Key k = new Key(table, keyGroup, boxed(key));
            switch (op) {
                case DeltaLog.PUT -> state.put(k, value);
                case DeltaLog.APPEND -> state.put(k, AppendModel.appended(state.get(k), value));
                case DeltaLog.DELETE -> state.remove(k);
                case DeltaLog.DELETE_PREFIX -> state.keySet().removeIf(m -> m.table() == table
                        && m.keyGroup() == keyGroup && startsWith(m.key(), key));
                default -> throw new AssertionError("op " + op);
            }
        });
        return state;
    }

    private static boolean startsWith(List<Byte> key, byte[] prefix) {
        if (key.size() < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (key.get(i) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static List<Byte> boxed(byte[] bytes) {
        List<Byte> list = new ArrayList<>();
        for (byte b : bytes) {
            list.add(b);
        }
        return list;
    }

    private static Map<Key, List<Byte>> toLists(Map<Key, byte[]> map) {
        Map<Key, List<Byte>> out = new HashMap<>();
        map.forEach((k, v) -> out.put(k, boxed(v)));
        return out;
    }
}

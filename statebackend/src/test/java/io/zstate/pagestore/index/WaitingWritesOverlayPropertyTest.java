package io.zstate.pagestore.index;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.pagestore.AppendModel;
import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.WriteVisitor;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * A bucket's waiting writes laid over its entries ({@link FrozenWaitingWrites.Overlay}) against
 * a model that applies the same writes in order to the entries the pages held, as the store
 * applies them: a put replaces, a removal removes, an append adds its bytes to a value or, to a
 * key without one, creates it from the bytes after its separator. The full snapshot of a store
 * whose writes wait reads the bucket through the overlay, so it must see exactly the model's.
 */
class WaitingWritesOverlayPropertyTest {

    record Write(int op, int key, byte[] value) {}

    @Provide
    Arbitrary<List<Write>> writes() {
        Arbitrary<byte[]> values = Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(6);
        return Combinators.combine(
                Arbitraries.of(WriteVisitor.PUT, WriteVisitor.APPEND, WriteVisitor.APPEND, WriteVisitor.REMOVE),
                Arbitraries.integers().between(0, 5), values)
                .as(Write::new).list().ofMaxSize(30);
    }

    @Provide
    Arbitrary<Map<Integer, byte[]>> entries() {
        return Arbitraries.maps(Arbitraries.integers().between(0, 5),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(4)).ofMaxSize(6).map(TreeMap::new);
    }

    @Property(tries = 500)
    void theOverlayGivesWhatTheWritesLeaveOfTheEntries(@ForAll("entries") Map<Integer, byte[]> entries,
            @ForAll("writes") List<Write> writes) {
        Map<Integer, byte[]> model = new TreeMap<>(entries);
        FrozenWaitingWrites.Overlay overlay = new FrozenWaitingWrites.Overlay();
        boolean appendAfterRemove = false;
        boolean appendToAbsent = false;
        for (Write w : writes) {
            byte[] record = new byte[1 + w.value().length];
            record[0] = (byte) w.key();
            System.arraycopy(w.value(), 0, record, 1, w.value().length);
            overlay.add(w.op(), 0, 0, record, 0, 1, 1, 1, w.op() == WriteVisitor.REMOVE ? 0 : w.value().length);
            byte[] old = model.get(w.key());
            switch (w.op()) {
                case WriteVisitor.PUT -> model.put(w.key(), w.value());
                case WriteVisitor.REMOVE -> model.remove(w.key());
                default -> {
                    appendToAbsent |= old == null;
                    appendAfterRemove |= old == null && entries.containsKey(w.key());
                    model.put(w.key(), AppendModel.appended(old, w.value()));
                }
            }
        }
        Map<Integer, byte[]> seen = new TreeMap<>();
        EntryVisitor collect = (k, ko, kl, v, vo, vl) -> {
            assertThat(seen.put((int) k[ko], Arrays.copyOfRange(v, vo, vo + vl))).as("key %s twice", k[ko]).isNull();
        };
        EntryVisitor over = overlay.over(collect);
        for (Map.Entry<Integer, byte[]> e : entries.entrySet()) {
            byte[] key = {(byte) (int) e.getKey()};
            over.visit(key, 0, 1, e.getValue(), 0, e.getValue().length);
        }
        overlay.rest(collect);

        assertThat(seen.keySet()).isEqualTo(model.keySet());
        model.forEach((k, v) -> assertThat(seen.get(k)).as("key %s", k).isEqualTo(v));
        Statistics.label("an append to a key with no value").collect(appendToAbsent);
        Statistics.label("an append after the entry's removal").collect(appendAfterRemove);
        Statistics.label("an append to a key with no value").coverage(c -> c.check(true).percentage(p -> p > 30));
        Statistics.label("an append after the entry's removal").coverage(c -> c.check(true).percentage(p -> p > 5));
    }
}

package io.zstate.pagestore.tier;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The pins' map against java.util.HashMap: puts, removes (with the backward shift of a run) and
 * gets of keys drawn from a small range (0 included, many collisions and wrapped runs) and from
 * handles far apart, through growth.
 */
class LongKeyMapPropertyTest {

    record Op(int kind, long key) {}

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Long> keys = Arbitraries.oneOf(
                Arbitraries.longs().between(0, 40),
                Arbitraries.longs().between(0, 4000).map(k -> k << 32 | 17),
                Arbitraries.longs());
        return Combinators.combine(Arbitraries.integers().between(0, 2), keys).as(Op::new).list().ofMaxSize(600);
    }

    @Property(tries = 300)
    void behavesLikeAHashMap(@ForAll("ops") List<Op> ops) {
        LongKeyMap<String> map = new LongKeyMap<>();
        Map<Long, String> model = new HashMap<>();
        int n = 0;
        for (Op op : ops) {
            switch (op.kind()) {
                case 0 -> {
                    String value = "v" + n++;
                    assertThat(map.put(op.key(), value)).isEqualTo(model.put(op.key(), value));
                }
                case 1 -> assertThat(map.remove(op.key())).isEqualTo(model.remove(op.key()));
                default -> assertThat(map.get(op.key())).isEqualTo(model.get(op.key()));
            }
            assertThat(map.size()).isEqualTo(model.size());
        }
        for (Map.Entry<Long, String> e : model.entrySet()) {
            assertThat(map.get(e.getKey())).isEqualTo(e.getValue());
        }
        Map<String, Integer> seen = new HashMap<>();
        map.forEachValue(v -> seen.merge(v, 1, Integer::sum));
        assertThat(seen.keySet()).containsExactlyInAnyOrderElementsOf(model.values());
        map.clear();
        assertThat(map.isEmpty()).isTrue();
    }
}

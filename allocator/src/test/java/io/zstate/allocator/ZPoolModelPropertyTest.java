package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.Tuple;

/**
 * Random sequences of malloc, write, read, free, reclaim and compact, checked step by step against
 * a model (handle -> bytes), with every invariant checker run after every step. Budgets are tiny
 * (a few spans) so that no-space answers, reclaim and compaction happen all the time.
 */
class ZPoolModelPropertyTest {

    enum Kind { MALLOC, FREE, WRITE, READ, RECLAIM, RECLAIM_REFUSING, RECLAIM_FAILING, COMPACT, STALE }

    /** One step; {@code size} is a fraction of the pool's maximum object size in 1/1000ths. */
    record Op(Kind kind, int size, int pick) {}

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Kind> kinds = Arbitraries.frequency(
                Tuple.of(36, Kind.MALLOC),
                Tuple.of(18, Kind.FREE),
                Tuple.of(8, Kind.WRITE),
                Tuple.of(8, Kind.READ),
                Tuple.of(5, Kind.RECLAIM),
                Tuple.of(2, Kind.RECLAIM_REFUSING),
                Tuple.of(1, Kind.RECLAIM_FAILING),
                Tuple.of(5, Kind.COMPACT),
                Tuple.of(2, Kind.STALE));
        Arbitrary<Integer> sizes = Arbitraries.frequencyOf(
                Tuple.of(2, Arbitraries.integers().between(0, 15)), // tiny: 1 to ~60 bytes
                Tuple.of(3, Arbitraries.integers().between(0, 1000)),
                // a few recurring sizes, so spans of one class pile up and compaction has work
                Tuple.of(5, Arbitraries.of(40, 130, 260, 490)),
                Tuple.of(1, Arbitraries.just(1000))); // exactly the maximum
        Arbitrary<Integer> picks = Arbitraries.integers().between(0, Integer.MAX_VALUE);
        return Combinators.combine(kinds, sizes, picks).as(Op::new).list().ofMinSize(20).ofMaxSize(160);
    }

    @Provide
    Arbitrary<PoolSpec> specs() {
        return Arbitraries.of(PoolSpec.list());
    }

    @Property(tries = 300)
    void everyPoolBehavesLikeAMapFromHandlesToBytes(
            @ForAll("specs") PoolSpec spec, @ForAll("ops") List<Op> ops) {
        int budgetFrames = 6 * spec.framesPerMalloc() + 2;
        FrameSource source = new FrameSource((long) budgetFrames * spec.frameSize(), spec.frameSize());
        AbstractZPool pool = spec.create(source);
        Map<Long, byte[]> model = new LinkedHashMap<>();
        List<Long> freed = new ArrayList<>();
        Random random = new Random(ops.size());
        for (Op op : ops) {
            step(spec, source, pool, model, freed, random, op);
            pool.checkInvariants();
            source.checkInvariants();
            assertThat(pool.stats().objects()).isEqualTo(model.size());
            assertThat(pool.stats().payloadBytes())
                    .isEqualTo(model.values().stream().mapToLong(b -> b.length).sum());
            assertThat(pool.stats().framesHeld()).isEqualTo(source.framesInUse());
            assertEveryObjectReadsBack(pool, model);
        }
        if (spec.type().equals("xcfmalloc")) { // every object is read after every step
            Statistics.label("xcfmalloc").collect(pool.stats().splitReads() > 0 ? "objects spread" : "none spread");
        }
        pool.close();
        assertThat(source.framesInUse()).as("frames leaked after close").isZero();
        source.close();
        Statistics.label("compaction").coverage(c -> c.check("released frames").count(n -> n > 0));
        Statistics.label("compaction moves").coverage(c -> c.check("moved objects").count(n -> n > 0));
        Statistics.label("malloc").coverage(c -> c.check("no space").count(n -> n > 0));
        Statistics.label("reclaim").coverage(c -> c.check("released frames").count(n -> n > 0));
        Statistics.label("xcfmalloc").coverage(c -> c.check("objects spread").count(n -> n > 0));
    }

    @Property(tries = 200)
    void compactionKeepsEveryObjectAndLeavesNothingFreeable(
            @ForAll("specs") PoolSpec spec,
            @ForAll @net.jqwik.api.constraints.IntRange(min = 50, max = 1500) int objects,
            @ForAll @net.jqwik.api.constraints.IntRange(min = 1, max = 99) int percentFreed,
            @ForAll long seed) {
        Random random = new Random(seed);
        try (FrameSource source = new FrameSource(32L << 20, spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            int[] palette = new int[1 + random.nextInt(4)];
            for (int i = 0; i < palette.length; i++) {
                palette[i] = 1 + random.nextInt(pool.maxObjectSize());
            }
            Map<Long, byte[]> model = new LinkedHashMap<>();
            for (int i = 0; i < objects; i++) {
                byte[] data = new byte[palette[random.nextInt(palette.length)]];
                random.nextBytes(data);
                long handle = pool.malloc(data.length);
                if (handle == ZPool.NO_SPACE) {
                    break;
                }
                pool.write(handle, data, 0, data.length);
                model.put(handle, data);
            }
            for (Long handle : new ArrayList<>(model.keySet())) {
                if (random.nextInt(100) < percentFreed) {
                    pool.free(handle);
                    model.remove(handle);
                }
            }
            long payload = pool.stats().payloadBytes();
            int before = source.framesInUse();
            int released = pool.compact();
            Statistics.label("compaction").collect(released > 0 ? "released frames" : "released nothing");
            pool.checkInvariants();
            assertThat(source.framesInUse()).isEqualTo(before - released);
            assertThat(pool.stats().payloadBytes()).isEqualTo(payload);
            assertThat(pool.compact()).as("nothing is left to compact").isZero();
            assertEveryObjectReadsBack(pool, model);
            pool.close();
            assertThat(source.framesInUse()).isZero();
        }
        Statistics.label("compaction").coverage(c -> c.check("released frames").percentage(p -> p > 15));
    }

    private static void step(
            PoolSpec spec,
            FrameSource source,
            AbstractZPool pool,
            Map<Long, byte[]> model,
            List<Long> freed,
            Random random,
            Op op) {
        List<Long> live = new ArrayList<>(model.keySet());
        Long picked = live.isEmpty() ? null : live.get(op.pick() % live.size());
        switch (op.kind()) {
            case MALLOC -> {
                int size = Math.max(1, (int) ((long) pool.maxObjectSize() * op.size() / 1000));
                long handle = pool.malloc(size);
                Statistics.label("malloc").collect(handle == ZPool.NO_SPACE ? "no space" : "placed");
                if (handle == ZPool.NO_SPACE) {
                    assertThat(source.framesAvailable())
                            .as("no space is answered only when the budget cannot give what malloc needs")
                            .isLessThan(spec.framesPerMalloc());
                    return;
                }
                assertThat(model).doesNotContainKey(handle);
                byte[] data = new byte[size];
                random.nextBytes(data);
                if (op.pick() % 2 == 0) {
                    pool.write(handle, data, 0, size);
                } else {
                    pool.write(handle, ByteBuffer.allocateDirect(size).put(data).flip());
                }
                model.put(handle, data);
            }
            case FREE -> {
                if (picked != null) {
                    pool.free(picked);
                    model.remove(picked);
                    freed.add(picked);
                }
            }
            case WRITE -> {
                if (picked != null) {
                    byte[] data = model.get(picked);
                    int length = 1 + op.size() % data.length;
                    byte[] part = new byte[length];
                    random.nextBytes(part);
                    int at = op.pick() % 2 == 0 ? 0 : random.nextInt(data.length - length + 1);
                    if (at == 0 && op.pick() % 4 == 0) {
                        pool.write(picked, part, 0, length); // a prefix
                    } else {
                        pool.write(picked, at, part, 0, length); // anywhere: across a frame's end too
                        Statistics.label("ranged writes").collect(at > 0 ? "inside" : "from the start");
                    }
                    System.arraycopy(part, 0, data, at, length);
                }
            }
            case READ -> {
                if (picked != null) {
                    byte[] data = model.get(picked);
                    if (op.pick() % 2 == 0) {
                        ByteBuffer out = ByteBuffer.allocate(pool.size(picked));
                        pool.read(picked, out);
                        assertThat(out.array()).isEqualTo(data);
                    } else { // a range, into the middle of a larger array
                        int at = op.size() % data.length;
                        int length = 1 + random.nextInt(data.length - at);
                        byte[] out = new byte[length + 3];
                        pool.read(picked, at, out, 2, length);
                        assertThat(Arrays.copyOfRange(out, 2, 2 + length))
                                .isEqualTo(Arrays.copyOfRange(data, at, at + length));
                        assertThatThrownBy(() -> pool.read(picked, at, new byte[data.length + 1], 0, data.length - at + 1))
                                .as("a range past the object's end").isInstanceOf(IndexOutOfBoundsException.class);
                    }
                }
            }
            case RECLAIM -> reclaim(source, pool, model, freed, 1 + op.size() % 4, Integer.MAX_VALUE);
            case RECLAIM_REFUSING -> reclaim(source, pool, model, freed, 1 + op.size() % 4, op.pick() % 3);
            case RECLAIM_FAILING -> {
                // the writeback fails at its flush: nothing may be freed, every object stays
                int before = source.framesInUse();
                boolean[] flushed = {false};
                assertThatThrownBy(() -> pool.reclaim(1 + op.size() % 4, new Evictor() {
                            @Override
                            public boolean evict(long handle, ByteBuffer data) {
                                return true;
                            }

                            @Override
                            public void flush() {
                                flushed[0] = true;
                                throw new IllegalStateException("write batch failed");
                            }
                        })).hasMessageContaining("write batch failed");
                assertThat(flushed[0]).isTrue();
                assertThat(source.framesInUse()).isEqualTo(before);
                assertThat(pool.stats().objects()).isEqualTo(model.size());
            }
            case COMPACT -> {
                int before = source.framesInUse();
                long movedBefore = pool.stats().movedObjects();
                int released = pool.compact();
                Statistics.label("compaction").collect(released > 0 ? "released frames" : "released nothing");
                Statistics.label("compaction moves")
                        .collect(pool.stats().movedObjects() > movedBefore ? "moved objects" : "moved nothing");
                assertThat(source.framesInUse()).isEqualTo(before - released);
                if (spec.type().equals("zbud") || spec.type().equals("z3fold")) {
                    assertThat(released).as("zbud and z3fold do not compact between frames").isZero();
                }
            }
            case STALE -> {
                if (!freed.isEmpty()) {
                    long stale = freed.get(op.pick() % freed.size());
                    assertThatThrownBy(() -> pool.free(stale)).isInstanceOf(InvalidHandleException.class);
                    assertThatThrownBy(() -> pool.read(stale, new byte[pool.maxObjectSize()], 0))
                            .isInstanceOf(InvalidHandleException.class);
                }
            }
        }
    }

    /**
     * Reclaims with an evictor that takes {@code accept} objects and refuses the rest. Checks that
     * the evicted bytes are the model's, the frames released are the count returned, and, when
     * nothing is refused, that no object was evicted without its frame being released.
     */
    private static void reclaim(
            FrameSource source,
            AbstractZPool pool,
            Map<Long, byte[]> model,
            List<Long> freed,
            int maxFrames,
            int accept) {
        Map<Long, int[]> evictedFrames = new HashMap<>();
        int[] budget = {accept};
        int before = source.framesInUse();
        int released = pool.reclaim(maxFrames, (handle, data) -> {
            assertThat(model).containsKey(handle);
            byte[] copy = new byte[data.remaining()];
            data.get(copy);
            assertThat(copy).isEqualTo(model.get(handle));
            if (budget[0]-- <= 0) {
                return false;
            }
            evictedFrames.put(handle, pool.framesOf(handle));
            return true;
        });
        assertThat(released).isBetween(0, before);
        Statistics.label("reclaim").collect(released > 0 ? "released frames" : "released nothing");
        assertThat(source.framesInUse()).isEqualTo(before - released);
        for (long handle : evictedFrames.keySet()) {
            model.remove(handle);
            freed.add(handle);
        }
        if (accept == Integer.MAX_VALUE) {
            if (!pool.type().equals("xcfmalloc")) { // its spread objects free blocks in other frames too
                assertThat(released).isLessThanOrEqualTo(maxFrames + 16);
            }
            for (int[] frames : evictedFrames.values()) {
                ZPoolContractTest.assertEvictedObjectsFrameReleased(pool.type(), source, frames);
            }
            if (!model.isEmpty() || before > 0) {
                assertThat(released).as("reclaim with a willing evictor frees something").isPositive();
            }
        }
    }

    private static void assertEveryObjectReadsBack(AbstractZPool pool, Map<Long, byte[]> model) {
        byte[] buffer = new byte[pool.maxObjectSize()];
        for (Map.Entry<Long, byte[]> e : model.entrySet()) {
            int size = pool.read(e.getKey(), buffer, 0);
            assertThat(size).isEqualTo(e.getValue().length);
            assertThat(ByteBuffer.wrap(buffer, 0, size)).isEqualTo(ByteBuffer.wrap(e.getValue()));
        }
    }
}

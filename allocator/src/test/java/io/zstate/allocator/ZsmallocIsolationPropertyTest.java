package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * zsmalloc's isolation (writeback off the owner's thread, its first half: {@link
 * ZPool#isolateColdest}, {@link ZPool#completeIsolated}) against a model (handle -> bytes), every
 * invariant checked after every step, with mallocs, frees, writes, reclaims and compactions
 * between an isolation and its completion. What it asserts: the copies are the objects' bytes,
 * each once; no malloc lands in a frame of an isolated object, no reclaim evicts one and no
 * compaction moves one; completion asks about every live isolated object once and frees exactly
 * those it is told to; a copier or a decision that throws leaves the pool as the model says.
 */
class ZsmallocIsolationPropertyTest {

    enum Kind { MALLOC, FREE, WRITE, RECLAIM, COMPACT, ISOLATE, ISOLATE_FAILING, COMPLETE, COMPLETE_FAILING }

    record Op(Kind kind, int size, int pick) {}

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Kind> kinds = Arbitraries.frequency(
                Tuple.of(34, Kind.MALLOC),
                Tuple.of(16, Kind.FREE),
                Tuple.of(5, Kind.WRITE),
                Tuple.of(4, Kind.RECLAIM),
                Tuple.of(4, Kind.COMPACT),
                Tuple.of(9, Kind.ISOLATE),
                Tuple.of(1, Kind.ISOLATE_FAILING),
                Tuple.of(6, Kind.COMPLETE),
                Tuple.of(1, Kind.COMPLETE_FAILING));
        Arbitrary<Integer> sizes = Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.integers().between(0, 1000)),
                Tuple.of(5, Arbitraries.of(40, 130, 260, 490))); // recurring sizes: spans of one class
        return Combinators.combine(kinds, sizes, Arbitraries.integers().between(0, Integer.MAX_VALUE))
                .as(Op::new).list().ofMinSize(30).ofMaxSize(200);
    }

    @Provide
    Arbitrary<PoolSpec> specs() {
        return Arbitraries.of(PoolSpec.list().stream().filter(s -> s.type().equals("zsmalloc")).toList());
    }

    /** The state of one run: the model, and the copies of the current isolation. */
    private static final class Run {
        final FrameSource source;
        final AbstractZPool pool;
        final Map<Long, byte[]> model = new LinkedHashMap<>();
        final Map<Long, byte[]> copies = new HashMap<>();
        final Random random;
        boolean freeEmptiedIsolated;
        boolean isolationFailed;
        boolean completeFreed;
        boolean completeKept;

        Run(FrameSource source, AbstractZPool pool, long seed) {
            this.source = source;
            this.pool = pool;
            this.random = new Random(seed);
        }

        /** Frames holding isolated objects that are still live. */
        Set<Integer> isolatedFrames() {
            Set<Integer> frames = new HashSet<>();
            for (Long handle : copies.keySet()) {
                if (model.containsKey(handle)) {
                    for (int frame : pool.framesOf(handle)) {
                        frames.add(frame);
                    }
                }
            }
            return frames;
        }
    }

    @Property(tries = 300)
    void isolatedSpansTakeNoMallocAndFreeOnlyWhatIsWrittenBack(@ForAll("specs") PoolSpec spec,
            @ForAll("ops") List<Op> ops) {
        int budgetFrames = 10 * spec.framesPerMalloc() + 2;
        FrameSource source = new FrameSource((long) budgetFrames * spec.frameSize(), spec.frameSize());
        Run run = new Run(source, spec.create(source), ops.size());
        int isolations = 0;
        for (Op op : ops) {
            isolations += step(run, op) ? 1 : 0;
            run.pool.checkInvariants();
            source.checkInvariants();
            assertThat(run.pool.stats().objects()).isEqualTo(run.model.size());
            assertThat(run.pool.stats().framesHeld()).isEqualTo(source.framesInUse());
            byte[] buffer = new byte[run.pool.maxObjectSize()];
            for (Map.Entry<Long, byte[]> e : run.model.entrySet()) { // isolated ones too: reads go on
                int size = run.pool.read(e.getKey(), buffer, 0);
                assertThat(ByteBuffer.wrap(buffer, 0, size)).isEqualTo(ByteBuffer.wrap(e.getValue()));
            }
        }
        run.pool.completeIsolated(handle -> false);
        run.pool.checkInvariants();
        run.pool.close();
        assertThat(source.framesInUse()).as("frames leaked after close").isZero();
        source.close();
        Statistics.label("isolations").collect(isolations > 0);
        Statistics.label("a free emptied an isolated span").collect(run.freeEmptiedIsolated);
        Statistics.label("completion freed objects").collect(run.completeFreed);
        Statistics.label("completion kept objects").collect(run.completeKept);
        Statistics.label("a copier failed").collect(run.isolationFailed);
        Statistics.label("a copier failed").coverage(c -> c.check(true).count(n -> n > 0));
        Statistics.label("isolations").coverage(c -> c.check(true).percentage(p -> p > 80));
        Statistics.label("a free emptied an isolated span").coverage(c -> c.check(true).count(n -> n > 0));
        Statistics.label("completion freed objects").coverage(c -> c.check(true).percentage(p -> p > 30));
        Statistics.label("completion kept objects").coverage(c -> c.check(true).percentage(p -> p > 30));
    }

    /** A pool that cannot isolate isolates nothing: its owner reclaims directly. */
    @Example
    void poolsOtherThanZsmallocIsolateNothing() {
        for (PoolSpec spec : PoolSpec.list()) {
            if (spec.type().equals("zsmalloc")) {
                continue;
            }
            try (FrameSource source = new FrameSource(64L * spec.frameSize(), spec.frameSize());
                    AbstractZPool pool = spec.create(source)) {
                long handle = pool.malloc(100);
                assertThat(handle).isNotEqualTo(ZPool.NO_SPACE);
                assertThat(pool.isolateColdest(4, (h, object) -> {
                    throw new AssertionError(spec + " copied an object");
                })).as(spec.type()).isZero();
                assertThat(pool.isolatedFrames()).isZero();
                assertThat(pool.completeIsolated(h -> true)).isZero();
                assertThat(pool.size(handle)).isEqualTo(100);
            }
        }
    }

    /**
     * The copier and a completion's answer must not call into the pool (zswap's writeback
     * recursion): such a call is refused, naming whom the pool was handing objects to, and the
     * refusal puts every span back with every object.
     */
    @Example
    void aCopierOrACompletionThatReentersThePoolIsRefused() {
        PoolSpec spec = PoolSpec.list().stream().filter(s -> s.type().equals("zsmalloc")).findFirst().orElseThrow();
        try (FrameSource source = new FrameSource(64L * spec.frameSize(), spec.frameSize());
                AbstractZPool pool = spec.create(source)) {
            long a = pool.malloc(300);
            long b = pool.malloc(300);
            assertThatThrownBy(() -> pool.isolateColdest(1, (handle, object) -> pool.malloc(10)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("its copier");
            assertThat(pool.isolatedFrames()).isZero();
            assertThat(pool.isolateColdest(1, (handle, object) -> {})).isPositive();
            assertThatThrownBy(() -> pool.completeIsolated(handle -> {
                pool.free(handle);
                return true;
            })).isInstanceOf(IllegalStateException.class).hasMessageContaining("a completion's answer");
            assertThat(pool.isolatedFrames()).isZero();
            assertThat(pool.size(a)).isEqualTo(300);
            assertThat(pool.size(b)).isEqualTo(300);
            pool.checkInvariants();
        }
    }

    /** One step; returns whether it isolated something. */
    private static boolean step(Run run, Op op) {
        AbstractZPool pool = run.pool;
        List<Long> live = new ArrayList<>(run.model.keySet());
        Long picked = live.isEmpty() ? null : live.get(op.pick() % live.size());
        switch (op.kind()) {
            case MALLOC -> {
                int size = Math.max(1, (int) ((long) pool.maxObjectSize() * op.size() / 1000));
                Set<Integer> isolated = run.isolatedFrames();
                long handle = pool.malloc(size);
                if (handle == ZPool.NO_SPACE) {
                    return false;
                }
                for (int frame : pool.framesOf(handle)) {
                    assertThat(isolated).as("a malloc landed in an isolated span").doesNotContain(frame);
                }
                byte[] data = new byte[size];
                run.random.nextBytes(data);
                pool.write(handle, data, 0, size);
                run.model.put(handle, data);
            }
            case FREE -> {
                if (picked != null) {
                    int before = pool.isolatedFrames();
                    pool.free(picked);
                    run.model.remove(picked);
                    run.freeEmptiedIsolated |= pool.isolatedFrames() < before;
                }
            }
            case WRITE -> {
                if (picked != null) { // an isolated object changed after its copy: its owner keeps it
                    byte[] data = run.model.get(picked);
                    run.random.nextBytes(data);
                    pool.write(picked, data, 0, data.length);
                }
            }
            case RECLAIM -> {
                Set<Long> taken = new HashSet<>();
                pool.reclaim(1 + op.size() % 3, new Evictor() {
                    @Override
                    public boolean evict(long handle, ByteBuffer data) {
                        assertThat(run.copies.containsKey(handle) && run.model.containsKey(handle))
                                .as("a reclaim evicted an isolated object").isFalse();
                        taken.add(handle);
                        return true;
                    }

                    @Override
                    public void flush() {}
                });
                taken.forEach(run.model::remove);
            }
            case COMPACT -> {
                Map<Long, List<Integer>> where = new HashMap<>();
                for (Long handle : run.copies.keySet()) {
                    if (run.model.containsKey(handle)) {
                        where.put(handle, frames(pool, handle));
                    }
                }
                pool.compact();
                where.forEach((handle, frames) ->
                        assertThat(frames(pool, handle)).as("compaction moved an isolated object").isEqualTo(frames));
            }
            case ISOLATE -> {
                if (pool.isolatedFrames() > 0) {
                    assertThatThrownBy(() -> pool.isolateColdest(1, (h, o) -> {}))
                            .isInstanceOf(IllegalStateException.class).hasMessageContaining("isolated already");
                    return false;
                }
                int frames = 1 + op.size() % 4;
                Map<Long, byte[]> got = new HashMap<>();
                int isolated = pool.isolateColdest(frames, (handle, object) -> {
                    assertThat(got).as("an object copied twice").doesNotContainKey(handle);
                    byte[] bytes = new byte[object.remaining()];
                    object.get(bytes);
                    got.put(handle, bytes);
                });
                assertThat(isolated).isEqualTo(pool.isolatedFrames());
                got.forEach((handle, bytes) -> assertThat(bytes).isEqualTo(run.model.get(handle)));
                if (isolated < frames) { // the LRU ran out: every span is isolated, every object copied
                    assertThat(got.keySet()).isEqualTo(run.model.keySet());
                }
                run.copies.clear();
                run.copies.putAll(got);
                return isolated > 0;
            }
            case ISOLATE_FAILING -> {
                if (pool.isolatedFrames() == 0 && !run.model.isEmpty()) {
                    int[] left = {op.pick() % 3};
                    try {
                        pool.isolateColdest(4, (handle, object) -> {
                            if (left[0]-- == 0) {
                                throw new IllegalStateException("copy failed");
                            }
                        });
                        pool.completeIsolated(handle -> false); // fewer objects than the copier's patience
                    } catch (IllegalStateException e) {
                        assertThat(e).hasMessageContaining("copy failed");
                        run.isolationFailed = true;
                    }
                    assertThat(pool.isolatedFrames()).as("a failed isolation puts every span back").isZero();
                }
            }
            case COMPLETE, COMPLETE_FAILING -> {
                Set<Long> asked = new HashSet<>();
                Set<Long> freed = new HashSet<>();
                int before = run.source.framesInUse();
                int[] answersBeforeFailing = {op.kind() == Kind.COMPLETE_FAILING ? op.pick() % 4 : Integer.MAX_VALUE};
                java.util.function.LongPredicate decide = handle -> {
                    assertThat(run.copies).as("asked about an object it did not isolate").containsKey(handle);
                    assertThat(run.model).as("asked about a freed object").containsKey(handle);
                    assertThat(asked.add(handle)).as("asked twice").isTrue();
                    if (answersBeforeFailing[0]-- == 0) {
                        throw new IllegalStateException("writeback failed");
                    }
                    boolean free = ((handle * 31 + op.pick()) & 2) != 0;
                    if (free) {
                        freed.add(handle);
                    }
                    return free;
                };
                if (op.kind() == Kind.COMPLETE_FAILING && answersBeforeFailing[0] < countLive(run)) {
                    assertThatThrownBy(() -> pool.completeIsolated(decide)).hasMessageContaining("writeback failed");
                } else {
                    int released = pool.completeIsolated(decide);
                    assertThat(released).isEqualTo(before - run.source.framesInUse());
                    assertThat(asked).as("asked about every live isolated object")
                            .isEqualTo(liveCopies(run));
                }
                assertThat(pool.isolatedFrames()).isZero();
                for (Long handle : freed) {
                    run.model.remove(handle);
                    assertThatThrownBy(() -> pool.size(handle)).isInstanceOf(InvalidHandleException.class);
                }
                run.completeFreed |= !freed.isEmpty();
                run.completeKept |= asked.size() > freed.size();
                run.copies.clear();
            }
        }
        return false;
    }

    private static int countLive(Run run) {
        return liveCopies(run).size();
    }

    private static Set<Long> liveCopies(Run run) {
        Set<Long> live = new HashSet<>(run.copies.keySet());
        live.retainAll(run.model.keySet());
        return live;
    }

    private static List<Integer> frames(AbstractZPool pool, long handle) {
        List<Integer> frames = new ArrayList<>();
        for (int frame : pool.framesOf(handle)) {
            frames.add(frame);
        }
        return frames;
    }
}

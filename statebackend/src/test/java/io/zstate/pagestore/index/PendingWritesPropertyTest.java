package io.zstate.pagestore.index;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
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
import net.jqwik.api.constraints.IntRange;

/**
 * The write buffer against a model (a queue of records per bucket, and the order they came in):
 * a bucket's records come back whole and in order, room is made by applying the bucket of the
 * oldest record or by sending its records to RocksDB (a map of byte strings here, appended to as
 * RocksDB's merge does; the page store's tests use the real one), records sent there come back
 * first when their bucket is applied, a dropped table's records never come back (and RocksDB
 * keeps none of them), and the invariants hold after every step, across the log's wrap-arounds.
 */
class PendingWritesPropertyTest {

    enum Kind { ADD, APPLY, APPLY_ALL, DROP, GROW }

    record Op(Kind kind, int bucket, int keyLength, int valueLength) {}

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(
                Arbitraries.frequency(
                        net.jqwik.api.Tuple.of(150, Kind.ADD),
                        net.jqwik.api.Tuple.of(2, Kind.APPLY),
                        net.jqwik.api.Tuple.of(1, Kind.APPLY_ALL),
                        net.jqwik.api.Tuple.of(1, Kind.DROP),
                        net.jqwik.api.Tuple.of(10, Kind.GROW)),
                // a few hot buckets (room then pays: the log asks to grow) among 24 (tables 0-2)
                Arbitraries.frequencyOf(
                        net.jqwik.api.Tuple.of(3, Arbitraries.integers().between(0, 2)),
                        net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(0, 23))),
                Arbitraries.integers().between(4, 24),
                Arbitraries.integers().between(0, 40)).as(Op::new);
        return op.list().ofMinSize(200).ofMaxSize(600);
    }

    /** An event of the room-making: the records of a bucket sent to RocksDB. */
    private static final List<byte[]> SENT = new ArrayList<>();

    @Property(tries = 300)
    void appliesEachBucketWholeAndInOrder(@ForAll("ops") List<Op> ops,
            @ForAll @IntRange(min = 16 * PendingWrites.HEADER, max = 1024) int capacity,
            @ForAll boolean toRocksDb, @ForAll @IntRange(min = 1, max = 6) int maxKeptMerges) {
        PendingWrites buffer = new PendingWrites(4 * capacity, capacity, maxKeptMerges);
        Map<Integer, Integer> merges = new HashMap<>(); // merges RocksDB holds per bucket
        Map<Integer, Integer> mergesWhenRead = new HashMap<>(); // what it held when last read and deleted
        Map<Integer, java.io.ByteArrayOutputStream> rocksDb = new HashMap<>();
        Map<Integer, Integer> modelKept = new HashMap<>(); // records of a bucket's queue that RocksDB holds
        List<Integer> appliedBuckets = new ArrayList<>();
        List<List<byte[]>> applied = new ArrayList<>();
        if (toRocksDb) { // odd buckets have their head page in RocksDB
            buffer.spillTo(new PendingWrites.Spill() {
                @Override
                public boolean wants(int bucket) {
                    return bucket % 2 == 1;
                }

                /** Merges not committed yet, as RocksDB's write batch holds them. */
                private final List<Object[]> batch = new ArrayList<>();

                @Override
                public void write(int bucket, byte[] records, int offset, int length) {
                    assertThat(merges.merge(bucket, 1, Integer::sum)).as("merges RocksDB holds for bucket " + bucket)
                            .isLessThanOrEqualTo(maxKeptMerges);
                    batch.add(new Object[] {bucket, Arrays.copyOfRange(records, offset, offset + length)});
                    appliedBuckets.add(bucket);
                    applied.add(SENT);
                    appliedBuckets.add(-1);
                    applied.add(null);
                }

                @Override
                public void commit() {
                    for (Object[] merge : batch) {
                        byte[] bytes = (byte[]) merge[1];
                        rocksDb.computeIfAbsent((Integer) merge[0], b -> new java.io.ByteArrayOutputStream())
                                .write(bytes, 0, bytes.length);
                    }
                    batch.clear();
                }

                @Override
                public int read(int bucket, byte[] dst) {
                    commit(); // as the spill store does
                    java.io.ByteArrayOutputStream kept = rocksDb.get(bucket);
                    if (kept == null) {
                        return -1;
                    }
                    byte[] bytes = kept.toByteArray();
                    System.arraycopy(bytes, 0, dst, 0, Math.min(bytes.length, dst.length));
                    return bytes.length;
                }

                @Override
                public void delete(int bucket) {
                    commit();
                    mergesWhenRead.put(bucket, merges.remove(bucket));
                    rocksDb.remove(bucket);
                }
            });
        }
        Map<Integer, ArrayDeque<byte[]>> model = new HashMap<>();
        List<Integer> arrival = new ArrayList<>(); // buckets of waiting records in the log, oldest first
        PendingWrites.Applier applier = (op, table, keyGroup, record, keyOffset, keyLength, prefixLength,
                valueOffset, valueLength) -> {
            assertThat(table).isEqualTo(tableOf(keyGroup)); // the test's bucket rides in the key-group
            assertThat(op).isEqualTo(opOf(keyGroup, keyLength));
            assertThat(prefixLength).isEqualTo(keyLength / 2);
            byte[] bytes = Arrays.copyOfRange(record, keyOffset, keyOffset + keyLength);
            byte[] value = Arrays.copyOfRange(record, valueOffset, valueOffset + valueLength);
            int bucket = keyGroup;
            if (appliedBuckets.isEmpty() || appliedBuckets.get(appliedBuckets.size() - 1) != bucket
                    || applied.get(applied.size() - 1) == null) {
                appliedBuckets.add(bucket);
                applied.add(new ArrayList<>());
            }
            applied.get(applied.size() - 1).add(concat(bytes, value));
        };
        int serial = 0;
        boolean wrapped = false;
        boolean grew = false;
        long roomApplications = 0;
        long sent = 0;
        long keptApplied = 0;
        long atMost = 0;
        for (Op op : ops) {
            switch (op.kind()) {
                case ADD -> {
                    assertThat(buffer.fits(tableOf(op.bucket()), op.bucket(), op.keyLength(), op.keyLength() / 2,
                            op.valueLength())).isEqualTo(
                                    PendingWrites.HEADER + op.keyLength() + op.valueLength() <= buffer.size() / 8);
                    if (!buffer.fits(tableOf(op.bucket()), op.bucket(), op.keyLength(), op.keyLength() / 2,
                            op.valueLength())) {
                        continue;
                    }
                    int before = appliedBuckets.size();
                    buffer.makeRoom(op.keyLength(), op.valueLength(), applier);
                    // room comes from the buckets of the oldest records, each applied whole or sent whole
                    for (int i = before; i < appliedBuckets.size(); i++) {
                        int bucket = appliedBuckets.get(i);
                        if (bucket < 0) {
                            continue;
                        }
                        assertThat(bucket).as("room is made by the bucket of the oldest record")
                                .isEqualTo(arrival.get(0));
                        if (applied.get(i) == SENT) {
                            int inLog = (int) arrival.stream().filter(b -> b == bucket).count();
                            modelKept.merge(bucket, inLog, Integer::sum);
                            arrival.removeIf(b -> b == bucket);
                            sent++;
                            continue;
                        }
                        keptApplied += modelKept.getOrDefault(bucket, 0);
                        if (toRocksDb && bucket % 2 == 1) { // RocksDB would take it: it holds its most merges
                            assertThat(mergesWhenRead.get(bucket)).as("merges RocksDB held for bucket " + bucket)
                                    .isEqualTo(maxKeptMerges);
                            atMost++;
                        }
                        expectApplied(model, modelKept, arrival, bucket, applied.get(i));
                        roomApplications++;
                    }
                    byte[] key = bytes(serial, op.keyLength());
                    byte[] value = bytes(serial + 7, op.valueLength());
                    serial++;
                    int tailBefore = buffer.records();
                    buffer.add(opOf(op.bucket(), op.keyLength()), op.bucket(), tableOf(op.bucket()), op.bucket(), key,
                            0, op.keyLength(), op.keyLength() / 2, value, 0, op.valueLength());
                    assertThat(buffer.records()).isEqualTo(tailBefore + 1);
                    model.computeIfAbsent(op.bucket(), b -> new ArrayDeque<>()).add(concat(key, value));
                    arrival.add(op.bucket());
                }
                case APPLY -> {
                    int before = appliedBuckets.size();
                    buffer.apply(op.bucket(), applier);
                    if (model.containsKey(op.bucket())) {
                        assertThat(appliedBuckets.size()).isEqualTo(before + 1);
                        keptApplied += modelKept.getOrDefault(op.bucket(), 0);
                        expectApplied(model, modelKept, arrival, op.bucket(), applied.get(before));
                    } else {
                        assertThat(appliedBuckets.size()).isEqualTo(before);
                    }
                }
                case APPLY_ALL -> {
                    int before = appliedBuckets.size();
                    buffer.applyAll(applier);
                    for (int i = before; i < appliedBuckets.size(); i++) {
                        keptApplied += modelKept.getOrDefault(appliedBuckets.get(i), 0);
                        expectApplied(model, modelKept, arrival, appliedBuckets.get(i), applied.get(i));
                    }
                    assertThat(model).isEmpty();
                    assertThat(rocksDb).as("RocksDB keeps nothing once all is applied").isEmpty();
                }
                case GROW -> { // as the index grows it when it asks: everything applied, then the log doubles
                    if (!buffer.wantsToGrow()) {
                        break;
                    }
                    int before = appliedBuckets.size();
                    buffer.applyLog(applier); // buckets with records in RocksDB alone may stay
                    for (int i = before; i < appliedBuckets.size(); i++) {
                        keptApplied += modelKept.getOrDefault(appliedBuckets.get(i), 0);
                        expectApplied(model, modelKept, arrival, appliedBuckets.get(i), applied.get(i));
                    }
                    assertThat(buffer.records()).isZero();
                    int size = buffer.size();
                    assertThat(buffer.grow()).isEqualTo(Math.min(4 * capacity, 2 * size));
                    assertThat(buffer.wantsToGrow()).as("a new window starts").isFalse();
                    grew = true;
                }
                case DROP -> {
                    int table = tableOf(op.bucket());
                    buffer.drop(t -> t == table);
                    for (int bucket = 8 * table; bucket < 8 * table + 8; bucket++) { // as the index drops its heads'
                        assertThat(buffer.dropKept(bucket)).isEqualTo(modelKept.getOrDefault(bucket, 0));
                    }
                    model.keySet().removeIf(b -> tableOf(b) == table);
                    modelKept.keySet().removeIf(b -> tableOf(b) == table);
                    arrival.removeIf(b -> tableOf(b) == table);
                    assertThat(rocksDb.keySet()).as("RocksDB keeps nothing of a dropped table")
                            .noneMatch(b -> tableOf(b) == table);
                }
            }
            // a bucket's run of applications is closed: the next one starts a new batch
            appliedBuckets.add(-1);
            applied.add(null);
            buffer.checkInvariants(page -> true);
            assertThat(buffer.records()).isEqualTo(arrival.size());
            assertThat(buffer.keptRecords()).isEqualTo(modelKept.values().stream().mapToLong(Integer::longValue).sum());
            assertThat(rocksDb.keySet()).isEqualTo(modelKept.keySet());
            assertThat(buffer.buckets()).as("buckets with records in the log").isEqualTo(new java.util.HashSet<>(arrival).size());
            assertThat(buffer.keptBuckets()).as("buckets with records in RocksDB").isEqualTo(modelKept.size());
            assertThat(buffer.isEmpty()).isEqualTo(model.isEmpty());
            for (int bucket : model.keySet()) {
                assertThat(buffer.has(bucket)).isTrue();
            }
            wrapped |= buffer.wrapped();
        }
        Statistics.label("room made by applying").collect(roomApplications > 0);
        Statistics.label("log wrapped").collect(wrapped);
        Statistics.label("grew").collect(grew);
        Statistics.label("sent to RocksDB").collect(sent > 0);
        Statistics.label("applied what RocksDB kept").collect(keptApplied > 0);
        Statistics.label("applied at its most merges").collect(atMost > 0);
        if (toRocksDb) {
            assertThat(buffer.spills()).isEqualTo(sent);
        }
        Statistics.label("room made by applying").coverage(c -> c.check(true).percentage(p -> p > 30));
        Statistics.label("log wrapped").coverage(c -> c.check(true).percentage(p -> p > 30));
        Statistics.label("grew").coverage(c -> c.check(true).count(n -> n > 0));
        Statistics.label("sent to RocksDB").coverage(c -> c.check(true).percentage(p -> p > 20));
        Statistics.label("applied what RocksDB kept").coverage(c -> c.check(true).percentage(p -> p > 20));
        Statistics.label("applied at its most merges").coverage(c -> c.check(true).percentage(p -> p > 5));
    }

    /** The test's tables: buckets 0-7 in table 0, 8-15 in 1, 16-23 in 2. */
    private static int tableOf(int bucket) {
        return bucket / 8;
    }

    private static int opOf(int bucket, int keyLength) {
        return 1 + (bucket + keyLength) % 3;
    }

    private static void expectApplied(Map<Integer, ArrayDeque<byte[]>> model, Map<Integer, Integer> modelKept,
            List<Integer> arrival, int bucket, List<byte[]> got) {
        ArrayDeque<byte[]> expected = model.remove(bucket);
        modelKept.remove(bucket);
        assertThat(expected).as("bucket " + bucket + " had records").isNotNull();
        assertThat(got).as("bucket " + bucket + "'s records, whole and in order")
                .containsExactlyElementsOf(new ArrayList<>(expected));
        arrival.removeIf(b -> b == bucket);
    }

    private static byte[] bytes(int seed, int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed * 31 + i * 7);
        }
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}

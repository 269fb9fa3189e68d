package io.zstate.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.State;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.operators.testutils.MockEnvironmentBuilder;
import org.apache.flink.runtime.state.CheckpointableKeyedStateBackend;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.StateBackendTestBase;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.hashmap.HashMapStateBackend;
import org.apache.flink.runtime.state.memory.MemCheckpointStreamFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Incremental checkpoints against Flink's HashMap backend as the oracle: random rounds of value,
 * map and list writes (map clears, list appends, removals) go to both; after each round zstate
 * takes a checkpoint that completes, is aborted or is left unconfirmed, and each checkpoint is
 * restored into a fresh backend, whole and in two halves (rescaling), which must hold what the
 * oracle held at that checkpoint. The handles are Flink's incremental ones: a base first, then
 * deltas that refer to the base's file and write far less.
 */
class IncrementalCheckpointTest {

    private static final int KEY_GROUPS = 16;
    private static final int KEYS = 600;
    private static final ValueStateDescriptor<String> VALUE = new ValueStateDescriptor<>("value", String.class);
    private static final MapStateDescriptor<Integer, String> MAP =
            new MapStateDescriptor<>("map", Integer.class, String.class);
    private static final ListStateDescriptor<Long> LIST = new ListStateDescriptor<>("list", Long.class);

    static ZStateBackend incremental(String deltaMemory) {
        return incremental(deltaMemory, ZStateOptions.CONSOLIDATE_RATIO.defaultValue());
    }

    static ZStateBackend incremental(String deltaMemory, double consolidateRatio) {
        Configuration config = new Configuration();
        config.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        config.set(ZStateOptions.DELTA_MEMORY, MemorySize.parse(deltaMemory));
        config.set(ZStateOptions.CONSOLIDATE_RATIO, consolidateRatio);
        return new ZStateBackend().configure(config, IncrementalCheckpointTest.class.getClassLoader());
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3})
    void everyCheckpointRestoresToWhatTheOracleHeldThen(long seed) throws Exception {
        Random random = new Random(seed);
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        MemCheckpointStreamFactory streams = new MemCheckpointStreamFactory(64 << 20);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> zstate =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of());
            CheckpointableKeyedStateBackend<Integer> oracle =
                    KeyedBackends.create(new HashMapStateBackend(), env, KEY_GROUPS, List.of());
            try {
                List<KeyedStateHandle> checkpoints = new ArrayList<>();
                List<Map<Integer, String>> expected = new ArrayList<>();
                int deltas = 0;
                for (long id = 1; id <= 12; id++) {
                    int writes = id == 1 ? 3000 : 40 + random.nextInt(200);
                    for (int i = 0; i < writes; i++) {
                        int key = random.nextInt(KEYS);
                        int what = random.nextInt(100);
                        long salt = random.nextLong();
                        write(zstate, key, what, salt);
                        write(oracle, key, what, salt);
                    }
                    KeyedStateHandle handle = StateBackendTestBase.runSnapshot(
                            zstate.snapshot(id, id, streams, CheckpointOptions.forCheckpointWithDefaultLocation()),
                            registry);
                    assertThat(handle).isInstanceOf(IncrementalRemoteKeyedStateHandle.class);
                    IncrementalRemoteKeyedStateHandle incremental = (IncrementalRemoteKeyedStateHandle) handle;
                    if (incremental.getSharedState().size() > 1) {
                        deltas++;
                        assertThat(incremental.getCheckpointedSize()).as("a delta writes less than the state")
                                .isLessThan(incremental.getStateSize() / 2);
                    }
                    checkpoints.add(handle);
                    expected.add(dump(oracle));
                    int fate = random.nextInt(4);
                    if (fate < 2) {
                        complete(zstate, id);
                    } else if (fate == 2) {
                        ((org.apache.flink.api.common.state.CheckpointListener) zstate).notifyCheckpointAborted(id);
                    }
                }
                assertThat(deltas).as("checkpoints that were deltas").isGreaterThan(3);
                for (int i = 0; i < checkpoints.size(); i++) {
                    assertRestores(env, checkpoints.get(i), expected.get(i), "checkpoint " + (i + 1));
                }
            } finally {
                KeyedBackends.dispose(zstate);
                KeyedBackends.dispose(oracle);
            }
        }
    }

    /**
     * Rescaling 2 -> 3 -> 2 through incremental checkpoints: each step restores from delta
     * checkpoints of the step before (every new subtask gets the intersection of each old handle
     * with its key-groups, as Flink assigns them), writes more, and checkpoints a base and a delta.
     */
    @org.junit.jupiter.api.Test
    void rescalesFromTwoToThreeAndBackThroughDeltas() throws Exception {
        Random random = new Random(11);
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        MemCheckpointStreamFactory streams = new MemCheckpointStreamFactory(64 << 20);
        List<KeyGroupRange> halves = List.of(new KeyGroupRange(0, 7), new KeyGroupRange(8, KEY_GROUPS - 1));
        List<KeyGroupRange> thirds = List.of(new KeyGroupRange(0, 4), new KeyGroupRange(5, 10),
                new KeyGroupRange(11, KEY_GROUPS - 1));
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> oracle =
                    KeyedBackends.create(new HashMapStateBackend(), env, KEY_GROUPS, List.of());
            try {
                List<KeyedStateHandle> handles = List.of();
                long id = 1;
                for (List<KeyGroupRange> step : List.of(halves, thirds, halves)) {
                    List<CheckpointableKeyedStateBackend<Integer>> parts = new ArrayList<>();
                    for (KeyGroupRange range : step) {
                        List<KeyedStateHandle> mine = new ArrayList<>();
                        for (KeyedStateHandle handle : handles) {
                            KeyedStateHandle cut = handle.getIntersection(range);
                            if (cut != null) {
                                mine.add(cut);
                            }
                        }
                        parts.add(KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, range, mine));
                        if (!mine.isEmpty()) { // the first base's pages are placed; another's entries put
                            io.zstate.pagestore.PageStoreStats stats =
                                    ((ZKeyedStateBackend<?>) parts.get(parts.size() - 1)).pageStoreStats();
                            assertThat(stats.pagesPlaced()).as("pages placed restoring " + range).isPositive();
                            if (mine.size() > 1) {
                                assertThat(stats.livePages()).as("pages beside the placed ones, from entries put")
                                        .isGreaterThan(stats.pagesPlaced());
                            }
                        }
                    }
                    try {
                        if (!handles.isEmpty()) {
                            assertThat(dumpParts(parts, step)).as("restored into " + step).isEqualTo(dump(oracle));
                        }
                        List<KeyedStateHandle> next = new ArrayList<>();
                        for (int round = 0; round < 2; round++, id++) {
                            for (int i = 0; i < (round == 0 && handles.isEmpty() ? 2000 : 300); i++) {
                                int key = random.nextInt(KEYS);
                                int what = random.nextInt(100);
                                long salt = random.nextLong();
                                write(owner(parts, step, key), key, what, salt);
                                write(oracle, key, what, salt);
                            }
                            next.clear();
                            for (CheckpointableKeyedStateBackend<Integer> part : parts) {
                                KeyedStateHandle handle = checkpoint(part, id, streams, registry);
                                assertThat(files(handle)).as(round == 0 ? "a base" : "a delta").isEqualTo(round + 1);
                                next.add(handle);
                                complete(part, id);
                            }
                        }
                        handles = List.copyOf(next);
                    } finally {
                        for (CheckpointableKeyedStateBackend<Integer> part : parts) {
                            KeyedBackends.dispose(part);
                        }
                    }
                }
            } finally {
                KeyedBackends.dispose(oracle);
            }
        }
    }

    /**
     * After a restore the first checkpoint is a base that refers to no file of the restored
     * checkpoint (Flink's NO_CLAIM mode): the restored checkpoint's files can be deleted, and the
     * new checkpoint still restores.
     */
    @org.junit.jupiter.api.Test
    void theFirstCheckpointAfterARestoreReferencesNoRestoredFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        java.nio.file.Files.createDirectories(dir.resolve("chk"));
        java.nio.file.Files.createDirectories(dir.resolve("shared"));
        org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory files =
                new org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory(
                        org.apache.flink.core.fs.local.LocalFileSystem.getSharedInstance(),
                        new org.apache.flink.core.fs.Path(dir.resolve("chk").toUri()),
                        new org.apache.flink.core.fs.Path(dir.resolve("shared").toUri()), 0, 4096);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> first =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of());
            IncrementalRemoteKeyedStateHandle original;
            try {
                ValueState<String> value = state(first, VALUE);
                write(first, value, 0, 500, "a");
                checkpoint(first, 1, files, registry);
                complete(first, 1);
                write(first, value, 0, 50, "b");
                original = (IncrementalRemoteKeyedStateHandle) checkpoint(first, 2, files, registry);
                assertThat(files(original)).isEqualTo(2);
            } finally {
                KeyedBackends.dispose(first);
            }
            CheckpointableKeyedStateBackend<Integer> second =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of(original));
            IncrementalRemoteKeyedStateHandle next;
            try {
                ValueState<String> value = state(second, VALUE);
                write(second, value, 400, 450, "c");
                next = (IncrementalRemoteKeyedStateHandle) checkpoint(second, 3, files, registry);
            } finally {
                KeyedBackends.dispose(second);
            }
            assertThat(files(next)).as("a base").isEqualTo(1);
            for (HandleAndLocalPath file : original.getSharedState()) {
                for (HandleAndLocalPath mine : next.getSharedState()) {
                    assertThat(mine.getHandle()).isNotEqualTo(file.getHandle());
                }
            }
            original.discardState(); // as NO_CLAIM lets the user delete the restored checkpoint
            for (HandleAndLocalPath file : original.getSharedState()) {
                file.getHandle().discardState();
            }
            Map<Integer, String> expected =
                    values(500, key -> "value=" + (key < 50 ? "b" : key >= 400 && key < 450 ? "c" : "a"));
            assertRestoresValues(env, next, expected);
        }
    }

    /**
     * As the JobManager handles shared files, with real deletion: a checkpoint acknowledged and
     * then aborted is discarded whole (the files it reuses must survive that), and with two
     * checkpoints in flight a later one completing first subsumes the chain an earlier delta was
     * built on (a delta must not be built on files that may go). Every completed checkpoint must
     * restore.
     */
    @org.junit.jupiter.api.Test
    void checkpointsSurviveTheJobManagersDeletionsWhenCheckpointsAbortOrOverlap(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        JobManagerLike jm = new JobManagerLike(dir);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> zstate =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of());
            Map<Integer, String> expected = new TreeMap<>();
            try {
                ValueState<String> value = state(zstate, VALUE);
                write(zstate, value, 0, 300, "a");
                jm.complete(zstate, 1, jm.take(zstate, 1));
                // acknowledged, then aborted: discarded whole, its reused files as placeholders only
                write(zstate, value, 0, 10, "b");
                jm.abort(zstate, 2, jm.take(zstate, 2));
                // 3 and 4 in flight, both deltas on 1; 3 completes; 5 is taken while 4 is in flight;
                // then 4 completes and subsumes 3 (what only 3 refers to is deleted), then 5
                write(zstate, value, 10, 20, "c");
                KeyedStateHandle third = jm.take(zstate, 3);
                write(zstate, value, 20, 30, "d");
                KeyedStateHandle fourth = jm.take(zstate, 4);
                jm.complete(zstate, 3, third);
                write(zstate, value, 30, 40, "e");
                KeyedStateHandle fifth = jm.take(zstate, 5);
                jm.complete(zstate, 4, fourth);
                jm.complete(zstate, 5, fifth);
                for (int key = 0; key < 300; key++) {
                    expected.put(key, "value=" + (key < 10 ? "b" : key < 20 ? "c" : key < 30 ? "d" : key < 40 ? "e"
                            : "a"));
                }
                assertRestoresValues(env, fifth, expected);
            } finally {
                KeyedBackends.dispose(zstate);
            }
        }
    }

    /** The JobManager's part in shared files: register at completion, delete what no retained checkpoint uses. */
    private static final class JobManagerLike {
        final SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        final org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory files;
        KeyedStateHandle retained;

        JobManagerLike(java.nio.file.Path dir) throws java.io.IOException {
            java.nio.file.Path shared = java.nio.file.Files.createDirectories(dir.resolve("shared"));
            java.nio.file.Path exclusive = java.nio.file.Files.createDirectories(dir.resolve("chk"));
            files = new org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory(
                    org.apache.flink.core.fs.local.LocalFileSystem.getSharedInstance(),
                    new org.apache.flink.core.fs.Path(exclusive.toUri()),
                    new org.apache.flink.core.fs.Path(shared.toUri()), 0, 4096);
        }

        KeyedStateHandle take(CheckpointableKeyedStateBackend<Integer> backend, long id) throws Exception {
            java.util.concurrent.RunnableFuture<org.apache.flink.runtime.state.SnapshotResult<KeyedStateHandle>> future =
                    backend.snapshot(id, id, files, CheckpointOptions.forCheckpointWithDefaultLocation());
            future.run();
            return future.get().getJobManagerOwnedSnapshot();
        }

        /** Completes it with one retained checkpoint: registered, the one before subsumed. */
        void complete(CheckpointableKeyedStateBackend<Integer> backend, long id, KeyedStateHandle handle)
                throws Exception {
            handle.registerSharedStates(registry, id);
            registry.checkpointCompleted(id);
            if (retained != null) {
                retained.discardState(); // its private files; its shared ones through the registry
            }
            retained = handle;
            registry.unregisterUnusedState(id);
            ((org.apache.flink.api.common.state.CheckpointListener) backend).notifyCheckpointComplete(id);
        }

        void abort(CheckpointableKeyedStateBackend<Integer> backend, long id, KeyedStateHandle handle)
                throws Exception {
            handle.discardState(); // never registered: Flink takes all its files for its own
            ((org.apache.flink.api.common.state.CheckpointListener) backend).notifyCheckpointAborted(id);
        }
    }

    /**
     * A delta checkpoint whose asynchronous part fails after its delta file is written (the meta
     * file cannot be created) leaves no file behind, and the next checkpoint writes its changes
     * again: they are not lost.
     */
    @org.junit.jupiter.api.Test
    void aFailedCheckpointLeavesNoFileAndLosesNoChange(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        java.nio.file.Path shared = java.nio.file.Files.createDirectories(dir.resolve("shared"));
        java.nio.file.Path exclusive = java.nio.file.Files.createDirectories(dir.resolve("chk"));
        org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory files =
                new org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory(
                        org.apache.flink.core.fs.local.LocalFileSystem.getSharedInstance(),
                        new org.apache.flink.core.fs.Path(exclusive.toUri()),
                        new org.apache.flink.core.fs.Path(shared.toUri()), 0, 4096);
        java.util.concurrent.atomic.AtomicBoolean failExclusive = new java.util.concurrent.atomic.AtomicBoolean();
        org.apache.flink.runtime.state.CheckpointStreamFactory failing =
                new org.apache.flink.runtime.state.CheckpointStreamFactory() {
                    @Override
                    public org.apache.flink.runtime.state.CheckpointStateOutputStream createCheckpointStateOutputStream(
                            org.apache.flink.runtime.state.CheckpointedStateScope scope) throws java.io.IOException {
                        if (scope == org.apache.flink.runtime.state.CheckpointedStateScope.EXCLUSIVE
                                && failExclusive.get()) {
                            throw new java.io.IOException("injected: the checkpoint storage refuses the meta file");
                        }
                        return files.createCheckpointStateOutputStream(scope);
                    }

                    @Override
                    public boolean canFastDuplicate(org.apache.flink.runtime.state.StreamStateHandle handle,
                            org.apache.flink.runtime.state.CheckpointedStateScope scope) {
                        return false;
                    }

                    @Override
                    public List<org.apache.flink.runtime.state.StreamStateHandle> duplicate(
                            List<org.apache.flink.runtime.state.StreamStateHandle> handles,
                            org.apache.flink.runtime.state.CheckpointedStateScope scope) {
                        throw new UnsupportedOperationException();
                    }
                };
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> zstate =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of());
            KeyedStateHandle third;
            try {
                ValueState<String> value = state(zstate, VALUE);
                write(zstate, value, 0, 500, "a");
                checkpoint(zstate, 1, failing, registry);
                complete(zstate, 1);
                List<java.nio.file.Path> before = listFiles(dir);
                write(zstate, value, 0, 50, "b");
                failExclusive.set(true);
                assertThatThrownBy(() -> checkpoint(zstate, 2, failing, registry))
                        .hasStackTraceContaining("injected");
                assertThat(listFiles(dir)).as("files after the failed checkpoint").isEqualTo(before);
                ((org.apache.flink.api.common.state.CheckpointListener) zstate).notifyCheckpointAborted(2);
                failExclusive.set(false);
                write(zstate, value, 450, 500, "c");
                third = checkpoint(zstate, 3, failing, registry);
                assertThat(files(third)).as("a delta").isEqualTo(2);
            } finally {
                KeyedBackends.dispose(zstate);
            }
            Map<Integer, String> expected = values(500, key -> "value=" + (key < 50 ? "b" : key >= 450 ? "c" : "a"));
            assertRestoresValues(env, third, expected);
        }
    }

    private static List<java.nio.file.Path> listFiles(java.nio.file.Path dir) throws java.io.IOException {
        try (java.util.stream.Stream<java.nio.file.Path> all = java.nio.file.Files.walk(dir)) {
            return all.filter(java.nio.file.Files::isRegularFile).sorted().toList();
        }
    }

    @org.junit.jupiter.api.Test
    void aCheckpointAfterTheLogOutgrewItsMemoryIsAFullBaseAgain() throws Exception {
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        MemCheckpointStreamFactory streams = new MemCheckpointStreamFactory(64 << 20);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> zstate =
                    KeyedBackends.create(incremental("1mb"), env, KEY_GROUPS, List.of());
            try {
                ValueState<String> value = state(zstate, VALUE);
                write(zstate, value, 0, 2000, "a");
                assertThat(files(checkpoint(zstate, 1, streams, registry))).isEqualTo(1);
                complete(zstate, 1);
                write(zstate, value, 0, 50, "b");
                assertThat(files(checkpoint(zstate, 2, streams, registry))).as("a delta").isEqualTo(2);
                complete(zstate, 2);
                String big = "x".repeat(1000);
                write(zstate, value, 0, 2000, big); // ~2 MB of changes: more than the log may hold
                KeyedStateHandle third = checkpoint(zstate, 3, streams, registry);
                assertThat(files(third)).as("a base again").isEqualTo(1);
                Map<Integer, String> expected = values(2000, key -> "value=" + big);
                assertRestoresValues(env, third, expected);
            } finally {
                KeyedBackends.dispose(zstate);
            }
        }
    }

    /**
     * The write buffer's waiting writes, many of them in RocksDB (a pool of 16 frames under 20,000
     * keys), stay waiting through every checkpoint: a base writes its pages and, beside them, a
     * delta file of the writes still waiting; a delta reads only its logs (the store is not even
     * frozen). Either restores to every write, whole and in halves of the key-groups.
     */
    @org.junit.jupiter.api.Test
    void waitingWritesStayWaitingThroughBasesAndDeltasAndRestore() throws Exception {
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        MemCheckpointStreamFactory streams = new MemCheckpointStreamFactory(64 << 20);
        Configuration config = new Configuration();
        config.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        config.set(ZStateOptions.POOL_SIZE, MemorySize.parse("64kb"));
        config.set(ZStateOptions.PAGE_CACHE_SIZE, MemorySize.parse("32kb"));
        config.set(ZStateOptions.WRITE_BUFFER_FRACTION, 0.5);
        // no entry cache: a base's freeze writes its dirty records back, and some would wait, so the
        // waiting writes before and after the base would differ by them
        config.set(ZStateOptions.ENTRY_CACHE_FRACTION, 0.0);
        // the writes waiting beside a base count as its delta: let one more delta follow it
        config.set(ZStateOptions.CONSOLIDATE_RATIO, 10.0);
        ZStateBackend buffered = new ZStateBackend().configure(config, IncrementalCheckpointTest.class.getClassLoader());
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> zstate = KeyedBackends.create(buffered, env, KEY_GROUPS, List.of());
            try {
                ValueState<String> value = state(zstate, VALUE);
                write(zstate, value, 0, 20_000, "a");
                io.zstate.pagestore.PageStoreStats loaded = ((ZKeyedStateBackend<?>) zstate).pageStoreStats();
                assertThat(loaded.writesToRocksDb()).as("writes sent to RocksDB: %s", loaded).isPositive();
                assertThat(loaded.waitingWrites()).isGreaterThan(1_000);
                KeyedStateHandle base = checkpoint(zstate, 1, streams, registry);
                assertThat(files(base)).as("a base and the writes waiting beside it").isEqualTo(2);
                assertThat(((ZKeyedStateBackend<?>) zstate).pageStoreStats().waitingWrites())
                        .as("still waiting after the base").isEqualTo(loaded.waitingWrites());
                complete(zstate, 1);
                write(zstate, value, 0, 20_000, "b");
                long waiting = ((ZKeyedStateBackend<?>) zstate).pageStoreStats().waitingWrites();
                KeyedStateHandle delta = checkpoint(zstate, 2, streams, registry);
                assertThat(files(delta)).as("a delta on them").isEqualTo(3);
                assertThat(((ZKeyedStateBackend<?>) zstate).pageStoreStats().waitingWrites())
                        .as("still waiting after the delta").isEqualTo(waiting);
                complete(zstate, 2);
                assertRestoresValuesWholeAndInHalves(env, base, values(20_000, key -> "value=a"));
                assertRestoresValuesWholeAndInHalves(env, delta, values(20_000, key -> "value=b"));
            } finally {
                KeyedBackends.dispose(zstate);
            }
        }
    }

    private static void assertRestoresValuesWholeAndInHalves(MockEnvironment env, KeyedStateHandle checkpoint,
            Map<Integer, String> expected) throws Exception {
        assertRestoresValues(env, checkpoint, expected);
        for (KeyGroupRange half : List.of(new KeyGroupRange(0, 6), new KeyGroupRange(7, KEY_GROUPS - 1))) {
            CheckpointableKeyedStateBackend<Integer> part = KeyedBackends.create(incremental("64mb"), env,
                    KEY_GROUPS, half, List.of(checkpoint.getIntersection(half)));
            try {
                ValueState<String> value = state(part, VALUE);
                for (Map.Entry<Integer, String> e : expected.entrySet()) {
                    if (half.contains(KeyGroupRangeAssignment.assignToKeyGroup(e.getKey(), KEY_GROUPS))) {
                        part.setCurrentKey(e.getKey());
                        assertThat(value.value()).as("key %d in key-groups %s", e.getKey(), half)
                                .isEqualTo(e.getValue());
                    }
                }
            } finally {
                KeyedBackends.dispose(part);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void aNewBaseOnceTheDeltasPassTheConsolidateRatio() throws Exception {
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        MemCheckpointStreamFactory streams = new MemCheckpointStreamFactory(64 << 20);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            // deltas of 100 of 2,000 keys each: about 7% of the base (pages, zstd); a ratio of 10% allows two
            CheckpointableKeyedStateBackend<Integer> zstate =
                    KeyedBackends.create(incremental("64mb", 0.10), env, KEY_GROUPS, List.of());
            try {
                ValueState<String> value = state(zstate, VALUE);
                write(zstate, value, 0, 2000, "base");
                List<Integer> files = new ArrayList<>();
                KeyedStateHandle last = null;
                for (long id = 1; id <= 6; id++) {
                    write(zstate, value, (int) (id * 100), (int) (id * 100) + 100, "round " + id);
                    last = checkpoint(zstate, id, streams, registry);
                    files.add(files(last));
                    complete(zstate, id);
                }
                assertThat(files).as("shared files per checkpoint").containsExactly(1, 2, 3, 1, 2, 3);
                Map<Integer, String> expected = values(2000,
                        key -> "value=" + (key / 100 >= 1 && key / 100 <= 6 ? "round " + key / 100 : "base"));
                assertRestoresValues(env, last, expected);
            } finally {
                KeyedBackends.dispose(zstate);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void timersAreInEveryCheckpointWholeBesideTheDeltas() throws Exception {
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        MemCheckpointStreamFactory streams = new MemCheckpointStreamFactory(64 << 20);
        org.apache.flink.streaming.api.operators.TimerSerializer<Integer, VoidNamespace> timerSerializer =
                new org.apache.flink.streaming.api.operators.TimerSerializer<>(
                        org.apache.flink.api.common.typeutils.base.IntSerializer.INSTANCE,
                        VoidNamespaceSerializer.INSTANCE);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> zstate =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of());
            KeyedStateHandle second;
            try {
                var timers = zstate.create("timers", timerSerializer);
                ValueState<String> value = state(zstate, VALUE);
                write(zstate, value, 0, 100, "a");
                for (int key = 0; key < 50; key++) {
                    timers.add(new org.apache.flink.streaming.api.operators.TimerHeapInternalTimer<>(
                            1000 + key, key, VoidNamespace.INSTANCE));
                }
                checkpoint(zstate, 1, streams, registry);
                complete(zstate, 1);
                write(zstate, value, 0, 10, "b");
                timers.poll(); // the earliest fires
                second = checkpoint(zstate, 2, streams, registry);
                assertThat(files(second)).as("a delta").isEqualTo(2);
                assertThat(((IncrementalRemoteKeyedStateHandle) second).getPrivateState()).hasSize(1);
            } finally {
                KeyedBackends.dispose(zstate);
            }
            CheckpointableKeyedStateBackend<Integer> restored =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of(second));
            try {
                var timers = restored.create("timers", timerSerializer);
                assertThat(timers.size()).isEqualTo(49);
                assertThat(timers.peek().getTimestamp()).isEqualTo(1001);
                ValueState<String> value = state(restored, VALUE);
                restored.setCurrentKey(5);
                assertThat(value.value()).isEqualTo("value=b");
                restored.setCurrentKey(50);
                assertThat(value.value()).isEqualTo("value=a");
            } finally {
                KeyedBackends.dispose(restored);
            }
        }
    }

    /**
     * A base written with 1 KiB pages restores into a backend of 4 KiB pages entry by entry (its
     * pages cannot be placed there): values, maps and lists as they were.
     */
    @org.junit.jupiter.api.Test
    void aBaseOfAnotherPageSizeIsPutEntryByEntry() throws Exception {
        Random random = new Random(5);
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        MemCheckpointStreamFactory streams = new MemCheckpointStreamFactory(64 << 20);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> zstate =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of());
            KeyedStateHandle base;
            Map<Integer, String> expected;
            try {
                for (int i = 0; i < 3000; i++) {
                    write(zstate, random.nextInt(KEYS), random.nextInt(100), random.nextLong());
                }
                expected = dump(zstate);
                base = checkpoint(zstate, 1, streams, registry);
            } finally {
                KeyedBackends.dispose(zstate);
            }
            Configuration config = new Configuration();
            config.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
            config.set(ZStateOptions.PAGE_SIZE, MemorySize.parse("4kb"));
            CheckpointableKeyedStateBackend<Integer> bigger = KeyedBackends.create(
                    new ZStateBackend().configure(config, getClass().getClassLoader()), env, KEY_GROUPS, List.of(base));
            try {
                assertThat(((ZKeyedStateBackend<?>) bigger).pageStoreStats().pagesPlaced()).as("pages placed").isZero();
                assertThat(dump(bigger)).isEqualTo(expected);
            } finally {
                KeyedBackends.dispose(bigger);
            }
        }
    }

    /**
     * A base whose bytes were damaged fails the restore with the file and the key-group, and the
     * half-restored backend gives back all its memory (the environment checks its managed memory
     * on close).
     */
    @org.junit.jupiter.api.Test
    void aCorruptBaseFailsTheRestoreNamingTheFileAndKeyGroup() throws Exception {
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        MemCheckpointStreamFactory streams = new MemCheckpointStreamFactory(64 << 20);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> zstate =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of());
            IncrementalRemoteKeyedStateHandle first;
            try {
                ValueState<String> value = state(zstate, VALUE);
                write(zstate, value, 0, 2000, "a");
                first = (IncrementalRemoteKeyedStateHandle) checkpoint(zstate, 1, streams, registry);
            } finally {
                KeyedBackends.dispose(zstate);
            }
            HandleAndLocalPath base = first.getSharedState().get(0);
            byte[] bytes = ((org.apache.flink.runtime.state.memory.ByteStreamStateHandle) base.getHandle()).getData()
                    .clone();
            for (int i = bytes.length / 2; i < bytes.length / 2 + 64; i++) {
                bytes[i] ^= 0x5a;
            }
            IncrementalRemoteKeyedStateHandle broken = new IncrementalRemoteKeyedStateHandle(
                    first.getBackendIdentifier(), first.getKeyGroupRange(), 1,
                    List.of(HandleAndLocalPath.of(new org.apache.flink.runtime.state.memory.ByteStreamStateHandle(
                            "damaged", bytes), base.getLocalPath())),
                    first.getPrivateState(), first.getMetaDataStateHandle(), 0);
            assertThatThrownBy(() -> KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of(broken)))
                    .hasStackTraceContaining(base.getLocalPath())
                    .hasStackTraceContaining("key-group");
        }
    }

    @org.junit.jupiter.api.Test
    void aMissingSharedFileFailsTheRestoreNamingIt() throws Exception {
        SharedStateRegistryImpl registry = new SharedStateRegistryImpl();
        MemCheckpointStreamFactory streams = new MemCheckpointStreamFactory(64 << 20);
        try (MockEnvironment env = new MockEnvironmentBuilder().build()) {
            CheckpointableKeyedStateBackend<Integer> zstate =
                    KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of());
            IncrementalRemoteKeyedStateHandle second;
            try {
                ValueState<String> value = state(zstate, VALUE);
                write(zstate, value, 0, 100, "a");
                checkpoint(zstate, 1, streams, registry);
                complete(zstate, 1);
                write(zstate, value, 0, 10, "b");
                second = (IncrementalRemoteKeyedStateHandle) checkpoint(zstate, 2, streams, registry);
            } finally {
                KeyedBackends.dispose(zstate);
            }
            List<HandleAndLocalPath> withoutDelta = new ArrayList<>(second.getSharedState().subList(0, 1));
            IncrementalRemoteKeyedStateHandle broken = new IncrementalRemoteKeyedStateHandle(
                    second.getBackendIdentifier(), second.getKeyGroupRange(), 2, withoutDelta, List.of(),
                    second.getMetaDataStateHandle(), 0);
            String missing = second.getSharedState().get(1).getLocalPath();
            assertThatThrownBy(() -> KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of(broken)))
                    .hasStackTraceContaining(missing)
                    .hasStackTraceContaining("the checkpoint is incomplete");
        }
    }

    // ---- the workload and the checks ---------------------------------------------------------

    private static void write(CheckpointableKeyedStateBackend<Integer> backend, int key, int what, long salt)
            throws Exception {
        backend.setCurrentKey(key);
        ValueState<String> value = state(backend, VALUE);
        MapState<Integer, String> map = state(backend, MAP);
        ListState<Long> list = state(backend, LIST);
        int user = (int) (salt & 15);
        if (what < 30) {
            value.update("v" + salt);
        } else if (what < 35) {
            value.clear();
        } else if (what < 60) {
            map.put(user, "m" + salt);
        } else if (what < 68) {
            map.remove(user);
        } else if (what < 71) {
            map.clear();
        } else if (what < 90) {
            list.add(salt);
        } else if (what < 95) {
            list.update(List.of(salt, salt + 1));
        } else {
            list.clear();
        }
    }

    private static void write(CheckpointableKeyedStateBackend<Integer> backend, ValueState<String> value, int from,
            int to, String text) throws Exception {
        for (int key = from; key < to; key++) {
            backend.setCurrentKey(key);
            value.update("value=" + text);
        }
    }

    /** Every key's value, map entries and list, as one string each (absent keys left out). */
    private static Map<Integer, String> dump(CheckpointableKeyedStateBackend<Integer> backend) throws Exception {
        return dump(backend, new KeyGroupRange(0, KEY_GROUPS - 1));
    }

    private static Map<Integer, String> dump(CheckpointableKeyedStateBackend<Integer> backend, KeyGroupRange range)
            throws Exception {
        Map<Integer, String> out = new TreeMap<>();
        ValueState<String> value = state(backend, VALUE);
        MapState<Integer, String> map = state(backend, MAP);
        ListState<Long> list = state(backend, LIST);
        for (int key = 0; key < KEYS; key++) {
            if (!range.contains(KeyGroupRangeAssignment.assignToKeyGroup(key, KEY_GROUPS))) {
                continue;
            }
            backend.setCurrentKey(key);
            Map<Integer, String> entries = new TreeMap<>();
            for (Map.Entry<Integer, String> e : map.entries()) {
                entries.put(e.getKey(), e.getValue());
            }
            List<Long> elements = new ArrayList<>();
            Iterable<Long> got = list.get();
            if (got != null) {
                got.forEach(elements::add);
            }
            String v = value.value();
            if (v != null || !entries.isEmpty() || !elements.isEmpty()) {
                out.put(key, v + " " + entries + " " + elements);
            }
        }
        return out;
    }

    private static void assertRestores(MockEnvironment env, KeyedStateHandle checkpoint, Map<Integer, String> expected,
            String what) throws Exception {
        CheckpointableKeyedStateBackend<Integer> whole =
                KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of(checkpoint));
        try {
            assertThat(dump(whole)).as(what + ", whole").isEqualTo(expected);
        } finally {
            KeyedBackends.dispose(whole);
        }
        for (KeyGroupRange half : List.of(new KeyGroupRange(0, 6), new KeyGroupRange(7, KEY_GROUPS - 1))) {
            CheckpointableKeyedStateBackend<Integer> part = KeyedBackends.create(incremental("64mb"), env,
                    KEY_GROUPS, half, List.of(checkpoint.getIntersection(half)));
            try {
                Map<Integer, String> inHalf = new HashMap<>();
                expected.forEach((k, v) -> {
                    if (half.contains(KeyGroupRangeAssignment.assignToKeyGroup(k, KEY_GROUPS))) {
                        inHalf.put(k, v);
                    }
                });
                assertThat(dump(part, half)).as(what + ", key-groups " + half).isEqualTo(inHalf);
            } finally {
                KeyedBackends.dispose(part);
            }
        }
    }

    private static void assertRestoresValues(MockEnvironment env, KeyedStateHandle checkpoint,
            Map<Integer, String> expected) throws Exception {
        CheckpointableKeyedStateBackend<Integer> restored =
                KeyedBackends.create(incremental("64mb"), env, KEY_GROUPS, List.of(checkpoint));
        try {
            ValueState<String> value = state(restored, VALUE);
            for (Map.Entry<Integer, String> e : expected.entrySet()) {
                restored.setCurrentKey(e.getKey());
                assertThat(value.value()).isEqualTo(e.getValue());
            }
        } finally {
            KeyedBackends.dispose(restored);
        }
    }

    private static CheckpointableKeyedStateBackend<Integer> owner(List<CheckpointableKeyedStateBackend<Integer>> parts,
            List<KeyGroupRange> ranges, int key) {
        int group = KeyGroupRangeAssignment.assignToKeyGroup(key, KEY_GROUPS);
        for (int i = 0; i < ranges.size(); i++) {
            if (ranges.get(i).contains(group)) {
                return parts.get(i);
            }
        }
        throw new AssertionError("no part owns key-group " + group);
    }

    private static Map<Integer, String> dumpParts(List<CheckpointableKeyedStateBackend<Integer>> parts,
            List<KeyGroupRange> ranges) throws Exception {
        Map<Integer, String> all = new TreeMap<>();
        for (int i = 0; i < parts.size(); i++) {
            all.putAll(dump(parts.get(i), ranges.get(i)));
        }
        return all;
    }

    /** Keys 0 .. {@code keys - 1} with the value {@code value} gives each. */
    private static Map<Integer, String> values(int keys, java.util.function.IntFunction<String> value) {
        Map<Integer, String> out = new TreeMap<>();
        for (int key = 0; key < keys; key++) {
            out.put(key, value.apply(key));
        }
        return out;
    }

    private static KeyedStateHandle checkpoint(CheckpointableKeyedStateBackend<Integer> backend, long id,
            org.apache.flink.runtime.state.CheckpointStreamFactory streams, SharedStateRegistryImpl registry)
            throws Exception {
        KeyedStateHandle handle = StateBackendTestBase.runSnapshot(
                backend.snapshot(id, id, streams, CheckpointOptions.forCheckpointWithDefaultLocation()), registry);
        return handle; // (runSnapshot registered its shared files, as the JobManager does)
    }

    private static void complete(CheckpointableKeyedStateBackend<Integer> backend, long id) throws Exception {
        ((org.apache.flink.api.common.state.CheckpointListener) backend).notifyCheckpointComplete(id);
    }

    private static int files(KeyedStateHandle handle) {
        return ((IncrementalRemoteKeyedStateHandle) handle).getSharedState().size();
    }

    static <S extends State> S state(CheckpointableKeyedStateBackend<Integer> backend, StateDescriptor<S, ?> d)
            throws Exception {
        return backend.getPartitionedState(VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, d);
    }
}

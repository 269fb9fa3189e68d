package io.zstate.flink;

import static org.apache.flink.configuration.ConfigOptions.key;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.MemorySize;

/**
 * Configuration of the zstate backend, all under {@code state.backend.zstate.}. Select the backend
 * with {@code state.backend.type: io.zstate.flink.ZStateBackendFactory}.
 *
 * <p>Owns the keys, defaults and descriptions (a test checks the user guide's table against
 * them); checking values, alone and against each other, is {@link ZStateBackend}'s.
 */
public final class ZStateOptions {

    private ZStateOptions() {}

    public static final ConfigOption<String> ALLOCATOR =
            key("state.backend.zstate.allocator")
                    .stringType()
                    .defaultValue("zsmalloc")
                    .withDescription(
                            "The compressed-memory allocator of the pool: 'zsmalloc' (size classes, dense,"
                                    + " compacts), 'zbud' (at most two pages a frame, simple), 'z3fold' (at most"
                                    + " three pages a frame, in-frame compaction), 'zlog' (frames filled as logs,"
                                    + " pages stored together freed together; a log cleaner compacts) or 'xcfmalloc'"
                                    + " (chunk blocks that may span frames, a descriptor per block, no compaction;"
                                    + " a comparison, pool budgets up to about 32gb).");

    public static final ConfigOption<Integer> ZSMALLOC_CHAIN_SIZE =
            key("state.backend.zstate.zsmalloc-chain-size")
                    .intType()
                    .defaultValue(io.zstate.allocator.ZPools.DEFAULT_ZSMALLOC_CHAIN_SIZE)
                    .withDescription(
                            "With 'zsmalloc', the most frames one span of a size class holds (the kernel's"
                                    + " CONFIG_ZSMALLOC_CHAIN_SIZE): 4 to 16. Longer chains waste less of a frame per"
                                    + " size class, shorter ones leave smaller partly used spans. Replays of recorded"
                                    + " pool traces swapped in less at 4 than at 8 on every trace (counter job at"
                                    + " half the peak: 111,256 against 128,983), with 0.6 points less utilization"
                                    + " after compaction. End to end (docs/allocator.md) chain 4 gave 1.10x records/s"
                                    + " on the counter job under heavy reclaim and 1.04-2.09x on value reads under"
                                    + " spill, but 0.65-0.76x on map reads under spill in three of five runs, hence"
                                    + " 8. Checked whatever the allocator; the other allocators then ignore it.");

    public static final ConfigOption<String> PAGE_COMPRESSION =
            key("state.backend.zstate.page-compression")
                    .stringType()
                    .defaultValue(io.zstate.pagestore.PageStoreConfig.LZ4)
                    .withDescription(
                            "How pages are compressed in the pool and in RocksDB: 'lz4' (a page at a time, the"
                                    + " fastest) or 'zstd' (zstd level -1 with a 16 KiB dictionary each keyed backend"
                                    + " trains on its own pages, off the task's thread, after its first megabyte of"
                                    + " them; LZ4 until then, those pages re-encoded later). In the state suite zstd"
                                    + " took memory per value entry from 28.3 to about 21 B and per map entry from 31.1"
                                    + " to about 19 B; with the state in the pool reads were 3-30% slower and writes"
                                    + " about half as fast, with state four times the pool map writes gained 1.4-1.7x"
                                    + " (docs/benchmarks.md, \"Page compression\"). zstd takes 256 KiB of each backend's"
                                    + " managed memory for its native contexts. Checkpoints hold"
                                    + " pages raw either way, so the setting may change between restores.");

    public static final ConfigOption<MemorySize> PAGE_SIZE =
            key("state.backend.zstate.page-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("1kb"))
                    .withDescription(
                            "Size of a state page, the unit of caching and compression: a power of two from"
                                    + " 1kb to 32kb. Smaller pages make page-cache misses cheaper. Every page"
                                    + " the bouncer admits must fit one pool object: page-size / bouncer-ratio"
                                    + " + 5 bytes at most frame-size - 8 (zsmalloc), frame-size * 62/64 (zbud, z3fold) or"
                                    + " frame-size - 24 (zlog, xcfmalloc).");

    public static final ConfigOption<MemorySize> PAGE_CACHE_SIZE =
            key("state.backend.zstate.page-cache-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("8mb"))
                    .withDescription(
                            "Heap memory of each keyed backend's page cache (decompressed hot pages). At least"
                                    + " eight pages, at most a quarter of the TaskManager's task heap"
                                    + " (taskmanager.memory.task.heap.size, or the JVM heap where that is unset).");

    public static final ConfigOption<Double> ENTRY_CACHE_FRACTION =
            key("state.backend.zstate.entry-cache-fraction")
                    .doubleType()
                    .defaultValue(0.25)
                    .withDescription(
                            "The most of the page cache's heap (page-cache-size) that may keep hot entries rather"
                                    + " than hot pages: serialized key and value, one record each, in front of the"
                                    + " pages, so a hot key stops paying for its cold neighbours and a write to a"
                                    + " cached key reads no page (it is written into its page when it leaves the"
                                    + " cache). The cache starts at a 64th of this and grows while its hits pay for"
                                    + " it, shrinking back when they do not; a key is admitted at its second miss,"
                                    + " less often while admissions do not pay. Point accesses of value, list,"
                                    + " reducing and aggregating states use it; map entries go to the pages directly,"
                                    + " and a backend with map states only keeps the whole page cache for pages. A"
                                    + " cache that pays for nothing at its least size sleeps (its records written"
                                    + " back, accesses passing it by but for one in 64 it samples) until a hot set"
                                    + " shows, so workloads without one pay no lookups. 0 turns it off; at most 0.9,"
                                    + " and the pages keep at least eight pages.");

    public static final ConfigOption<Double> WRITE_BUFFER_FRACTION =
            key("state.backend.zstate.write-buffer-fraction")
                    .doubleType()
                    .defaultValue(0.25)
                    .withDescription(
                            "The part of the page cache's heap (page-cache-size) where writes wait whose page is"
                                    + " in RocksDB, unless the page was used again soon twice in a row (its refault"
                                    + " distance short of an eighth of the pages in memory), or whose page is not in"
                                    + " the page cache (write-buffer-waits-for): a map's put and"
                                    + " remove, a value's update, a list's add are kept as records grouped by their"
                                    + " bucket instead of faulting the page in, go on to RocksDB as merges when the"
                                    + " buffer needs room, and are applied together when anything reads that bucket"
                                    + " and before an iteration over key-groups; a checkpoint leaves them waiting."
                                    + " The buffer takes its memory from the page cache at its first waiting write,"
                                    + " starts at a sixteenth of this and doubles while it pays: a state that fits its"
                                    + " pool never uses it. With state four times the pool the state suite's blind"
                                    + " writes gain 3-4x (and beat tuned RocksDB); pages written again soon come back"
                                    + " as without it (the counter example at 16mb runs even). 0 turns it off; with"
                                    + " the entry cache's fraction at most 0.9, and the pages keep at least eight"
                                    + " pages.");

    public static final ConfigOption<String> WRITE_BUFFER_WAITS_FOR =
            key("state.backend.zstate.write-buffer-waits-for")
                    .stringType()
                    .defaultValue(io.zstate.pagestore.PageStoreConfig.SPILLED_PAGES)
                    .withDescription(
                            "Which writes wait in the write buffer (write-buffer-fraction): 'spilled-pages' (the"
                                    + " default) those whose bucket's page is in RocksDB alone (unless it was used"
                                    + " again soon twice in a row: write-buffer-fraction); when the buffer needs"
                                    + " room they go on to RocksDB as one merge per bucket, reading nothing, and come"
                                    + " back when the bucket is next read. 'uncached-pages' those whose page is not"
                                    + " in the page cache, in the pool too, where a fault then serves several writes"
                                    + " (the state suite's map writes gain 1.1-1.3x, but reads of a state so written"
                                    + " lose 10-12% in the pool and up to half with state four times the pool: they"
                                    + " apply the writes that waited, and the buffer grew into the page cache).");

    public static final ConfigOption<Double> RAW_POOL_FILL =
            key("state.backend.zstate.raw-pool-fill")
                    .doubleType()
                    .defaultValue(0.8)
                    .withDescription(
                            "The pool's fill line, a fraction of its budget: while the pool's frames in use stay"
                                    + " below it, pages leaving the page cache are kept in the pool uncompressed, the"
                                    + " way the kernel's page cache takes free memory: faulting such a page in is a"
                                    + " copy, and storing it costs no compression. At or above the line a store"
                                    + " compresses its page (a state too large stays partly raw), and near the"
                                    + " pool's budget raw copies are compressed where they are before anything is"
                                    + " written to RocksDB (which holds pages compressed either way). 0 keeps every"
                                    + " page compressed;"
                                    + " at most " + io.zstate.pagestore.PageStoreConfig.MAX_RAW_POOL_FILL + ".");

    public static final ConfigOption<MemorySize> POOL_SIZE =
            key("state.backend.zstate.pool-size")
                    .memoryType()
                    .noDefaultValue()
                    .withDescription(
                            "Off-heap memory of the compressed pool. When not set (the default), the pool takes"
                                    + " the operator's share of the slot's managed memory"
                                    + " (taskmanager.memory.managed.*), shared by the keyed backends of the slot."
                                    + " When set, at most the slot's managed memory.");

    public static final ConfigOption<MemorySize> FRAME_SIZE =
            key("state.backend.zstate.frame-size")
                    .memoryType()
                    .defaultValue(MemorySize.parse("4kb"))
                    .withDescription("Frame size of the pool: a power of two from 4kb to 64kb.");

    public static final ConfigOption<Double> BOUNCER_RATIO =
            key("state.backend.zstate.bouncer-ratio")
                    .doubleType()
                    .defaultValue(1.2)
                    .withDescription(
                            "Pages that compress worse than this ratio skip the pool and go to the spill store"
                                    + " uncompressed. At 1.0 only pages that do not compress at all are bounced.");

    public static final ConfigOption<Integer> RECLAIM_BATCH_FRAMES =
            key("state.backend.zstate.reclaim-batch-frames")
                    .intType()
                    .defaultValue(16)
                    .withDescription("Frames the reaper frees each time the pool is full; with the background reaper,"
                            + " also the frames it writes back at a time, and half the low mark (two batches of free"
                            + " frames) under which it starts.");

    /** The values {@link #BACKGROUND_REAPER} takes. */
    public static final java.util.List<String> BACKGROUND_REAPER_VALUES = java.util.List.of("auto", "true", "false");

    public static final ConfigOption<String> BACKGROUND_REAPER =
            key("state.backend.zstate.background-reaper")
                    .stringType()
                    .defaultValue("auto")
                    .withDescription(
                            "A thread per slot (kswapd's part) that compresses dirty pages of the page cache"
                                    + " ahead of their eviction; the task then stores the compressed copies and its"
                                    + " evictions only drop clean pages: 'true', 'false', or 'auto' (the default):"
                                    + " on when the machine has two cores beyond one per task slot, one for the"
                                    + " reaper and one for the spill stores' RocksDB flushes and compactions. On two"
                                    + " cores and one slot it does not pay: writes with the state in the pool 0.90-0.98x"
                                    + " (pages kept raw leave it little to compress, and the hand-off costs what it"
                                    + " saves), with state four times the pool 0.67-1.06x (it takes RocksDB's core);"
                                    + " with as many busy task threads as cores it competes with them (0.72-0.80x)."
                                    + " On, it also writes the pool's coldest pages back to RocksDB (zsmalloc pools:"
                                    + " an eviction under two reclaim batches of free frames hands it copies, a later"
                                    + " one frees the frames); off, the task's thread does. The thread balances the"
                                    + " slot's pools ('"
                                    + "state.backend.zstate.slot-pool-balancing') whatever this option says.");

    public static final ConfigOption<Double> REAPER_CPU_LIMIT =
            key("state.backend.zstate.reaper-cpu-limit")
                    .doubleType()
                    .defaultValue(1.0)
                    .withDescription(
                            "The most CPU the slot's reaper thread (its compression and its pool balancing) may"
                                    + " use, as a fraction of one core, from 0.05 to 1 (the default: no bound): past"
                                    + " its share of each 100 ms it sleeps, and the tasks store and reclaim their"
                                    + " pages themselves meanwhile, as they do when it falls behind. Gauges"
                                    + " reaperCpuNanos and reaperThrottledNanos.");

    public static final ConfigOption<Boolean> SLOT_POOL_BALANCING =
            key("state.backend.zstate.slot-pool-balancing")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Whether the keyed backends of a slot (several stateful operators, slot sharing) pass"
                                    + " pool memory to each other: when one backend's pool is short of frames the"
                                    + " others hold, the slot's reaper thread writes back frames of the pool that"
                                    + " has the least demand (pages faulted in and stored) per frame it holds, if less"
                                    + " than half the short one's, to"
                                    + " that backend's RocksDB, so an idle operator's memory goes to a busy one. Off:"
                                    + " a backend keeps the frames it took until it frees them, and the first to"
                                    + " fill the pool keeps it. Only with the pool in managed memory (no 'pool-size').");

    public static final ConfigOption<Boolean> TIMER_HEAP =
            key("state.backend.zstate.timer-heap")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Whether Flink's timers are kept in zstate's timer heap (the default): a four-ary heap"
                                    + " of the timers' timestamps in a primitive array, beside a set of the timers in"
                                    + " an open-addressing table. Off: Flink's heap queue (a binary heap that compares"
                                    + " timer objects, and a hash map per key-group). Both live on the task's heap,"
                                    + " as Flink's heap timers do, and checkpoint in Flink's format, so the setting"
                                    + " may change between restores.");

    public static final ConfigOption<Double> SPILL_MEMORY_FRACTION =
            key("state.backend.zstate.spill-memory-fraction")
                    .doubleType()
                    .defaultValue(0.1)
                    .withDescription(
                            "The share of the slot's managed memory for zstate given to the RocksDB spill stores'"
                                    + " memtables, counted for the whole slot by one write-buffer manager as Flink's"
                                    + " RocksDB backend shares its memory (at least 1mb, even in a smaller slot); they"
                                    + " read without a block cache, the pool holding the pages worth keeping. The pool"
                                    + " gets the rest. With pool-size set, each spill store gets this"
                                    + " share of pool-size in addition, of its own. Between 0 and 1, exclusive.");

    public static final ConfigOption<MemorySize> DELTA_MEMORY =
            key("state.backend.zstate.incremental.delta-memory")
                    .memoryType()
                    .defaultValue(MemorySize.parse("64mb"))
                    .withDescription(
                            "With incremental checkpoints ('execution.checkpointing.incremental'), the task heap"
                                    + " per keyed backend that holds the entries written since the last completed"
                                    + " checkpoint (each key once, its newest value): what the next checkpoint"
                                    + " writes. When they outgrow it, the next checkpoint is a full one. The log"
                                    + " being written and those kept for unconfirmed checkpoints are bounded by it"
                                    + " each; their arrays can hold up to twice their live records.");

    public static final ConfigOption<Double> CONSOLIDATE_RATIO =
            key("state.backend.zstate.incremental.consolidate-ratio")
                    .doubleType()
                    .defaultValue(0.5)
                    .withDescription(
                            "With incremental checkpoints, a checkpoint writes a new full base instead of"
                                    + " another delta once the deltas since the base add up to this share of the"
                                    + " base's size, so a restore replays a short chain. Above 0.");

    public static final ConfigOption<String> POOL_TRACE_DIRECTORY =
            key("state.backend.zstate.debug.pool-trace-directory")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "A measuring tool, off by default: a directory where each keyed backend's pool"
                                    + " records the requests it sees (stores, frees, reads, evictions) into a file"
                                    + " of its own, for the allocator replay (mvn -q -DskipTests -Ptrace-replay"
                                    + " verify). Costs a map lookup and a few bytes of I/O per pool request.");

    public static final ConfigOption<String> SPILL_DIRECTORY =
            key("state.backend.zstate.spill-directory")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Directory of the RocksDB spill stores (the swap device). Defaults to the"
                                    + " TaskManager's temporary working directory.");
}

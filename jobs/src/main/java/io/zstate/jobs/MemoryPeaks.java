package io.zstate.jobs;

import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Peaks of the JVM's heap use and direct buffers, sampled by whoever calls {@link #sample()}
 * (the runner's progress thread), and the process's peak resident set, which the kernel keeps
 * (VmHWM in /proc/self/status) and which includes native memory such as RocksDB's.
 */
final class MemoryPeaks {

    private static final Path STATUS = Path.of("/proc/self/status");

    private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    private final BufferPoolMXBean direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
            .filter(pool -> pool.getName().equals("direct"))
            .findFirst()
            .orElse(null);
    private final AtomicLong peakHeap = new AtomicLong();
    private final AtomicLong peakDirect = new AtomicLong();

    /** Takes one sample of heap and direct memory in use. */
    void sample() {
        peakHeap.accumulateAndGet(memory.getHeapMemoryUsage().getUsed(), Math::max);
        if (direct != null) {
            peakDirect.accumulateAndGet(direct.getMemoryUsed(), Math::max);
        }
    }

    /** The peaks so far; the RSS peak is the process's since it started. */
    RunResult.Memory peaks() {
        return new RunResult.Memory(peakHeap.get(), direct == null ? -1 : peakDirect.get(), peakRss());
    }

    /** The process's peak resident set size in bytes (VmHWM), or -1 where /proc/self/status has none. */
    static long peakRss() {
        if (!Files.isReadable(STATUS)) {
            return -1;
        }
        try {
            for (String line : Files.readAllLines(STATUS)) {
                // "VmHWM:    123456 kB"
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring("VmHWM:".length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}

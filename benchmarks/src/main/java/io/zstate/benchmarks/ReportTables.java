package io.zstate.benchmarks;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/** Prints the allocator report's tables: phases, compaction, reclaim, same-data memory. */
final class ReportTables {

    private ReportTables() {}

    static void print(List<PoolResult> results, long budgetFrames, PrintStream out) {
        out.printf(Locale.ROOT, "Utilization and metadata (budget %d frames of 4096 B)%n", budgetFrames);
        out.printf(Locale.ROOT, "%-12s %-12s %9s %8s %12s %7s %9s %11s%n",
                "allocator", "phase", "objects", "frames", "payload B", "util", "meta KiB", "meta B/obj");
        for (PoolResult r : results) {
            phaseRow(out, r, "fill", r.fill());
            phaseRow(out, r, "free 50%", r.afterFree());
            phaseRow(out, r, "compact", r.afterCompact());
        }

        out.printf(Locale.ROOT, "%nReads of every object left after compaction, and the pool's headers in the frames%n");
        out.printf(Locale.ROOT, "%-12s %9s %13s %15s %15s %16s%n", "allocator", "reads", "copies/read",
                "reads in pieces", "in-frame B/obj", "on-heap B/obj");
        for (PoolResult r : results) {
            PhaseStats v = r.afterVerify();
            out.printf(Locale.ROOT, "%-12s %9d %13.3f %14.2f%% %15.2f %16.2f%n", r.config().label(), v.reads(),
                    v.copiesPerRead(), 100 * v.splitReadShare(), r.fill().inFrameMetadataBytesPerObject(),
                    r.fill().metadataBytesPerObject());
        }

        out.printf(Locale.ROOT, "%nCompaction%n");
        out.printf(Locale.ROOT, "%-12s %15s %13s %16s%n", "allocator", "frames released", "objects moved",
                "objects verified");
        for (PoolResult r : results) {
            out.printf(Locale.ROOT, "%-12s %15d %13d %16d%n", r.config().label(), r.compactedFrames(),
                    r.movedObjects(), r.verifiedObjects());
        }

        out.printf(Locale.ROOT, "%nReclaim of a full pool with reclaim(1, evictor) until empty%n");
        out.printf(Locale.ROOT, "%-12s %8s %15s %15s %12s %15s %13s %12s %8s%n", "allocator", "calls",
                "frames released", "objects evicted", "objects/frm", "max frames/call", "calls over 1",
                "whole frames", "emptied");
        for (PoolResult r : results) {
            ReclaimResult c = r.reclaim();
            out.printf(Locale.ROOT, "%-12s %8d %15d %15d %12.3f %15d %13d %12s %8s%n", r.config().label(),
                    c.calls(), c.framesReleased(), c.objectsEvicted(), c.objectsPerFrame(), c.maxFramesPerCall(),
                    c.callsOverMax(), c.wholeFrames() ? "yes" : "no", c.emptied() ? "yes" : "no");
        }

        PoolResult zbud = results.stream().filter(r -> r.config().type().equals("zbud")).findFirst().orElse(null);
        if (zbud == null) {
            return;
        }
        out.printf(Locale.ROOT, "%nMemory for the same data (the first N objects of the fill sequence)%n");
        out.printf(Locale.ROOT, "%-12s %9s %11s %15s %17s%n", "vs zbud", "N", "zbud frames", "its frames",
                "zbud / it");
        for (PoolResult r : results) {
            if (r.config().type().equals("zbud")) {
                continue;
            }
            int n = (int) Math.min(zbud.fill().objects(), r.fill().objects());
            if (n == 0) {
                continue;
            }
            int zf = zbud.framesFor(n);
            int sf = r.framesFor(n);
            out.printf(Locale.ROOT, "%-12s %9d %11d %15d %17.3f%n", r.config().label(), n, zf, sf, (double) zf / sf);
        }
        for (PoolResult r : results) {
            if (r.classTable() != null) {
                out.printf(Locale.ROOT, "%n%s after compaction (ZPools.describe):%n%s", r.config().label(),
                        r.classTable());
            }
        }
    }

    private static void phaseRow(PrintStream out, PoolResult r, String phase, PhaseStats s) {
        out.printf(Locale.ROOT, "%-12s %-12s %9d %8d %12d %6.2f%% %9.1f %11.2f%n", r.config().label(), phase,
                s.objects(), s.frames(), s.payloadBytes(), 100 * s.utilization(),
                s.metadataBytes() / 1024.0, s.metadataBytesPerObject());
    }
}

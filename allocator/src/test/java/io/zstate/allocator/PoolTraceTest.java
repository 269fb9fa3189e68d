package io.zstate.allocator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;

/** A traced pool records what it was asked, in order, and the trace reads back as written. */
class PoolTraceTest {

    @Test
    void aTracedPoolRecordsStoresReadsFreesAndEvictions() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                ZPool pool = ZPools.tracing(ZPools.zsmalloc(source), new PoolTrace.Writer(bytes, 4096))) {
            long a = pool.malloc(100);
            long b = pool.malloc(3000);
            long c = pool.malloc(700);
            pool.read(b, new byte[3000], 0);
            pool.free(a);
            pool.reclaim(16, (handle, data) -> true); // evicts b and c
            assertThat(pool.stats().objects()).isZero();
            pool.malloc(50);
        }
        List<String> events = events(bytes);
        assertThat(events.subList(0, 5)).containsExactly("M0:100", "M1:3000", "M2:700", "R1", "F0");
        assertThat(events.subList(5, 7)).containsExactlyInAnyOrder("E1", "E2");
        assertThat(events.get(7)).isEqualTo("M3:50");
        assertThat(events).as("the end mark ends the events").hasSize(8);
    }

    /** A traced pool isolates as its pool does, and a completion's frees are recorded as evictions. */
    @Test
    void aTracedPoolRecordsWhatACompletedIsolationFreedAsEvictions() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (FrameSource source = new FrameSource(1L << 20, 4096);
                ZPool pool = ZPools.tracing(ZPools.zsmalloc(source), new PoolTrace.Writer(bytes, 4096))) {
            long a = pool.malloc(100);
            long b = pool.malloc(3000);
            List<Long> copied = new ArrayList<>();
            assertThat(pool.isolateColdest(16, (handle, object) -> copied.add(handle))).isPositive();
            assertThat(copied).containsExactlyInAnyOrder(a, b);
            assertThat(pool.isolatedFrames()).isPositive();
            pool.completeIsolated(handle -> handle == b); // b written back, a kept
            assertThat(pool.isolatedFrames()).isZero();
            assertThat(pool.stats().objects()).isEqualTo(1);
        }
        assertThat(events(bytes)).containsExactly("M0:100", "M1:3000", "E1");
    }

    /** A trace's events as code, id and (for a malloc) size: "M0:100", "F0", "E1". */
    private static List<String> events(ByteArrayOutputStream bytes) throws IOException {
        List<String> events = new ArrayList<>();
        try (PoolTrace.Reader reader = new PoolTrace.Reader(new ByteArrayInputStream(bytes.toByteArray()))) {
            assertThat(reader.frameSize()).isEqualTo(4096);
            while (reader.next()) {
                events.add((char) reader.code() + "" + reader.id() + (reader.code() == PoolTrace.MALLOC ? ":" + reader.size() : ""));
            }
        }
        return events;
    }

    @Test
    void aFailingTraceNeverFailsThePoolAndReadsAsCutShort() throws IOException {
        ByteArrayOutputStream kept = new ByteArrayOutputStream();
        java.io.OutputStream full = new java.io.OutputStream() { // a disk that fills up after 2 KiB
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (kept.size() + len > 2048) {
                    throw new IOException("disk full");
                }
                kept.write(b, off, len);
            }
        };
        PoolTrace.Writer writer = new PoolTrace.Writer(full, 4096);
        try (FrameSource source = new FrameSource(64L << 20, 4096);
                ZPool pool = ZPools.tracing(ZPools.zsmalloc(source), writer)) {
            long handed = 0;
            for (int i = 0; i < 200_000; i++) {
                long h = pool.malloc(16 + i % 500);
                assertThat(h).isNotEqualTo(ZPool.NO_SPACE);
                handed++;
                if (i % 3 == 0) {
                    pool.free(h);
                    handed--;
                }
            }
            assertThat(writer.failure()).as("the trace failed").hasMessage("disk full");
            assertThat(pool.stats().objects()).as("every object is the caller's").isEqualTo(handed);
        }
        assertThatThrownBy(() -> {
            try (PoolTrace.Reader reader = new PoolTrace.Reader(new ByteArrayInputStream(kept.toByteArray()))) {
                while (reader.next()) {
                    // read to the cut
                }
            }
        }).isInstanceOf(IOException.class).hasMessageContaining("cut short");
    }

    @Test
    void aFileThatIsNotATraceIsReportedWithWhatWasExpected() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
            gz.write(new byte[] {1, 2, 3, 4, 5, 0, 0, 16, 0});
        }
        assertThatThrownBy(() -> new PoolTrace.Reader(new ByteArrayInputStream(bytes.toByteArray())))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("not a zstate pool trace")
                .hasMessageContaining("expected 0x5a545243");
    }
}

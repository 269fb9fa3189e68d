package io.zstate.flink;

import java.io.IOException;
import java.util.List;
import org.apache.flink.runtime.state.CheckpointStateOutputStream;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.StreamStateHandle;

/**
 * Checkpoint streams of another factory, each write shown first to the stream's own {@link
 * Watch} (a new one per stream) with the stream's byte count so far: tests break a stream after some bytes (the stream fault test) or
 * slow it down (the checkpoint stress test). No fast duplication.
 */
final class WatchedStreams implements CheckpointStreamFactory {

    /** Sees each write before it happens; may throw (a broken stream) or sleep (a slow one). */
    interface Watch {
        void beforeWrite(long writtenSoFar, int bytes) throws IOException;
    }

    private final CheckpointStreamFactory inner;
    private final java.util.function.Supplier<Watch> watches;

    WatchedStreams(CheckpointStreamFactory inner, java.util.function.Supplier<Watch> watches) {
        this.inner = inner;
        this.watches = watches;
    }

    @Override
    public CheckpointStateOutputStream createCheckpointStateOutputStream(CheckpointedStateScope scope)
            throws IOException {
        CheckpointStateOutputStream out = inner.createCheckpointStateOutputStream(scope);
        Watch watch = watches.get();
        return new CheckpointStateOutputStream() {
            private long written;

            private void watched(int bytes) throws IOException {
                watch.beforeWrite(written, bytes);
                written += bytes;
            }

            @Override
            public void write(int b) throws IOException {
                watched(1);
                out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                watched(len);
                out.write(b, off, len);
            }

            @Override
            public StreamStateHandle closeAndGetHandle() throws IOException {
                return out.closeAndGetHandle();
            }

            @Override
            public long getPos() throws IOException {
                return out.getPos();
            }

            @Override
            public void flush() throws IOException {
                out.flush();
            }

            @Override
            public void sync() throws IOException {
                out.sync();
            }

            @Override
            public void close() throws IOException {
                out.close();
            }
        };
    }

    @Override
    public boolean canFastDuplicate(StreamStateHandle handle, CheckpointedStateScope scope) {
        return false;
    }

    @Override
    public List<StreamStateHandle> duplicate(List<StreamStateHandle> handles, CheckpointedStateScope scope) {
        throw new UnsupportedOperationException("no fast duplication");
    }
}

package io.zstate.allocator;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * A pool trace: the requests a pool saw, in order, allocator-independent, for replaying against
 * every allocator (the replay simulator in {@code benchmarks}). Objects are numbered in the order
 * they were stored.
 *
 * <pre>
 * File: gzip of
 *   magic "ZTRC" (4 bytes), version 1 (byte), frame size (int)
 *   events, each a code byte and varints (7 bits a byte, low first):
 *     'M' id size    an object stored (malloc and write): a page going into the pool
 *     'F' id         an object freed by its owner (the page changed or was freed)
 *     'R' id         an object read (a pool hit: the page decompressed into the cache)
 *     'E' id         an object evicted by the pool's own reclaim (written back to RocksDB)
 *     'S' id         an object read by a checkpoint (copied for its snapshot; no page-cache effect)
 *     'X' 0          the end: a trace without it was cut short
 *   ids are 0, 1, 2, ... in the order of the 'M' events
 * </pre>
 *
 * Record with a pool large enough that reclaim never runs, and the trace is what the page store
 * asked, whatever allocator recorded it. Not thread-safe.
 */
public final class PoolTrace {

    public static final byte MALLOC = 'M';
    public static final byte FREE = 'F';
    public static final byte READ = 'R';
    public static final byte EVICT = 'E';
    public static final byte SNAPSHOT_READ = 'S';
    private static final byte END = 'X';
    private static final int MAGIC = 0x5A545243; // "ZTRC"
    private static final byte VERSION = 1;

    private PoolTrace() {}

    /**
     * Writes events to a stream (gzip inside). A failing stream (a full disk) never reaches the
     * pool's caller: the writer stops, keeps the first failure ({@link #failure()}) and logs it
     * once; the trace then lacks its end mark, so a replay reports it as cut short.
     */
    public static final class Writer implements Closeable {
        private static final System.Logger LOG = System.getLogger(PoolTrace.class.getName());
        private final DataOutputStream out;
        private IOException failure;

        public Writer(OutputStream target, int frameSize) throws IOException {
            this.out = new DataOutputStream(new BufferedOutputStream(new GZIPOutputStream(target, 1 << 16), 1 << 16));
            out.writeInt(MAGIC);
            out.writeByte(VERSION);
            out.writeInt(frameSize);
        }

        public void event(byte code, long id) {
            if (failure != null) {
                return;
            }
            try {
                out.writeByte(code);
                varint(id);
            } catch (IOException | UncheckedIOException e) {
                failed(e);
            }
        }

        public void malloc(long id, int size) {
            if (failure != null) {
                return;
            }
            try {
                out.writeByte(MALLOC);
                varint(id);
                varint(size);
            } catch (IOException | UncheckedIOException e) {
                failed(e);
            }
        }

        /** The first write that failed, or null. */
        public IOException failure() {
            return failure;
        }

        private void failed(Exception e) {
            failure = e instanceof IOException io ? io : ((UncheckedIOException) e).getCause();
            LOG.log(System.Logger.Level.WARNING, "zstate: writing the pool trace failed; tracing stops here and the"
                    + " trace will read as cut short. The pool goes on.", failure);
        }

        private void varint(long v) throws IOException {
            while ((v & ~0x7FL) != 0) {
                out.writeByte((int) (v & 0x7F) | 0x80);
                v >>>= 7;
            }
            out.writeByte((int) v);
        }

        @Override
        public void close() throws IOException {
            if (failure == null) {
                event(END, 0);
            }
            out.close();
        }
    }

    /** Reads the events of a trace one by one. */
    public static final class Reader implements Closeable {
        private final DataInputStream in;
        private final int frameSize;
        private byte code;
        private long id;
        private int size;

        public Reader(InputStream source) throws IOException {
            int magic;
            byte version;
            try {
                this.in = new DataInputStream(new BufferedInputStream(new GZIPInputStream(source, 1 << 16), 1 << 16));
                magic = in.readInt();
                version = in.readByte();
            } catch (EOFException e) {
                throw new IOException("the pool trace ends before its header: the recording was cut short (a"
                        + " backend not closed, or a full disk); replay a complete trace", e);
            }
            if (magic != MAGIC || version != VERSION) {
                throw new IOException("not a zstate pool trace (version " + VERSION + "): magic 0x"
                        + Integer.toHexString(magic) + ", version " + version + "; expected 0x"
                        + Integer.toHexString(MAGIC) + ", " + VERSION);
            }
            this.frameSize = in.readInt();
        }

        /** The frame size of the pool that recorded the trace. */
        public int frameSize() {
            return frameSize;
        }

        /**
         * Moves to the next event; false at the end mark.
         *
         * @throws IOException if the trace ends without its end mark (the recording was cut short)
         *     or holds an unknown event
         */
        public boolean next() throws IOException {
            int c;
            try {
                c = in.readByte();
                code = (byte) c;
                id = varint();
                size = code == MALLOC ? (int) varint() : 0;
            } catch (EOFException e) {
                throw new IOException("the pool trace ends without its end mark: the recording was cut short (a"
                        + " backend not closed, or a full disk); replay a complete trace", e);
            }
            if (code == END) {
                return false;
            }
            if (code != MALLOC && code != FREE && code != READ && code != EVICT && code != SNAPSHOT_READ) {
                throw new IOException("the pool trace is corrupt: event code " + c + ", expected one of M F R E S X");
            }
            return true;
        }

        public byte code() {
            return code;
        }

        public long id() {
            return id;
        }

        /** The size of an 'M' event's object. */
        public int size() {
            return size;
        }

        private long varint() throws IOException {
            long v = 0;
            for (int shift = 0; ; shift += 7) {
                int b = in.readUnsignedByte();
                v |= (long) (b & 0x7F) << shift;
                if ((b & 0x80) == 0) {
                    return v;
                }
            }
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}

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
    private static final int MAGIC = 0x5A545243; // "ZTRC"
    private static final byte VERSION = 1;

    private PoolTrace() {}

    /** Writes events to a stream (gzip inside). */
    public static final class Writer implements Closeable {
        private final DataOutputStream out;

        public Writer(OutputStream target, int frameSize) throws IOException {
            this.out = new DataOutputStream(new BufferedOutputStream(new GZIPOutputStream(target, 1 << 16), 1 << 16));
            out.writeInt(MAGIC);
            out.writeByte(VERSION);
            out.writeInt(frameSize);
        }

        public void event(byte code, long id) {
            try {
                out.writeByte(code);
                varint(id);
            } catch (IOException e) {
                throw new UncheckedIOException("writing the pool trace failed", e);
            }
        }

        public void malloc(long id, int size) {
            try {
                out.writeByte(MALLOC);
                varint(id);
                varint(size);
            } catch (IOException e) {
                throw new UncheckedIOException("writing the pool trace failed", e);
            }
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
            this.in = new DataInputStream(new BufferedInputStream(new GZIPInputStream(source, 1 << 16), 1 << 16));
            int magic = in.readInt();
            byte version = in.readByte();
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

        /** Moves to the next event; false at the end. */
        public boolean next() throws IOException {
            int c;
            try {
                c = in.readByte();
            } catch (EOFException e) {
                return false;
            }
            code = (byte) c;
            id = varint();
            size = code == MALLOC ? (int) varint() : 0;
            if (code != MALLOC && code != FREE && code != READ && code != EVICT) {
                throw new IOException("the pool trace is corrupt: event code " + c + ", expected one of M F R E");
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

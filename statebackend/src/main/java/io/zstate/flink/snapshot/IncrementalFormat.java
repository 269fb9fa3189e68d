package io.zstate.flink.snapshot;

import io.zstate.flink.ZStateTables;
import io.zstate.pagestore.delta.DeltaLog;
import io.zstate.pagestore.Varints;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeOffsets;

/**
 * The byte layouts of zstate's incremental checkpoints (formats 2 and 3), written and read here only.
 *
 * <pre>
 * An incremental checkpoint is Flink's IncrementalRemoteKeyedStateHandle:
 *   shared files   base    format 3: the store's pages as they are stored (PAGE_BASE, below);
 *                          format 2: a full snapshot in the canonical key-group layout (BASE),
 *                          Snappy-compressed per key-group as Flink's snapshot compression does
 *                  deltas  the entries written since the checkpoint before, oldest first
 *   private file   timers  the heap timers, whole, in the canonical layout (if there are any)
 *   meta file      (the handle's metaStateHandle, exclusive to the checkpoint)
 *
 * meta file:   int META_MAGIC, int version, int files,
 *              files x (UTF name (the shared file's local path), byte BASE | DELTA),
 *              offsets (the base's key-group offsets),
 *              byte 1 + UTF name + offsets (the timers file) | byte 0 (none)
 * offsets:     int firstKeyGroup, int keyGroups, keyGroups x long
 * delta file:  int DELTA_MAGIC, int version,
 *              Flink's KeyedBackendSerializationProxy (key serializer, every key-value state's meta
 *              info with its seed; records name states by their index in it; its compression flag
 *              says whether the records are Snappy-compressed, as zstate writes them),
 *              records: byte op (PUT, APPEND, DELETE, DELETE_PREFIX; 0 ends), varint state,
 *              varint key-group, varint key length, key, varint prefix length,
 *              and for PUT and APPEND: varint value length, value
 * page base:   int PAGES_MAGIC, int version, int page size,
 *              Flink's KeyedBackendSerializationProxy (as in a delta; its compression flag says
 *              whether each key-group is a zstd frame of its own, as zstate writes them),
 *              per key-group (at the offset the meta file gives): per state with entries there
 *              varint state + 1 and the state's PageImage; varint 0 ends the key-group
 * </pre>
 *
 * A restore replays a delta's records in order onto the base (filtered to its key-groups):
 * PUT and DELETE decide a key, APPEND adds to it, DELETE_PREFIX removes a map's entries.
 */
public final class IncrementalFormat {

    static final int META_MAGIC = 0x7A535449; // "zSTI"
    static final int DELTA_MAGIC = 0x7A535444; // "zSTD"
    public static final byte BASE = 1;
    public static final byte DELTA = 2;
    public static final byte PAGE_BASE = 3;
    static final int PAGES_MAGIC = 0x7A535450; // "zSTP"
    static final byte END = 0;

    private IncrementalFormat() {}

    /** One shared file of a checkpoint: its local path (the name its handle is listed under) and kind. */
    public record FileRef(String name, byte kind) {}

    /**
     * What a meta file says: the shared files in order (the base first), the base's offsets, and
     * the timers file's name and offsets (both null without timers).
     */
    public record Meta(List<FileRef> files, KeyGroupRangeOffsets baseOffsets, String timers,
            KeyGroupRangeOffsets timerOffsets) {}

    /** The name of the private file of a checkpoint's timers. */
    public static final String TIMERS = "zstate-timers";

    static void writeMeta(DataOutputView out, List<FileRef> files, KeyGroupRangeOffsets baseOffsets,
            KeyGroupRangeOffsets timerOffsets) throws IOException {
        out.writeInt(META_MAGIC);
        out.writeInt(ZStateTables.FORMAT_VERSION);
        out.writeInt(files.size());
        for (FileRef file : files) {
            out.writeUTF(file.name());
            out.writeByte(file.kind());
        }
        writeOffsets(out, baseOffsets);
        out.writeByte(timerOffsets == null ? 0 : 1);
        if (timerOffsets != null) {
            out.writeUTF(TIMERS);
            writeOffsets(out, timerOffsets);
        }
    }

    private static void writeOffsets(DataOutputView out, KeyGroupRangeOffsets offsets) throws IOException {
        KeyGroupRange range = offsets.getKeyGroupRange();
        out.writeInt(range.getStartKeyGroup());
        out.writeInt(range.getNumberOfKeyGroups());
        for (int kg = range.getStartKeyGroup(); kg <= range.getEndKeyGroup(); kg++) {
            out.writeLong(offsets.getKeyGroupOffset(kg));
        }
    }

    private static KeyGroupRangeOffsets readOffsets(DataInputView in) throws IOException {
        int first = in.readInt();
        int groups = in.readInt();
        long[] offsets = new long[groups];
        for (int i = 0; i < groups; i++) {
            offsets[i] = in.readLong();
        }
        return new KeyGroupRangeOffsets(KeyGroupRange.of(first, first + groups - 1), offsets);
    }

    /**
     * Reads a meta file; {@code where} names it in errors. Throws if it is not one (another
     * backend's incremental checkpoint) or of a newer format.
     */
    public static Meta readMeta(DataInputView in, String where) throws IOException {
        try {
            return readMetaOrEof(in, where);
        } catch (java.io.EOFException e) {
            throw new IOException("The checkpoint's meta file " + where + " is truncated: it ends before the list of"
                    + " files and the base's key-group offsets it must hold", e);
        }
    }

    private static Meta readMetaOrEof(DataInputView in, String where) throws IOException {
        int magic = in.readInt();
        if (magic != META_MAGIC) {
            throw new IOException("The checkpoint's meta file " + where + " is not a zstate incremental checkpoint's"
                    + " (it starts with 0x" + Integer.toHexString(magic) + ", expected 0x"
                    + Integer.toHexString(META_MAGIC) + "): either another state backend (RocksDB, ForSt) wrote"
                    + " this checkpoint, and then take a canonical savepoint with that backend and restore zstate from"
                    + " it, or the file is corrupt.");
        }
        checkVersion(in.readInt(), where);
        int count = in.readInt();
        List<FileRef> files = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            files.add(new FileRef(in.readUTF(), in.readByte()));
        }
        KeyGroupRangeOffsets base = readOffsets(in);
        if (in.readByte() == 0) {
            return new Meta(files, base, null, null);
        }
        String timers = in.readUTF();
        return new Meta(files, base, timers, readOffsets(in));
    }

    static void writeDeltaHeader(DataOutputView out) throws IOException {
        out.writeInt(DELTA_MAGIC);
        out.writeInt(ZStateTables.FORMAT_VERSION);
    }

    /** Reads a delta file's header (its serialization proxy follows). */
    public static void readDeltaHeader(DataInputView in, String where) throws IOException {
        int magic = in.readInt();
        if (magic != DELTA_MAGIC) {
            throw new IOException("The delta file " + where + " of a zstate incremental checkpoint is corrupt: it"
                    + " starts with 0x" + Integer.toHexString(magic) + ", expected 0x" + Integer.toHexString(DELTA_MAGIC));
        }
        checkVersion(in.readInt(), where);
    }

    private static void checkVersion(int version, String where) throws IOException {
        if (version < 2) {
            throw new IOException("The incremental checkpoint file " + where + " is corrupt: it says format " + version
                    + ", but zstate wrote incremental checkpoints from format 2 on");
        }
        if (version > ZStateTables.FORMAT_VERSION) {
            throw new IOException("The incremental checkpoint file " + where + " is in zstate format " + version
                    + ", but this zstate reads incremental checkpoints of formats 2 to " + ZStateTables.FORMAT_VERSION
                    + ": restore it with the zstate version that wrote it (or a newer one), or from a canonical savepoint.");
        }
    }

    static void writePageBaseHeader(DataOutputView out, int pageSize) throws IOException {
        out.writeInt(PAGES_MAGIC);
        out.writeInt(ZStateTables.FORMAT_VERSION);
        out.writeInt(pageSize);
    }

    /** Reads a page base's header (its serialization proxy follows); returns its page size. */
    public static int readPageBaseHeader(DataInputView in, String where) throws IOException {
        int magic = in.readInt();
        if (magic != PAGES_MAGIC) {
            throw new IOException("The base file " + where + " of a zstate incremental checkpoint is corrupt: it"
                    + " starts with 0x" + Integer.toHexString(magic) + ", expected 0x" + Integer.toHexString(PAGES_MAGIC));
        }
        checkVersion(in.readInt(), where);
        int pageSize = in.readInt();
        if (pageSize < 1 || Integer.bitCount(pageSize) != 1) {
            throw new IOException("The base file " + where + " is corrupt: a page size of " + pageSize);
        }
        return pageSize;
    }

    /** Starts a state's page image in a page base's key-group. */
    static void writeImageOf(DataOutputView out, int state) throws IOException {
        Varints.write(out, state + 1);
    }

    /** Ends a page base's key-group. */
    static void writeKeyGroupEnd(DataOutputView out) throws IOException {
        Varints.write(out, 0);
    }

    /** The state whose page image follows in a page base's key-group, or -1 at its end. */
    public static int readImageOf(DataInputView in, String where) throws IOException {
        return Varints.read(in, where) - 1;
    }

    /** Writes one record (see the class comment). */
    static void writeRecord(DataOutputView out, byte op, int state, int keyGroup, byte[] bytes, int keyOffset,
            int keyLength, int prefixLength, int valueOffset, int valueLength) throws IOException {
        out.writeByte(op);
        Varints.write(out, state);
        Varints.write(out, keyGroup);
        Varints.write(out, keyLength);
        out.write(bytes, keyOffset, keyLength);
        Varints.write(out, prefixLength);
        if (op == DeltaLog.PUT || op == DeltaLog.APPEND) {
            Varints.write(out, valueLength);
            out.write(bytes, valueOffset, valueLength);
        }
    }

    static void writeEnd(DataOutputView out) throws IOException {
        out.writeByte(END);
    }

    /** A delta record as read back; its arrays are reused by the next read. */
    public static final class Record {
        public byte op;
        public int state;
        public int keyGroup;
        public byte[] key = new byte[64];
        public int keyLength;
        public int prefixLength;
        public byte[] value = new byte[256];
        public int valueLength;

        /** Reads the next record; false at the end of the file. */
        public boolean read(DataInputView in, String where) throws IOException {
            op = in.readByte();
            if (op == END) {
                return false;
            }
            if (op != DeltaLog.PUT && op != DeltaLog.APPEND && op != DeltaLog.DELETE && op != DeltaLog.DELETE_PREFIX) {
                throw new IOException("The delta file " + where + " is corrupt: a record of op " + op
                        + ", expected 1 to 4 (put, append, delete, delete-prefix) or 0 (end)");
            }
            state = Varints.read(in, where);
            keyGroup = Varints.read(in, where);
            keyLength = Varints.read(in, where);
            if (key.length < keyLength) {
                key = new byte[Math.max(keyLength, key.length * 2)];
            }
            in.readFully(key, 0, keyLength);
            prefixLength = Varints.read(in, where);
            valueLength = 0;
            if (op == DeltaLog.PUT || op == DeltaLog.APPEND) {
                valueLength = Varints.read(in, where);
                if (value.length < valueLength) {
                    value = new byte[Math.max(valueLength, value.length * 2)];
                }
                in.readFully(value, 0, valueLength);
            }
            if (prefixLength > keyLength) {
                throw new IOException("The delta file " + where + " is corrupt: a key of " + keyLength
                        + " bytes with a prefix of " + prefixLength);
            }
            return true;
        }
    }
}

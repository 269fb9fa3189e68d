package io.zstate.pagestore.snapshot;

import io.zstate.pagestore.EntryVisitor;
import io.zstate.pagestore.index.ChainWalker;
import io.zstate.pagestore.index.PageSource;
import io.zstate.pagestore.layout.SameFilled;
import io.zstate.pagestore.layout.StoredPage;
import io.zstate.pagestore.Varints;
import io.zstate.pagestore.tier.FrozenPages;
import io.zstate.pagestore.tier.PageCodec;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.BitSet;

/**
 * The pages of one table and key-group as a checkpoint holds them, written from a frozen view
 * and read back either by placing them (each page stored as the store path stores any page, under
 * the id the others refer to it by: no entry is decoded, hashed or re-inserted) or, where pages
 * cannot be placed, entry by entry. The one place this byte layout is written and read.
 *
 * <pre>
 * image:   varint heads, heads x varint page id     (the directory: a power of two of chain heads)
 *          pages, varint 0                           (every page the key-group's entries reach)
 *          varint map indexes                        (map roots among them)
 * page:    varint page id + 1, varint depth, byte SAME, long word
 *                                           | byte STORED, varint length, length bytes
 *          (STORED bytes are StoredPage's spill record: codec byte, then the page; written RAW,
 *          the whole page, for the file's stream compression; LZ4 is read as well)
 * </pre>
 *
 * Why raw pages and not the pool's LZ4 objects as they sit: LZ4 over one page leaves the
 * entries' keys, hashes and values barely compressed, and no stream compressor shrinks LZ4 output
 * again; raw pages through a zstd stream are about half the size (measured in {@code
 * docs/design.md}, incremental checkpoints), and compressing them into the pool again on restore
 * costs less than putting their entries anew.
 *
 * The pages written are those a walk over the key-group's entries touches (bucket chains with
 * their overflow pages, map indexes' nodes and leaves, blob chains), each once: exactly what the
 * entries need, so a key-group's image stands alone. Page ids are the store's own; pages refer
 * to each other by them, so a placed image keeps them (placing needs a store without pages).
 */
public final class PageImage {

    static final byte SAME = 0;
    static final byte STORED = 1;

    private PageImage() {}

    /**
     * Writes the image of one directory of a frozen view (see the class comment). Reuse one per
     * snapshot: it holds a walker and its buffers.
     */
    public static final class Writer {
        private final Recorder source;
        private final ChainWalker walker;
        private static final EntryVisitor IGNORE = (k, ko, kl, v, vo, vl) -> { };

        Writer(FrozenPages pages) {
            this.source = new Recorder(pages);
            this.walker = new ChainWalker(source, pages.pageSize());
        }

        void write(int[] directory, DataOutput out) throws IOException {
            Varints.write(out, directory.length);
            for (int head : directory) {
                Varints.write(out, head);
            }
            long roots = walker.mapRootsMet();
            source.begin(out);
            try {
                walker.forEachInDirectory(directory, IGNORE);
            } catch (UncheckedIOException e) {
                throw e.getCause();
            } finally {
                source.end();
            }
            Varints.write(out, 0);
            Varints.write(out, (int) (walker.mapRootsMet() - roots));
        }
    }

    /** Frozen pages as a page source that writes each page the first time a walk acquires it. */
    private static final class Recorder implements PageSource {
        private final FrozenPages pages;
        private final HeldPages held;
        private final BitSet seen = new BitSet();
        private int[] seenIds = new int[64];
        private int seenCount;
        private DataOutput out;

        Recorder(FrozenPages pages) {
            this.pages = pages;
            this.held = new HeldPages(pages.pageSize());
        }

        void begin(DataOutput out) {
            this.out = out;
        }

        void end() {
            for (int i = 0; i < seenCount; i++) {
                seen.clear(seenIds[i]);
            }
            seenCount = 0;
            held.clear();
            out = null;
        }

        @Override
        public byte[] acquire(int pageId) {
            byte[] page = pages.read(pageId, held.next());
            if (!seen.get(pageId)) {
                try {
                    writePage(pageId, page);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                seen.set(pageId);
                if (seenCount == seenIds.length) {
                    seenIds = Arrays.copyOf(seenIds, seenCount * 2);
                }
                seenIds[seenCount++] = pageId;
            }
            held.hold();
            return page;
        }

        private void writePage(int pageId, byte[] page) throws IOException {
            Varints.write(out, pageId + 1);
            Varints.write(out, pages.depth(pageId));
            if (SameFilled.is(page)) {
                out.writeByte(SAME);
                out.writeLong(SameFilled.word(page));
            } else {
                out.writeByte(STORED);
                Varints.write(out, 1 + page.length);
                out.writeByte(StoredPage.RAW);
                out.write(page);
            }
        }

        @Override
        public void release(int pageId) {
            held.release();
        }

        @Override
        public int depth(int pageId) {
            return pages.depth(pageId);
        }
    }

    /** Where an image's pages and directory go as they are read. */
    public interface Placement {
        void page(int pageId, int depth, byte[] stored, int offset, int length);

        void same(int pageId, int depth, long word);

        void directory(int[] heads, long mapIndexes);
    }

    /**
     * Reads one image into {@code placement}; {@code where} names the file and key-group in
     * errors.
     *
     * @throws IOException if the bytes are not an image (truncated, corrupt)
     */
    public static void read(DataInput in, Placement placement, String where) throws IOException {
        int count = Varints.read(in, where);
        if (count < 1 || Integer.bitCount(count) != 1 || count > 1 << 24) {
            throw new IOException("The page image " + where + " is corrupt: a directory of " + count
                    + " heads, expected a power of two up to 2^24");
        }
        int[] heads = new int[count];
        for (int i = 0; i < count; i++) {
            heads[i] = Varints.read(in, where);
        }
        byte[] stored = new byte[256];
        for (int id = Varints.read(in, where); id != 0; id = Varints.read(in, where)) {
            int depth = Varints.read(in, where);
            byte kind = in.readByte();
            if (kind == SAME) {
                placement.same(id - 1, depth, in.readLong());
            } else if (kind == STORED) {
                int length = Varints.read(in, where);
                if (length < 2 || length > 1 << 24) {
                    throw new IOException("The page image " + where + " is corrupt: page " + (id - 1) + " of "
                            + length + " stored bytes");
                }
                if (stored.length < length) {
                    stored = new byte[Math.max(length, stored.length * 2)];
                }
                in.readFully(stored, 0, length);
                placement.page(id - 1, depth, stored, 0, length);
            } else {
                throw new IOException("The page image " + where + " is corrupt: page " + (id - 1) + " of kind "
                        + kind + ", expected 0 (one word) or 1 (stored)");
            }
        }
        placement.directory(heads, Varints.read(in, where));
    }

    /**
     * Reads one image and visits its entries (where pages cannot be placed: another page size or
     * hash seed, or a store that holds pages already). The image's pages stay compressed on the
     * heap while its entries are walked: about a key-group's share of the checkpoint.
     */
    public static void forEachEntry(DataInput in, int pageSize, EntryVisitor visitor, String where)
            throws IOException {
        HeapPages pages = new HeapPages(pageSize);
        int[][] heads = new int[1][];
        read(in, new Placement() {
            @Override
            public void page(int pageId, int depth, byte[] stored, int offset, int length) {
                pages.put(pageId, depth, Arrays.copyOfRange(stored, offset, offset + length), 0);
            }

            @Override
            public void same(int pageId, int depth, long word) {
                pages.put(pageId, depth, null, word);
            }

            @Override
            public void directory(int[] directory, long mapIndexes) {
                heads[0] = directory;
            }
        }, where);
        try {
            new ChainWalker(pages, pageSize).forEachInDirectory(heads[0], visitor);
        } catch (RuntimeException e) {
            throw new IOException("The page image " + where + " is corrupt: its pages cannot be walked ("
                    + e.getMessage() + ")", e);
        }
    }

    /** An image's pages on the heap, stored as the checkpoint holds them, decoded when acquired. */
    private static final class HeapPages implements PageSource {
        /** One page of the image: its stored bytes (codec byte first), or null and its word. */
        private record Page(int depth, byte[] stored, long word) {}

        private final java.util.HashMap<Integer, Page> pages = new java.util.HashMap<>();
        private final PageCodec codec;
        private final HeldPages held;

        HeapPages(int pageSize) {
            this.held = new HeldPages(pageSize);
            this.codec = PageCodec.forReading(pageSize);
        }

        void put(int pageId, int depth, byte[] bytes, long word) {
            pages.put(pageId, new Page(depth, bytes, word));
        }

        private Page page(int pageId, String refers) {
            Page page = pages.get(pageId);
            if (page == null) {
                throw new IllegalStateException(refers + " refers to page " + pageId + ", which the image lacks");
            }
            return page;
        }

        @Override
        public byte[] acquire(int pageId) {
            Page stored = page(pageId, "an entry");
            byte[] page = held.next();
            if (stored.stored() != null) {
                codec.decode(stored.stored(), 0, stored.stored().length, page);
            } else {
                SameFilled.fill(page, stored.word());
            }
            held.hold();
            return page;
        }

        @Override
        public void release(int pageId) {
            held.release();
        }

        @Override
        public int depth(int pageId) {
            return page(pageId, "the directory").depth();
        }
    }
}

package io.zstate.pagestore.tier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zstate.pagestore.Faults;
import io.zstate.pagestore.layout.StoredPage;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The codec with a store's dictionary: LZ4 until it is trained, zstd after; what it refuses. */
class PageCodecZstdTest {

    private static final int PAGE = 1024;
    private static final double BOUNCER = 1.2;

    /** A page like a bucket page of value state: 24-byte entries of small keys and counts, partly random. */
    static byte[] page(Random random) {
        byte[] page = new byte[PAGE];
        int entries = 20 + random.nextInt(20);
        for (int e = 0; e < entries; e++) {
            int at = PAGE - 24 * (e + 1);
            page[16 + 8 * e] = (byte) random.nextInt(256); // a slot's hash: random
            page[17 + 8 * e] = (byte) random.nextInt(256);
            page[22 + 8 * e] = (byte) at;
            page[23 + 8 * e] = (byte) (at >> 8);
            page[at] = 10; // key length
            page[at + 6] = (byte) random.nextInt(128); // key-group
            page[at + 10] = (byte) random.nextInt(256); // key's low bytes
            page[at + 11] = (byte) random.nextInt(256);
            page[at + 16] = 8; // value length: a small count
            page[at + 23] = (byte) random.nextInt(16);
        }
        page[0] = (byte) entries;
        return page;
    }

    private static int encode(PageCodec codec, byte[] page, byte[] out) {
        return codec.encode(page, out, StoredPage.HEADER, BOUNCER);
    }

    /** The stored page as the pager keeps it: codec byte, then the bytes. */
    private static byte[] stored(byte codecByte, byte[] out, int length) {
        byte[] stored = new byte[1 + length];
        stored[0] = codecByte;
        System.arraycopy(out, StoredPage.HEADER, stored, 1, length);
        return stored;
    }

    @Test
    void compressesWithLz4UntilTheDictionaryIsTrainedThenWithZstdAndSmaller() {
        Random random = new Random(7);
        PageDictionary dictionary = new PageDictionary(PAGE, 4, 64, true);
        try (PageCodec codec = new PageCodec(PAGE, Faults.NONE, dictionary)) {
            byte[] out = new byte[codec.maxCompressedLength() + StoredPage.HEADER];
            long lz4Bytes = 0;
            for (int i = 0; i < 4 + 64; i++) {
                byte[] page = page(random);
                int length = encode(codec, page, out);
                assertThat(codec.encodedCodec(length, BOUNCER)).as("page %d, before the dictionary", i)
                        .isEqualTo(StoredPage.LZ4);
                lz4Bytes += length;
            }
            assertThat(dictionary.state()).isEqualTo(PageDictionary.State.READY);
            assertThat(dictionary.trainedBy()).as("inline").isEqualTo(Thread.currentThread().getName());
            assertThat(dictionary.dictionary()).hasSize(64 * PAGE / 16);
            assertThat(dictionary.heapBytes()).as("the sample is let go").isEqualTo(64 * PAGE / 16);

            long zstdBytes = 0;
            PageCodec reader = new PageCodec(PAGE, Faults.NONE, dictionary); // another thread's, as a snapshot's
            for (int i = 0; i < 68; i++) {
                byte[] page = page(random);
                int length = encode(codec, page, out);
                assertThat(codec.encodedCodec(length, BOUNCER)).isEqualTo(StoredPage.ZSTD);
                zstdBytes += length;
                byte[] back = new byte[PAGE];
                reader.decode(stored(StoredPage.ZSTD, out, length), 0, 1 + length, back);
                assertThat(back).isEqualTo(page);
            }
            assertThat(zstdBytes).as("zstd with the dictionary against LZ4, same kind of pages")
                    .isLessThan(lz4Bytes * 9 / 10);
            assertThat(reader.holdsNativeContexts()).isTrue();
            reader.close();
            assertThat(reader.holdsNativeContexts()).isFalse();
        }
    }

    @Test
    void aStoreWithoutDictionaryNeverMakesContexts() {
        Random random = new Random(1);
        try (PageCodec codec = new PageCodec(PAGE, Faults.NONE)) {
            byte[] out = new byte[codec.maxCompressedLength() + StoredPage.HEADER];
            for (int i = 0; i < 100; i++) {
                byte[] page = page(random);
                int length = encode(codec, page, out);
                assertThat(codec.encodedCodec(length, BOUNCER)).isEqualTo(StoredPage.LZ4);
                byte[] back = new byte[PAGE];
                codec.decode(stored(StoredPage.LZ4, out, length), 0, 1 + length, back);
                assertThat(back).isEqualTo(page);
            }
            assertThat(codec.holdsNativeContexts()).isFalse();
        }
    }

    @Test
    void refusesZstdPagesItCannotRead() {
        Random random = new Random(3);
        PageDictionary dictionary = new PageDictionary(PAGE, 0, 32, true);
        PageCodec codec = new PageCodec(PAGE, Faults.NONE, dictionary);
        byte[] out = new byte[codec.maxCompressedLength() + StoredPage.HEADER];
        for (int i = 0; i < 32; i++) {
            encode(codec, page(random), out);
        }
        int length = encode(codec, page(random), out);
        assertThat(codec.encodedCodec(length, BOUNCER)).as("the page these checks read").isEqualTo(StoredPage.ZSTD);
        byte[] stored = stored(StoredPage.ZSTD, out, length);
        byte[] back = new byte[PAGE];

        assertThatThrownBy(() -> PageCodec.forReading(PAGE).decode(stored, 0, stored.length, back))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no store dictionary")
                .hasMessageContaining("corrupt");
        assertThatThrownBy(() -> new PageCodec(PAGE, Faults.NONE, new PageDictionary(PAGE, 0, 32, true))
                .decode(stored, 0, stored.length, back))
                .hasMessageContaining("has trained no dictionary");
        byte[] corrupt = Arrays.copyOf(stored, stored.length);
        for (int i = 1; i < corrupt.length; i += 3) {
            corrupt[i] ^= 0x5a;
        }
        assertThatThrownBy(() -> codec.decode(corrupt, 0, corrupt.length, back))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("zstd page").hasMessageContaining("corrupt");
        byte[] truncated = Arrays.copyOf(stored, stored.length / 2);
        assertThatThrownBy(() -> codec.decode(truncated, 0, truncated.length, back))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("corrupt");

        codec.close();
        assertThatThrownBy(() -> codec.decode(stored, 0, stored.length, back)).hasMessageContaining("closed");
        assertThatThrownBy(() -> encode(codec, page(random), out)).hasMessageContaining("closed");
    }

    @Test
    void aCheckpointsZstdPageIsRefusedWhenPlaced(@TempDir java.nio.file.Path dir) {
        try (Pager pager = new Pager(io.zstate.pagestore.PageStoreConfig.defaults(dir),
                (io.zstate.allocator.MemoryBudget) null, Faults.NONE)) {
            byte[] stored = {StoredPage.ZSTD, 1, 2, 3, 4};
            assertThatThrownBy(() -> pager.place(0, 0, stored, 0, stored.length))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("a zstd page")
                    .hasMessageContaining("checkpoint is corrupt");
        }
    }

    @Test
    void aDictionaryThatCannotBeTrainedLeavesTheStoreOnLz4() {
        PageDictionary dictionary = new PageDictionary(PAGE, 0, 2, true); // two pages: too few to train on
        try (PageCodec codec = new PageCodec(PAGE, Faults.NONE, dictionary)) {
            byte[] out = new byte[codec.maxCompressedLength() + StoredPage.HEADER];
            Random random = new Random(5);
            for (int i = 0; i < 10; i++) {
                int length = encode(codec, page(random), out);
                assertThat(codec.encodedCodec(length, BOUNCER)).isEqualTo(StoredPage.LZ4);
            }
        }
        assertThat(dictionary.state()).isEqualTo(PageDictionary.State.FAILED);
        assertThat(dictionary.reason()).isNotBlank();
        assertThat(dictionary.heapBytes()).isZero();
    }

    @Test
    void trainsOffTheEncodingThreadByDefault() throws InterruptedException {
        PageDictionary dictionary = PageDictionary.forPages(PAGE);
        int pages = PageDictionary.SAMPLE_BYTES / PAGE;
        try (PageCodec codec = new PageCodec(PAGE, Faults.NONE, dictionary)) {
            byte[] out = new byte[codec.maxCompressedLength() + StoredPage.HEADER];
            Random random = new Random(11);
            for (int i = 0; i < 2 * pages - 1; i++) {
                encode(codec, page(random), out);
            }
            assertThat(dictionary.state()).as("a page short of the sample").isEqualTo(PageDictionary.State.SAMPLING);
            assertThat(dictionary.heapBytes()).isEqualTo(PageDictionary.SAMPLE_BYTES);
            encode(codec, page(random), out);
            assertThat(dictionary.awaitTrained(60_000)).isTrue();
            assertThat(dictionary.trainedBy()).isEqualTo("zstate-dictionary-training");
            assertThat(dictionary.dictionary()).hasSize(PageDictionary.DICTIONARY_BYTES);
            int length = encode(codec, page(random), out);
            assertThat(codec.encodedCodec(length, BOUNCER)).isEqualTo(StoredPage.ZSTD);
        }
        dictionary.close();
        assertThat(dictionary.heapBytes()).as("the dictionary stays readable for open snapshots")
                .isEqualTo(PageDictionary.DICTIONARY_BYTES);
    }
}

package io.zstate.pagestore;

import static io.zstate.pagestore.PageStoreModelPropertyTest.FIRST_KEY_GROUP;
import static io.zstate.pagestore.PageStoreModelPropertyTest.KEY_GROUPS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.zstate.pagestore.PageStoreModelPropertyTest.Op;
import io.zstate.pagestore.PageStoreModelPropertyTest.OpenSnapshots;
import io.zstate.pagestore.snapshot.FrozenView;
import io.zstate.pagestore.snapshot.PageImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;

/**
 * Page images against the page store's model: after random operations (every tier, blob keys
 * and values, map indexes, clears), a frozen store's images, written while the store goes on,
 * placed into a fresh store (with a pool small enough that placing spills) hold exactly the
 * entries the model held at the freeze, pass the checkers, and take new writes; read entry by
 * entry (the path for stores that cannot place) they give the same entries.
 */
class PageImagePropertyTest {

    @Provide
    Arbitrary<List<Op>> ops() {
        return new PageStoreModelPropertyTest().ops();
    }

    @Property(tries = 40)
    void placedImagesHoldTheFrozenEntries(@ForAll("ops") List<Op> ops, @ForAll("ops") List<Op> after,
            @ForAll @IntRange(min = 8, max = 24) int placeCachePages, @ForAll boolean zstdWritten,
            @ForAll boolean zstdPlaced) throws IOException {
        Path dir = Files.createTempDirectory("zstate-page-image-test");
        // pages written from a store on either codec place into a store on either: images hold pages raw
        PageStoreConfig config = PageStoreModelPropertyTest.compressed(
                PageStoreModelPropertyTest.tiny(dir, "zsmalloc", 12), zstdWritten);
        TreeMap<String, byte[]> frozenModel;
        Map<String, byte[]> images = new HashMap<>();
        int[] seeds = new int[2];
        ValueView view = new ValueView();
        try (PageStore store = new PageStore(config, FIRST_KEY_GROUP, KEY_GROUPS)) {
            FrozenView frozen;
            OpenSnapshots snapshots = new OpenSnapshots(false);
            synchronized (store) {
                PageStoreModelPropertyTest.createTables(store);
                TreeMap<String, byte[]> model = new TreeMap<>();
                for (Op op : ops) {
                    PageStoreModelPropertyTest.step(store, model, view, op, snapshots);
                }
                frozenModel = new TreeMap<>(model);
                Statistics.label("written from zstd pages").collect(store.stats().dictionaryStores() > 0);
                frozen = store.freeze();
                seeds[0] = store.tableSeed(0);
                seeds[1] = store.tableSeed(1);
                for (Op op : after) { // the store goes on: the images stay as of the freeze
                    PageStoreModelPropertyTest.step(store, model, view, op, snapshots);
                }
                snapshots.releaseAllButMaybeOne(null);
            }
            try (frozen) {
                for (int table = 0; table < 2; table++) {
                    for (int kg = FIRST_KEY_GROUP; kg < FIRST_KEY_GROUP + KEY_GROUPS; kg++) {
                        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                        if (frozen.writePages(table, kg, new DataOutputStream(bytes))) {
                            images.put(table + "/" + kg, bytes.toByteArray());
                        }
                    }
                }
            }
        }

        PageStoreConfig small = PageStoreModelPropertyTest.compressed(
                PageStoreModelPropertyTest.tiny(dir, "zbud", placeCachePages), zstdPlaced);
        try (PageStore placed = new PageStore(small, FIRST_KEY_GROUP, KEY_GROUPS)) {
            placed.createTable("values-and-maps", seeds[0]); // pages are placed by the seed they were written with
            placed.createTable("other", seeds[1]);
            assertThat(placed.canPlacePages()).isTrue();
            for (Map.Entry<String, byte[]> image : images.entrySet()) {
                String[] at = image.getKey().split("/");
                placed.placePages(Integer.parseInt(at[0]), Integer.parseInt(at[1]),
                        new DataInputStream(new ByteArrayInputStream(image.getValue())), image.getKey());
            }
            placed.finishPlacing();
            placed.checkInvariants();
            assertThat(entries(placed)).as("placed entries").isEqualTo(hex(frozenModel));
            PageStoreModelPropertyTest.verifyAll(placed, frozenModel, view);
            Statistics.label("spilled while placing").collect(placed.stats().spilledPages() > 0);
            Statistics.label("map indexes placed").collect(placed.mapIndexes() > 0);
            Statistics.label("placed into zstd pages").collect(placed.stats().dictionaryStores() > 0);
            for (String label : List.of("written from zstd pages", "placed into zstd pages")) {
                Statistics.label(label).coverage(c -> c.check(true).count(n -> n > 0));
            }
            assertThat(placed.stats().pagesPlaced()).isEqualTo(placed.stats().livePages());
            TreeMap<String, byte[]> model = new TreeMap<>(frozenModel); // and it takes new writes
            OpenSnapshots snapshots = new OpenSnapshots(false);
            synchronized (placed) {
                for (Op op : after) {
                    PageStoreModelPropertyTest.step(placed, model, view, op, snapshots);
                }
                snapshots.releaseAllButMaybeOne(null);
            }
            placed.checkInvariants();
            PageStoreModelPropertyTest.verifyAll(placed, model, view);
            assertThat(entries(placed)).isEqualTo(hex(model));
            assertThat(placed.canPlacePages()).as("a store with pages places no more").isFalse();
        }

        try (PageStore reput = new PageStore(small, FIRST_KEY_GROUP, KEY_GROUPS)) {
            PageStoreModelPropertyTest.createTables(reput);
            for (Map.Entry<String, byte[]> image : images.entrySet()) {
                String[] at = image.getKey().split("/");
                int table = Integer.parseInt(at[0]);
                int kg = Integer.parseInt(at[1]);
                PageImage.forEachEntry(new DataInputStream(new ByteArrayInputStream(image.getValue())),
                        1024, (k, ko, kl, v, vo, vl) -> {
                            byte[] key = java.util.Arrays.copyOfRange(k, ko, ko + kl);
                            reput.put(table, kg, key, 0, key.length, PageStoreModelPropertyTest.prefixOf(key), v, vo,
                                    vl);
                        }, image.getKey());
            }
            reput.checkInvariants();
            assertThat(entries(reput)).as("re-put entries").isEqualTo(hex(frozenModel));
        }
        Files.deleteIfExists(dir);
    }

    @Property(tries = 10)
    void aTruncatedImageFailsThePlacingStore(@ForAll("ops") List<Op> ops, @ForAll @IntRange(min = 1, max = 1000) int cut)
            throws IOException {
        Path dir = Files.createTempDirectory("zstate-page-image-test");
        PageStoreConfig config = PageStoreModelPropertyTest.tiny(dir, "zsmalloc", 12);
        byte[] image = null;
        try (PageStore store = new PageStore(config, FIRST_KEY_GROUP, KEY_GROUPS)) {
            synchronized (store) {
                PageStoreModelPropertyTest.createTables(store);
                TreeMap<String, byte[]> model = new TreeMap<>();
                OpenSnapshots snapshots = new OpenSnapshots(false);
                for (Op op : ops) {
                    PageStoreModelPropertyTest.step(store, model, new ValueView(), op, snapshots);
                }
                snapshots.releaseAllButMaybeOne(null);
                try (FrozenView frozen = store.freeze()) {
                    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                    for (int kg = FIRST_KEY_GROUP; kg < FIRST_KEY_GROUP + KEY_GROUPS && image == null; kg++) {
                        if (frozen.writePages(0, kg, new DataOutputStream(bytes))) {
                            image = bytes.toByteArray();
                        }
                    }
                }
            }
        }
        if (image == null) {
            return;
        }
        byte[] truncated = java.util.Arrays.copyOf(image, Math.max(0, image.length - cut));
        try (PageStore placed = new PageStore(config, FIRST_KEY_GROUP, KEY_GROUPS)) {
            PageStoreModelPropertyTest.createTables(placed);
            assertThatThrownBy(() -> placed.placePages(0, FIRST_KEY_GROUP,
                    new DataInputStream(new ByteArrayInputStream(truncated)), "kg"))
                    .isInstanceOfAny(IOException.class, RuntimeException.class);
            assertThat(placed.isFailed()).as("a store that failed to place serves nothing").isTrue();
        }
        Files.deleteIfExists(dir);
    }

    /** Every entry of both tables, as table/key-group/hex key to hex value. */
    private static Map<String, String> entries(PageStore store) {
        Map<String, String> all = new TreeMap<>();
        for (int table = 0; table < 2; table++) {
            for (int kg = FIRST_KEY_GROUP; kg < FIRST_KEY_GROUP + KEY_GROUPS; kg++) {
                int t = table;
                int g = kg;
                store.forEachInKeyGroup(table, kg, (k, ko, kl, v, vo, vl) -> all.put(
                        t + "/" + g + "/" + HexFormat.of().formatHex(k, ko, ko + kl),
                        HexFormat.of().formatHex(v, vo, vo + vl)));
            }
        }
        return all;
    }

    private static Map<String, String> hex(TreeMap<String, byte[]> model) {
        Map<String, String> all = new TreeMap<>();
        model.forEach((k, v) -> all.put(k, HexFormat.of().formatHex(v)));
        return all;
    }
}

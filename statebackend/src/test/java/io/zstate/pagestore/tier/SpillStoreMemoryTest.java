package io.zstate.pagestore.tier;

import static org.assertj.core.api.Assertions.assertThat;

import io.zstate.pagestore.Faults;
import io.zstate.pagestore.SlotMemory;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How a spill store sizes its memtables, alone and in a slot. */
class SpillStoreMemoryTest {

    @TempDir
    Path dir;

    @Test
    void inASlotTheMemtablesAreHalfTheSlotsShareWhateverTheConfigSays() {
        try (SlotMemory slot = new SlotMemory(200L << 20, 0.1)) { // a 20 MiB share
            SpillStore store = new SpillStore(dir, 1L << 20, 512L << 10, slot, Faults.NONE);
            try {
                assertThat(slot.memtableBytes()).isEqualTo(10L << 20);
                assertThat(store.memtableBytes()).as("not the config's 512 KiB").isEqualTo(10L << 20);
            } finally {
                store.close();
            }
        }
    }

    @Test
    void aSlotsMemtablesStayBetweenAQuarterMebibyteAndRocksDbsDefault() {
        try (SlotMemory small = new SlotMemory(4L << 20, 0.1); SlotMemory large = new SlotMemory(8L << 30, 0.5)) {
            assertThat(small.memtableBytes()).as("a 1 MiB floor share").isEqualTo(512L << 10);
            assertThat(large.memtableBytes()).isEqualTo(64L << 20);
        }
    }

    @Test
    void aloneTheStoreTakesTheConfiguredSize() {
        SpillStore store = new SpillStore(dir, 1L << 20, 3L << 20, null, Faults.NONE);
        try {
            assertThat(store.memtableBytes()).isEqualTo(3L << 20);
        } finally {
            store.close();
        }
    }
}

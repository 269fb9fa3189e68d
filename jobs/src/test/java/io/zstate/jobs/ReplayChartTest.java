package io.zstate.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The replay's chart: a line per pool of the chosen trace and frame size, and a clear refusal of none. */
class ReplayChartTest {

    private static final List<String> CSV = List.of(
            "a.trace.gz,4096,zsmalloc/8,1000,0.50000,10,0,0",
            "a.trace.gz,4096,zsmalloc/8,2000,0.75000,12,3,1",
            "a.trace.gz,4096,xcfmalloc,1000,0.90000,9,0,0",
            "a.trace.gz,16384,zlog,1000,0.10000,2,0,0",
            "b.trace.gz,4096,zbud,1000,0.20000,40,9,9");

    @Test
    void drawsOneLinePerPoolOfTheTraceAndFrameSize() {
        String svg = ReplayChart.svg(CSV, "a.trace.gz", 4096);
        assertThat(svg).startsWith("<svg").contains("<title>zsmalloc/8</title>").contains("<title>xcfmalloc</title>")
                .doesNotContain("zlog").doesNotContain("zbud").contains("90%");
        assertThat(svg.split("<polyline points=").length - 1).as("the axes and two lines").isEqualTo(3);
    }

    @Test
    void refusesATraceWithoutSamples() {
        assertThatThrownBy(() -> ReplayChart.svg(CSV, "c.trace.gz", 4096))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("c.trace.gz");
    }
}

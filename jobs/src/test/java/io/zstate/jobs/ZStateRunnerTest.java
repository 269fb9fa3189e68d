package io.zstate.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The runner runs the counter job on each backend and the job checks its own result. */
class ZStateRunnerTest {

    @Test
    void countsEveryEventExactlyOnceOnEachBackend() {
        for (String backend : new String[] {"zstate", "rocksdb", "hashmap"}) {
            PrintStream original = System.out;
            ByteArrayOutputStream captured = new ByteArrayOutputStream();
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            int exit;
            try {
                exit = new CommandLine(new ZStateRunner()).execute(
                        "--backend", backend, "--keys", "2000", "--events", "20000", "--managed-memory", "64mb");
            } finally {
                System.setOut(original);
            }
            String out = captured.toString(StandardCharsets.UTF_8);
            assertThat(exit).as(out).isZero();
            assertThat(out).contains("2,000 of 2,000 keys counted exactly: correct");
            if (backend.equals("zstate")) {
                assertThat(out).contains("zstate tiers");
            }
        }
    }

    @Test
    void anUnknownBackendIsRefusedNamingTheChoices() {
        CommandLine cli = new CommandLine(new ZStateRunner());
        cli.setErr(new java.io.PrintWriter(new java.io.StringWriter()));
        assertThat(cli.execute("--backend", "memory")).isNotZero();
    }
}

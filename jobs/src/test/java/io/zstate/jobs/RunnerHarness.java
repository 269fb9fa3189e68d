package io.zstate.jobs;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/** Runs the runner in this JVM and keeps what it printed. */
final class RunnerHarness {

    /** The runner's exit code and its standard output. */
    record Run(int exit, String out) {}

    private RunnerHarness() {}

    static Run run(String... args) {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int exit;
        try {
            exit = new CommandLine(new ZStateRunner()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
        } finally {
            System.setOut(original);
        }
        return new Run(exit, captured.toString(StandardCharsets.UTF_8));
    }
}

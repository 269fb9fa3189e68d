package io.zstate.jobs;

import java.util.Locale;

/** How the runner, the compare command and the soak write sizes, durations and rates. */
public final class Units {

    private Units() {}

    /** Bytes in binary units with three significant digits ("45.2 MiB"); "n/a" if negative. */
    public static String bytes(long bytes) {
        if (bytes < 0) {
            return "n/a";
        }
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double value = bytes / 1024.0;
        int unit = 0;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        String format = value >= 100 ? "%.0f %s" : value >= 10 ? "%.1f %s" : "%.2f %s";
        return String.format(Locale.ROOT, format, value, units[unit]);
    }

    /** Milliseconds as "850 ms" or "2.3 s"; "n/a" if negative. */
    static String millis(long millis) {
        if (millis < 0) {
            return "n/a";
        }
        return millis < 1000 ? millis + " ms" : String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
    }

    /** A count with thousands separators. */
    static String count(double value) {
        return String.format(Locale.ROOT, "%,.0f", value);
    }
}

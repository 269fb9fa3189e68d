package io.zstate.jobs;

import java.util.List;
import java.util.Locale;
import java.util.function.DoubleFunction;

/**
 * An SVG line chart of a few series over one x axis (seconds, checkpoint ids), each in its
 * backend's colour ({@link CompareReport#colour}), dashed for a backend's second series: the soak's
 * charts of throughput, memory and checkpoint sizes over time.
 */
public final class LineChart {

    /** One line: its label, its backend (the colour), whether dashed, and its points (x, y). */
    public record Series(String label, String backend, boolean dashed, List<double[]> points) {}

    private static final int WIDTH = 640;
    private static final int HEIGHT = 260;
    private static final int LEFT = 70;
    private static final int RIGHT = 16;
    private static final int TOP = 34;
    private static final int BOTTOM = 40;

    private LineChart() {}

    /** Text for HTML and SVG, escaped as every report here escapes it. */
    public static String escape(String text) {
        return CompareReport.escape(text);
    }

    /**
     * The chart as an SVG element; {@code xFormat} and {@code yFormat} label the axes' ends and
     * the legend says which line is which.
     */
    public static String svg(String title, String xLabel, List<Series> series, DoubleFunction<String> xFormat,
            DoubleFunction<String> yFormat) {
        double maxX = 1e-9;
        double maxY = 1e-9;
        for (Series s : series) {
            for (double[] p : s.points()) {
                maxX = Math.max(maxX, p[0]);
                maxY = Math.max(maxY, p[1]);
            }
        }
        int plotWidth = WIDTH - LEFT - RIGHT;
        int plotHeight = HEIGHT - TOP - BOTTOM;
        int legend = 18 * series.size();
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" "
                + "font-family=\"system-ui, sans-serif\" font-size=\"12\">%n", WIDTH, HEIGHT + legend));
        svg.append("<title>").append(CompareReport.escape(title)).append("</title>\n");
        svg.append("<text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"600\">").append(CompareReport.escape(title))
                .append("</text>\n");
        int bottom = TOP + plotHeight;
        svg.append(String.format(Locale.ROOT, "<polyline points=\"%d,%d %d,%d %d,%d\" fill=\"none\" stroke=\"#bbb\"/>%n",
                LEFT, TOP, LEFT, bottom, LEFT + plotWidth, bottom));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n",
                LEFT - 6, TOP + 10, CompareReport.escape(yFormat.apply(maxY))));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>%n",
                LEFT - 6, bottom));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n",
                LEFT + plotWidth, bottom + 16, CompareReport.escape(xFormat.apply(maxX))));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">0</text>%n", LEFT, bottom + 16));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%s</text>%n",
                LEFT + plotWidth / 2, bottom + 16, CompareReport.escape(xLabel)));
        int y = HEIGHT;
        for (Series s : series) {
            StringBuilder points = new StringBuilder();
            for (double[] p : s.points()) {
                points.append(String.format(Locale.ROOT, "%.1f,%.1f ", LEFT + p[0] / maxX * plotWidth,
                        bottom - p[1] / maxY * plotHeight));
            }
            String colour = CompareReport.colour(s.backend());
            String dash = s.dashed() ? " stroke-dasharray=\"5 3\"" : "";
            svg.append(String.format(Locale.ROOT,
                    "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s><title>%s</title></polyline>%n",
                    points.toString().trim(), colour, dash, CompareReport.escape(s.label())));
            svg.append(String.format(Locale.ROOT,
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>%n",
                    LEFT, y - 4, LEFT + 24, y - 4, colour, dash));
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", LEFT + 30, y,
                    CompareReport.escape(s.label())));
            y += 18;
        }
        return svg.append("</svg>\n").toString();
    }
}

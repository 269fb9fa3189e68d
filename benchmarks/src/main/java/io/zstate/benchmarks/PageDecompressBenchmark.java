package io.zstate.benchmarks;

import java.util.concurrent.TimeUnit;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a page fault's decompression costs: one LZ4-compressed state page (StatePageCorpus, the
 * pages in turn) decompressed into a page-sized array with the "safe" decompressor the page
 * store uses (told the compressed length), by lz4-java's JNI binding, its Java implementation on
 * {@code sun.misc.Unsafe}, and its plain Java one. Small pages pay the JNI call's fixed cost
 * (pinning two arrays) on a few hundred bytes.
 *
 * <p>Run: {@code mvn -q -DskipTests -Pjmh verify -Djmh.args="PageDecompressBenchmark"}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PageDecompressBenchmark {

    @Param({"jni", "java-unsafe", "java-safe"})
    public String implementation;

    @Param({"1024", "4096"})
    public int pageSize;

    private LZ4SafeDecompressor decompressor;
    private StatePageCorpus corpus;
    private byte[] data;
    private byte[] page;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        LZ4Factory factory = switch (implementation) {
            case "jni" -> LZ4Factory.nativeInstance();
            case "java-unsafe" -> LZ4Factory.unsafeInstance();
            case "java-safe" -> LZ4Factory.safeInstance();
            default -> throw new IllegalArgumentException("implementation " + implementation);
        };
        decompressor = factory.safeDecompressor();
        corpus = StatePageCorpus.generate(42, 4096, pageSize);
        data = corpus.data();
        page = new byte[pageSize];
        for (int i = 0; i < corpus.pages(); i++) { // every page comes back whole
            int n = decompressor.decompress(data, corpus.offset(i), corpus.size(i), page, 0, pageSize);
            if (n != corpus.rawSize(i)) {
                throw new IllegalStateException("page " + i + " decompressed to " + n + " bytes, not " + corpus.rawSize(i));
            }
        }
    }

    @Benchmark
    public int decompress() {
        int i = next;
        next = i + 1 == corpus.pages() ? 0 : i + 1;
        return decompressor.decompress(data, corpus.offset(i), corpus.size(i), page, 0, pageSize);
    }
}

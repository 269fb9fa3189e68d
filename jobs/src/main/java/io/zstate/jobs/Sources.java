package io.zstate.jobs;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;

/** Deterministic sources for the example jobs: Flink's DataGen source, rate-limited on request. */
public final class Sources {

    private Sources() {}

    /** A source of {@code size.events()} events, event {@code i} made by {@code generator} from {@code i}. */
    public static <T> DataGeneratorSource<T> generator(
            GeneratorFunction<Long, T> generator, JobSize size, TypeInformation<T> type) {
        RateLimiterStrategy rate = size.eventsPerSecond() > 0
                ? RateLimiterStrategy.perSecond(size.eventsPerSecond())
                : RateLimiterStrategy.noOp();
        return new DataGeneratorSource<>(generator, size.events(), rate, type);
    }

    /**
     * A 64-bit hash of {@code x} (the SplitMix64 finalizer), for jobs that want events to look
     * random yet be a pure function of their index: generators and checks call it alike.
     */
    public static long mix(long x) {
        long z = x + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}

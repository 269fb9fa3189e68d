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
}

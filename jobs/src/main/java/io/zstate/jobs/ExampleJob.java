package io.zstate.jobs;

import java.util.List;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * An example job the runner can run: it builds a pipeline whose output the runner collects, and
 * then judges that output, because every example job knows its correct answer.
 *
 * @param <R> what the job emits
 */
public interface ExampleJob<R> {

    /** One line for the runner's banner: what the job does and which state it uses. */
    String describe(JobSize size);

    /** Adds the job's pipeline to {@code env}; the returned stream is collected by the runner. */
    DataStream<R> build(StreamExecutionEnvironment env, JobSize size);

    /** Judges the collected output against the answer known from the size. */
    Verdict check(List<R> output, JobSize size);

    /** The outcome of {@link #check}: whether the output is right, and a line saying what was found. */
    record Verdict(boolean correct, String summary) {}
}

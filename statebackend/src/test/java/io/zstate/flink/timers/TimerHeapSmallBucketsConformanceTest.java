package io.zstate.flink.timers;

import org.apache.flink.runtime.state.InternalPriorityQueue;
import org.apache.flink.runtime.state.InternalPriorityQueueTestBase;

/** Flink's conformance tests again, with four buckets and a split at eight: every test's queue splits and refills. */
class TimerHeapSmallBucketsConformanceTest extends InternalPriorityQueueTestBase {

    @Override
    protected InternalPriorityQueue<TestElement> newPriorityQueue(int initialCapacity) {
        return new TimerHeap<>(TestElement::getPriority, Object::hashCode, KEY_EXTRACTOR_FUNCTION, initialCapacity, KEY_GROUP_RANGE,
                KEY_GROUP_RANGE.getNumberOfKeyGroups(), 4, 8);
    }

    @Override
    protected boolean testSetSemanticsAgainstDuplicateElements() {
        return true;
    }
}

package io.zstate.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.runtime.state.FullSnapshotResources;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyValueStateIterator;
import org.apache.flink.runtime.state.StreamCompressionDecorator;
import org.apache.flink.runtime.state.metainfo.StateMetaInfoSnapshot;

/**
 * A backend's snapshot resources with each state's meta info passed through {@code rewrite}: to
 * write what another writer would (Flink's V2 meta info, a newer zstate format). The meta infos
 * last handed out are kept in {@link #written}.
 */
final class RewrittenMetaInfo implements FullSnapshotResources<Integer> {

    final List<StateMetaInfoSnapshot> written = new ArrayList<>();
    private final FullSnapshotResources<Integer> resources;
    private final UnaryOperator<StateMetaInfoSnapshot> rewrite;

    RewrittenMetaInfo(FullSnapshotResources<Integer> resources, UnaryOperator<StateMetaInfoSnapshot> rewrite) {
        this.resources = resources;
        this.rewrite = rewrite;
    }

    @Override
    public List<StateMetaInfoSnapshot> getMetaInfoSnapshots() {
        written.clear();
        for (StateMetaInfoSnapshot meta : resources.getMetaInfoSnapshots()) {
            written.add(rewrite.apply(meta));
        }
        return new ArrayList<>(written);
    }

    @Override
    public KeyValueStateIterator createKVStateIterator() throws IOException {
        return resources.createKVStateIterator();
    }

    @Override
    public KeyGroupRange getKeyGroupRange() {
        return resources.getKeyGroupRange();
    }

    @Override
    public TypeSerializer<Integer> getKeySerializer() {
        return resources.getKeySerializer();
    }

    @Override
    public StreamCompressionDecorator getStreamCompressionDecorator() {
        return resources.getStreamCompressionDecorator();
    }

    @Override
    public void release() {
        resources.release();
    }
}

package io.pmig.analytics.scoring;

import io.pmig.analytics.AnalyticsConfig;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.serde.AvroSerde;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Maintains the global store of pmig.models (every instance reads the whole, single-partition topic) and
 * hot-swaps the model of this instance when the configured key gets a new version. The store is what
 * survives restarts: Kafka restores it before {@link #init} runs, which reloads the model from it. An
 * unusable update is logged and the previous model stays in use. A model scores under the alarm policy it carries,
 * except for the keys the operator set ({@link ModelScorer#load(ModelUpdate, AnalyticsConfig)}).
 */
public final class ModelUpdateProcessor implements Processor<String, byte[], Void, Void> {

    private static final Logger log = LoggerFactory.getLogger(ModelUpdateProcessor.class);

    private final String storeName;
    private final String modelKey;
    private final AnalyticsConfig config;
    private final CurrentScorer scorer;
    private final AvroSerde<ModelUpdate> serde = AvroSerde.of(ModelUpdate.class);
    private KeyValueStore<String, byte[]> store;

    public ModelUpdateProcessor(String storeName, String modelKey, AnalyticsConfig config, CurrentScorer scorer) {
        this.storeName = storeName;
        this.modelKey = modelKey;
        this.config = config;
        this.scorer = scorer;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        store = context.getStateStore(storeName);
        byte[] restored = store.get(modelKey);
        if (restored != null) {
            install(restored);
        }
    }

    @Override
    public void process(Record<String, byte[]> record) {
        if (record.key() == null) {
            log.warn("ignoring a pmig.models record without a key");
            return;
        }
        if (record.value() == null) {
            store.delete(record.key());
        } else {
            store.put(record.key(), record.value());
        }
        if (!modelKey.equals(record.key())) {
            return;
        }
        if (record.value() == null) {
            scorer.use(null);
            log.info("model '{}' withdrawn; scoring with the {}", modelKey, scorer.ruleName());
        } else {
            install(record.value());
        }
    }

    private void install(byte[] bytes) {
        try {
            ModelUpdate update = serde.decode(bytes);
            ModelScorer model = ModelScorer.load(update, config);
            String previous = scorer.modelVersion();
            scorer.use(model);
            if (!scorer.usesModels()) {
                log.info("model '{}' version {} published; not scoring with it: analytics.scorer is {}", modelKey,
                        model.version(), scorer.ruleName());
                return;
            }
            int consecutive = model.consecutiveWindows() > 0 ? model.consecutiveWindows() : config.hysteresisWindows();
            log.info("now scoring with model '{}' version {} (was {}), trained on {} features; acting at score >= {} in {} window(s)"
                            + " in a row ({}); metrics {}",
                    modelKey, model.version(), previous == null ? "the " + scorer.ruleName() : previous,
                    update.getFeatures().size(), model.threshold(), consecutive,
                    update.getAlarmPolicy() == null ? "the configured policy" : "the model's policy, keys set by the operator excepted",
                    update.getMetrics());
        } catch (RuntimeException e) {
            log.error("ignoring unusable model update on '{}', keeping {}: {}", modelKey,
                    scorer.modelVersion() == null ? "the " + scorer.ruleName() : "version " + scorer.modelVersion(), e.getMessage());
        }
    }
}

package io.pmig.analytics.training;

import io.pmig.platform.config.ConfigException;
import io.pmig.platform.config.KafkaClientOptions;
import io.pmig.platform.topics.Topic;
import io.pmig.platform.topics.TopicCreator;
import io.pmig.schemas.ModelUpdate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.RecordMetadata;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code pmig publish-model}: puts a model on pmig.models, where every analytics instance picks it up - the shipped
 * one by default, so a cluster built by hand predicts from its first minute as the demo does.
 *
 * <pre>
 * bin/pmig publish-model --bootstrap-server 10.0.0.1:9092              # the model pmig ships, under "overload"
 * bin/pmig publish-model --file model.avro --key overload-canary      # a model file written by pmig train --out
 * </pre>
 */
@Command(name = "publish-model", mixinStandardHelpOptions = true,
        description = "Publish a model to pmig.models (default: the model pmig ships) for the analytics instances.")
public final class PublishModelCommand implements Callable<Integer> {

    @Mixin
    KafkaClientOptions kafka;

    @Option(names = "--file", paramLabel = "FILE", description = "A model file (pmig train's output); default: the shipped model.")
    Path file;

    @Option(names = "--key", paramLabel = "NAME", defaultValue = DefaultModel.KEY,
            description = "The pmig.models key analytics reads (analytics.model.key; default: ${DEFAULT-VALUE}).")
    String key;

    @Override
    public Integer call() {
        if (file != null && !Files.isReadable(file)) {
            throw new ConfigException("--file", file + " cannot be read");
        }
        ModelUpdate model;
        try {
            model = file != null ? ModelFile.read(file) : DefaultModel.load();
        } catch (java.io.UncheckedIOException e) {
            throw new ConfigException("--file", e.getMessage() + " (write one with pmig train --out FILE)");
        }
        Properties props = kafka.reachableClientProperties(Duration.ofSeconds(5));
        TopicCreator.ensureTopics(props);
        RecordMetadata at = ModelPublisher.publish(props, key, model);
        System.out.printf("published model %s (%s) to %s under key '%s' (offset %d)%n", model.getVersion(),
                file != null ? file : "the shipped model", Topic.MODELS.topicName(), key, at.offset());
        return 0;
    }
}

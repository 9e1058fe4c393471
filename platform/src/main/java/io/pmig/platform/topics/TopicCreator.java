package io.pmig.platform.topics;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates pmig's topics if they are missing; every role calls it at start-up, so order of start does not matter. */
public final class TopicCreator {

    private static final Logger log = LoggerFactory.getLogger(TopicCreator.class);

    private TopicCreator() {
    }

    public static void ensureTopics(Properties clientProperties) {
        ensureTopics(clientProperties, Map.of());
    }

    /**
     * As {@link #ensureTopics(Properties)}, creating the missing topics named in {@code partitions} with that many
     * partitions instead of the catalogue's: partitions are the unit of scale (README, Scaling the analytics app). A topic
     * that exists keeps its count; a different one asked for is logged, not applied (adding partitions re-homes keys).
     */
    public static void ensureTopics(Properties clientProperties, Map<Topic, Integer> partitions) {
        try (Admin admin = Admin.create(clientProperties)) {
            ensureTopics(admin, partitions);
        }
    }

    /** {@code TOPIC=N} pairs as an option gives them, checked: a pmig topic and at least one partition; else names the option. */
    public static Map<Topic, Integer> partitionCounts(String option, Map<String, String> pairs) {
        Map<Topic, Integer> counts = new java.util.LinkedHashMap<>();
        pairs.forEach((name, count) -> {
            Topic topic;
            try {
                topic = Topic.byName(name.trim());
            } catch (IllegalArgumentException e) {
                throw new io.pmig.platform.config.ConfigException(option, "'" + name + "' is not a pmig topic (one of "
                        + String.join(", ", Arrays.stream(Topic.values()).map(Topic::topicName).toList()) + ")");
            }
            counts.put(topic, io.pmig.platform.config.ConfigValues.intAtLeast(option, count.trim(), 1));
        });
        return counts;
    }

    /**
     * Returns once the leader of every partition of every pmig topic answers for it. A topic is listed before its
     * partitions are served, and an idempotent producer that sends to a partition in that gap can have its first
     * request refused (not leader) while a later one is appended; the first then never fits and its records expire
     * (KAFKA-15591; seen: 43 metrics lost to a 10-minute delivery timeout right after a fresh broker's topics were made).
     * ListOffsets goes to the partition's leader, and the admin client retries it until it is served.
     */
    static void awaitLeadersServing(Admin admin) throws ExecutionException, TimeoutException, InterruptedException {
        Map<TopicPartition, OffsetSpec> every = new HashMap<>();
        // the partitions each topic has, not those a new one gets: a cluster's topics may predate a catalogue change
        List<String> names = Arrays.stream(Topic.values()).map(Topic::topicName).toList();
        admin.describeTopics(names).allTopicNames().get(60, TimeUnit.SECONDS).forEach((name, description) ->
                description.partitions().forEach(p -> every.put(new TopicPartition(name, p.partition()), OffsetSpec.latest())));
        admin.listOffsets(every).all().get(60, TimeUnit.SECONDS);
    }

    /**
     * A partition created a moment ago can be answered "does not host this topic-partition" (UnknownTopicOrPartition)
     * once, before the broker's metadata has it, and the admin client does not retry that for ListOffsets (seen once in
     * TopicCreatorTest on a loaded machine): ask again for up to 30 s.
     */
    private static void awaitServingWhileUnknown(Admin admin) throws ExecutionException, TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                awaitLeadersServing(admin);
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)
                        || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    public static void ensureTopics(Admin admin) {
        ensureTopics(admin, Map.of());
    }

    public static void ensureTopics(Admin admin, Map<Topic, Integer> partitions) {
        try {
            Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            List<NewTopic> missing = Arrays.stream(Topic.values())
                    .filter(topic -> !existing.contains(topic.topicName()))
                    .map(topic -> topic.newTopic(partitions.getOrDefault(topic, topic.partitions())))
                    .toList();
            List<String> kept = partitions.keySet().stream().map(Topic::topicName).filter(existing::contains).toList();
            if (!kept.isEmpty()) {
                admin.describeTopics(kept).allTopicNames().get(30, TimeUnit.SECONDS).forEach((name, description) -> {
                    int asked = partitions.get(Topic.byName(name));
                    if (description.partitions().size() != asked) {
                        log.warn("topic {} exists with {} partitions; keeping them, not the {} asked for", name,
                                description.partitions().size(), asked);
                    }
                });
            }
            for (var entry : admin.createTopics(missing).values().entrySet()) {
                try {
                    entry.getValue().get(30, TimeUnit.SECONDS);
                    log.info("created topic {}", entry.getKey());
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e; // another role created it concurrently otherwise
                    }
                }
            }
            awaitServingWhileUnknown(admin);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new IllegalStateException("cannot create pmig topics: " + cause.getMessage(), cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating pmig topics", e);
        }
    }
}

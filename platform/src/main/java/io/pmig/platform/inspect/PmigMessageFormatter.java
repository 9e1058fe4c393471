package io.pmig.platform.inspect;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.schemas.serde.GenericDecoding;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.MessageFormatter;
import org.apache.kafka.common.record.TimestampType;

/**
 * Prints any pmig topic's records as one JSON object per line, for the stock console consumer:
 * <pre>
 * kafka-console-consumer.sh --bootstrap-server 127.0.0.1:9092 --topic pmig.metrics --from-beginning \
 *     --formatter io.pmig.platform.inspect.PmigMessageFormatter --formatter-property print.offset=true
 * </pre>
 * The record type is read from the single-object header, so one formatter serves every topic. A record that
 * does not decode is printed with an "error" field instead of stopping the consumer.
 * Properties: print.key (true), print.timestamp (true), print.partition (false), print.offset (false),
 * print.topic (false), max.inline.bytes (1024).
 */
public final class PmigMessageFormatter implements MessageFormatter {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private boolean printKey = true;
    private boolean printTimestamp = true;
    private boolean printPartition;
    private boolean printOffset;
    private boolean printTopic;
    private RecordJson json = new RecordJson(1024);

    @Override
    public void configure(Map<String, ?> configs) {
        printKey = flag(configs, "print.key", printKey);
        printTimestamp = flag(configs, "print.timestamp", printTimestamp);
        printPartition = flag(configs, "print.partition", printPartition);
        printOffset = flag(configs, "print.offset", printOffset);
        printTopic = flag(configs, "print.topic", printTopic);
        Object max = configs.get("max.inline.bytes");
        if (max != null) {
            json = new RecordJson(Integer.parseInt(max.toString().strip()));
        }
    }

    private static boolean flag(Map<String, ?> configs, String key, boolean defaultValue) {
        Object value = configs.get(key);
        return value == null ? defaultValue : Boolean.parseBoolean(value.toString().strip());
    }

    @Override
    public void writeTo(ConsumerRecord<byte[], byte[]> record, PrintStream output) {
        output.println(format(record));
    }

    public String format(ConsumerRecord<byte[], byte[]> record) {
        ObjectNode line = MAPPER.createObjectNode();
        if (printTopic) {
            line.put("topic", record.topic());
        }
        if (printPartition) {
            line.put("partition", record.partition());
        }
        if (printOffset) {
            line.put("offset", record.offset());
        }
        if (printTimestamp && record.timestampType() != TimestampType.NO_TIMESTAMP_TYPE) {
            line.put("timestamp", record.timestamp());
        }
        if (printKey) {
            line.put("key", record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8));
        }
        if (record.value() == null) {
            line.putNull("value");
        } else {
            try {
                var decoded = GenericDecoding.decode(record.value());
                line.put("type", decoded.getSchema().getName());
                line.set("value", json.toJson(decoded));
            } catch (Exception e) {
                line.put("error", "cannot decode " + record.topic() + "-" + record.partition() + "@" + record.offset()
                        + ": " + e.getMessage());
                line.put("bytes", record.value().length);
            }
        }
        return line.toString();
    }
}

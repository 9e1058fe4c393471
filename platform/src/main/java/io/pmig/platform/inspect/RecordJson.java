package io.pmig.platform.inspect;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.schemas.features.FeatureLayout;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.Collection;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericContainer;
import org.apache.avro.generic.GenericEnumSymbol;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.IndexedRecord;

/**
 * Plain JSON for Avro records, as an operator wants to read them: unions unwrapped, enums as strings,
 * large byte fields (model bytes) summarised unless asked for in full, and a NodeScore's features by position
 * ({@link FeatureLayout}) printed by name in its {@code features}, as scores written before positions read.
 */
public final class RecordJson {

    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private final int maxInlineBytes;

    /** @param maxInlineBytes byte fields up to this size are printed as base64; larger ones as their length */
    public RecordJson(int maxInlineBytes) {
        this.maxInlineBytes = maxInlineBytes;
    }

    public JsonNode toJson(Object value) {
        if (value == null) {
            return JSON.nullNode();
        }
        if (value instanceof IndexedRecord record) {
            Map<String, Double> positional = featuresByName(record);
            ObjectNode node = JSON.objectNode();
            for (Schema.Field field : record.getSchema().getFields()) {
                if (positional == null) {
                    node.set(field.name(), toJson(record.get(field.pos())));
                } else if (field.name().equals("features")) {
                    node.set(field.name(), toJson(positional));
                } else if (!field.name().equals("featureValues")) { // shown by name instead
                    node.set(field.name(), toJson(record.get(field.pos())));
                }
            }
            return node;
        }
        if (value instanceof Map<?, ?> map) {
            ObjectNode node = JSON.objectNode();
            map.forEach((k, v) -> node.set(String.valueOf(k), toJson(v)));
            return node;
        }
        if (value instanceof Collection<?> items) {
            ArrayNode node = JSON.arrayNode();
            items.forEach(item -> node.add(toJson(item)));
            return node;
        }
        if (value instanceof ByteBuffer buffer) {
            return bytes(buffer.duplicate());
        }
        if (value instanceof GenericFixed fixed) {
            return bytes(ByteBuffer.wrap(fixed.bytes()));
        }
        if (value instanceof GenericEnumSymbol<?> || value instanceof Enum<?> || value instanceof CharSequence) {
            return JSON.textNode(value.toString());
        }
        if (value instanceof Integer i) {
            return JSON.numberNode(i);
        }
        if (value instanceof Long l) {
            return JSON.numberNode(l);
        }
        if (value instanceof Float f) {
            return JSON.numberNode(f);
        }
        if (value instanceof Double d) {
            return Double.isFinite(d) ? JSON.numberNode(d) : JSON.textNode(d.toString());
        }
        if (value instanceof Boolean b) {
            return JSON.booleanNode(b);
        }
        if (value instanceof GenericContainer container) {
            return JSON.textNode(container.toString());
        }
        return JSON.textNode(value.toString());
    }

    /**
     * A NodeScore's features by position, named by its layout, so that every score reads the same whichever way it was
     * written; null for any other record, and for a layout this build does not know (its values are printed as they are).
     */
    private static Map<String, Double> featuresByName(IndexedRecord record) {
        try {
            return FeatureLayout.byName(record);
        } catch (IllegalArgumentException unknownLayout) {
            return null;
        }
    }

    private JsonNode bytes(ByteBuffer buffer) {
        int length = buffer.remaining();
        if (length > maxInlineBytes) {
            ObjectNode summary = JSON.objectNode();
            summary.put("bytes", length);
            return summary;
        }
        byte[] copy = new byte[length];
        buffer.get(copy);
        return JSON.textNode(Base64.getEncoder().encodeToString(copy));
    }
}

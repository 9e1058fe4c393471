package io.pmig.tools.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The one-line JSON summary a benchmark prints last with --json; NaN (not measured) becomes null. */
public final class JsonLine {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonLine() {
    }

    public static String of(Object value) {
        try {
            return MAPPER.writeValueAsString(clean(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Object clean(Object value) {
        if (value instanceof Double d && (d.isNaN() || d.isInfinite())) {
            return null;
        }
        if (value instanceof Map<?, ?> map) {
            Map<Object, Object> copy = new LinkedHashMap<>();
            map.forEach((k, v) -> copy.put(k, clean(v)));
            return copy;
        }
        if (value instanceof List<?> list) {
            return list.stream().map(JsonLine::clean).toList();
        }
        return value;
    }
}

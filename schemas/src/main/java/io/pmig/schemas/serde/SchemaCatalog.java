package io.pmig.schemas.serde;

import io.pmig.schemas.DeadLetter;
import io.pmig.schemas.AddressClaim;
import io.pmig.schemas.ExecutorClaim;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.CellSummary;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.SystemLimitException;
import org.apache.avro.message.SchemaStore;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.util.ClassSecurityValidator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every record type pmig puts on Kafka, and every schema a reader may meet: the current ones plus the
 * older versions listed in {@code META-INF/pmig/schema-history.list} resources (one .avsc resource path
 * per line). Single-object encoding names the writer schema by fingerprint, so a reader that knows the
 * old schema can resolve bytes written before a field was added.
 *
 * <p><b>Decoding limits.</b> Avro allocates what a length field claims before reading the bytes, so a
 * 200-byte record claiming a 1 GiB string costs 1 GiB of heap (measured with Avro 1.12.2: OutOfMemoryError
 * in a 1 GiB JVM). Loading this class therefore sets Avro's limits, unless the user already set them with
 * -D: {@value #MAX_BYTES} bytes per bytes field (the broker's message.max.bytes: no pmig record can be
 * larger), {@value #MAX_STRING} bytes per string and {@value #MAX_ITEMS} items per array or map.
 * Exceeding one is a decoding error like any other corrupt input.
 */
public final class SchemaCatalog {

    public static final List<Class<? extends org.apache.avro.specific.SpecificRecordBase>> RECORD_TYPES = List.of(
            NodeMetrics.class, NodeScore.class, MigrationCommand.class, MigrationEvent.class,
            ModelUpdate.class, DeadLetter.class, ExecutorClaim.class, AddressClaim.class, CellSummary.class);

    private static final String HISTORY_INDEX = "META-INF/pmig/schema-history.list";

    /** Largest bytes field (a serialised model, a dead letter's value) a decoder accepts. */
    public static final int MAX_BYTES = 64 << 20;
    /** Largest string (ids, argv entries, reasons, error texts) a decoder accepts. */
    public static final int MAX_STRING = 1 << 20;
    /** Most items in one array or map (processes of a node, features, argv) a decoder accepts. */
    public static final int MAX_ITEMS = 1_000_000;

    private static final Logger log = LoggerFactory.getLogger(SchemaCatalog.class);
    private static boolean trusted;
    private static final SchemaStore.Cache STORE = new SchemaStore.Cache();
    private static final Map<Long, Schema> BY_FINGERPRINT = new HashMap<>();

    static {
        limitDecoding();
        trustPmigClasses();
        for (Class<?> type : RECORD_TYPES) {
            register(SpecificData.get().getSchema(type));
        }
        loadHistory();
    }

    private SchemaCatalog() {
    }

    /** The schema store the Serdes decode with. */
    public static SchemaStore store() {
        return STORE;
    }

    /** The writer schema with this 64-bit Rabin fingerprint, or null if pmig has never used it. */
    public static synchronized Schema byFingerprint(long fingerprint) {
        return BY_FINGERPRINT.get(fingerprint);
    }

    /** Make an older or foreign writer schema known to every decoder in this JVM. */
    public static synchronized void register(Schema schema) {
        STORE.addSchema(schema);
        BY_FINGERPRINT.put(SchemaNormalization.parsingFingerprint64(schema), schema);
    }

    /**
     * Avro 1.12.2 refuses to instantiate classes outside its trusted packages; pmig's generated classes
     * must be allowed without requiring every user to pass -Dorg.apache.avro.SERIALIZABLE_PACKAGES. Entry
     * points call this first: even building a record (its enum defaults) goes through the check.
     */
    public static synchronized void trustPmigClasses() {
        if (trusted) {
            return;
        }
        trusted = true;
        ClassSecurityValidator.ClassSecurityPredicate current = ClassSecurityValidator.getGlobal();
        ClassSecurityValidator.setGlobal(ClassSecurityValidator.composite(current,
                type -> type.getName().startsWith("io.pmig.schemas.")));
    }

    /**
     * Avro reads its limits once, when {@link SystemLimitException} is first loaded; every pmig decoder loads
     * this class before decoding, so setting them here takes effect unless something else decoded Avro first.
     */
    private static void limitDecoding() {
        System.getProperties().putIfAbsent(SystemLimitException.MAX_BYTES_LENGTH_PROPERTY, String.valueOf(MAX_BYTES));
        System.getProperties().putIfAbsent(SystemLimitException.MAX_STRING_LENGTH_PROPERTY, String.valueOf(MAX_STRING));
        System.getProperties().putIfAbsent(SystemLimitException.MAX_COLLECTION_LENGTH_PROPERTY, String.valueOf(MAX_ITEMS));
        try {
            SystemLimitException.checkMaxStringLength(Long.parseLong(
                    System.getProperty(SystemLimitException.MAX_STRING_LENGTH_PROPERTY).strip()) + 1);
            log.warn("Avro's decoding limits were fixed before pmig could set them; pass -D{}={} -D{}={} -D{}={} "
                            + "so a corrupt record cannot claim gigabytes of heap",
                    SystemLimitException.MAX_BYTES_LENGTH_PROPERTY, MAX_BYTES,
                    SystemLimitException.MAX_STRING_LENGTH_PROPERTY, MAX_STRING,
                    SystemLimitException.MAX_COLLECTION_LENGTH_PROPERTY, MAX_ITEMS);
        } catch (SystemLimitException | UnsupportedOperationException | NumberFormatException expected) {
            // the limits are in force
        }
    }

    private static void loadHistory() {
        ClassLoader loader = SchemaCatalog.class.getClassLoader();
        try {
            Enumeration<URL> indexes = loader.getResources(HISTORY_INDEX);
            for (URL index : Collections.list(indexes)) {
                try (BufferedReader lines = new BufferedReader(
                        new InputStreamReader(index.openStream(), StandardCharsets.UTF_8))) {
                    String path;
                    while ((path = lines.readLine()) != null) {
                        path = path.strip();
                        if (path.isEmpty() || path.startsWith("#")) {
                            continue;
                        }
                        try (InputStream in = loader.getResourceAsStream(path)) {
                            if (in == null) {
                                throw new IllegalStateException(index + " lists " + path + ", which is not on the classpath");
                            }
                            register(new Schema.Parser().parse(in));
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + HISTORY_INDEX, e);
        }
    }
}

package io.pmig.schemas.serde;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.BadHeaderException;
import org.apache.avro.message.MissingSchemaException;

/**
 * Decodes single-object-encoded bytes of any pmig record type without knowing the type up front: the
 * header's fingerprint names the writer schema. Used by inspection tools, which read every topic.
 * Any input that is not a whole pmig record is refused with an {@link IOException}: Avro's own failures on
 * corrupt bodies (EOF, bad union index, a length beyond {@link SchemaCatalog}'s limits, ...) are wrapped.
 */
public final class GenericDecoding {

    private static final byte MARKER_0 = (byte) 0xC3;
    private static final byte MARKER_1 = (byte) 0x01;
    private static final int HEADER_LENGTH = 10;

    private GenericDecoding() {
    }

    public static GenericRecord decode(byte[] bytes) throws IOException {
        if (bytes.length < HEADER_LENGTH || bytes[0] != MARKER_0 || bytes[1] != MARKER_1) {
            throw new IOException("not Avro single-object encoded (missing C3 01 marker)",
                    new BadHeaderException("missing C3 01 marker"));
        }
        long fingerprint = ByteBuffer.wrap(bytes, 2, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        Schema schema = SchemaCatalog.byFingerprint(fingerprint);
        if (schema == null) {
            throw new IOException("unknown schema fingerprint " + Long.toHexString(fingerprint),
                    new MissingSchemaException(Long.toHexString(fingerprint)));
        }
        GenericDatumReader<GenericRecord> reader = new GenericDatumReader<>(schema, schema, GenericData.get());
        var decoder = DecoderFactory.get().binaryDecoder(bytes, HEADER_LENGTH, bytes.length - HEADER_LENGTH, null);
        GenericRecord record;
        try {
            record = reader.read(null, decoder);
        } catch (RuntimeException e) {
            // the fuzz tests meet AvroRuntimeException, UnsupportedOperationException, IndexOutOfBounds...
            throw new IOException("not a valid " + schema.getName() + " record: " + e, e);
        }
        if (!decoder.isEnd()) {
            throw new IOException("trailing bytes after " + schema.getName() + " record");
        }
        return record;
    }
}

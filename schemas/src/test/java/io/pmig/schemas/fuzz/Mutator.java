package io.pmig.schemas.fuzz;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Makes fuzz inputs from a corpus of valid encodings: mostly small corruptions of a valid input (they get past
 * the header checks and reach the decoder's interior), some pure noise. Length tampering writes an Avro
 * zig-zag varint at a random offset, which is how a record claims a huge string, bytes field or array.
 */
public final class Mutator {

    /** What an input was made by; counts per kind go in the fuzz report. */
    public enum Kind { RANDOM, BIT_FLIPS, INTERESTING_BYTES, TRUNCATE, EXTEND, LENGTH_TAMPER, SPLICE, DUPLICATE_CHUNK, DELETE_CHUNK }

    private static final Kind[] KINDS = Kind.values();
    private static final long[] CLAIMS = {
        -1, -2, 0, 1, 127, 128, 255, 1 << 16, 1 << 20, 1 << 24, 64L << 20, 1 << 30,
        Integer.MAX_VALUE - 8L, Integer.MAX_VALUE, 1L << 32, Long.MAX_VALUE, Long.MIN_VALUE, -(1L << 31)};
    private static final byte[] INTERESTING = {0, 1, (byte) 0x7F, (byte) 0x80, (byte) 0xFF, (byte) 0xFE, (byte) 0xC3, 0x01};

    private final List<byte[]> corpus;
    private final Random random;
    private final int maxRandomLength;

    public Mutator(List<byte[]> corpus, Random random, int maxRandomLength) {
        if (corpus.isEmpty()) {
            throw new IllegalArgumentException("a mutator needs at least one valid input");
        }
        this.corpus = List.copyOf(corpus);
        this.random = random;
        this.maxRandomLength = maxRandomLength;
    }

    public Kind nextKind() {
        // one input in ten is pure noise; the rest start from a valid encoding
        return random.nextInt(10) == 0 ? Kind.RANDOM : KINDS[1 + random.nextInt(KINDS.length - 1)];
    }

    public byte[] make(Kind kind) {
        byte[] base = pick();
        return switch (kind) {
            case RANDOM -> randomBytes(random.nextInt(maxRandomLength + 1));
            case BIT_FLIPS -> {
                byte[] out = base.clone();
                for (int i = 1 + random.nextInt(8); i > 0 && out.length > 0; i--) {
                    out[random.nextInt(out.length)] ^= (byte) (1 << random.nextInt(8));
                }
                yield out;
            }
            case INTERESTING_BYTES -> {
                byte[] out = base.clone();
                for (int i = 1 + random.nextInt(4); i > 0 && out.length > 0; i--) {
                    out[random.nextInt(out.length)] = INTERESTING[random.nextInt(INTERESTING.length)];
                }
                yield out;
            }
            case TRUNCATE -> Arrays.copyOf(base, base.length == 0 ? 0 : random.nextInt(base.length));
            case EXTEND -> concat(base, randomBytes(1 + random.nextInt(64)));
            case LENGTH_TAMPER -> lengthTamper(base);
            case SPLICE -> {
                byte[] other = pick();
                int cut = base.length == 0 ? 0 : random.nextInt(base.length + 1);
                int from = other.length == 0 ? 0 : random.nextInt(other.length + 1);
                yield concat(Arrays.copyOf(base, cut), Arrays.copyOfRange(other, from, other.length));
            }
            case DUPLICATE_CHUNK -> {
                if (base.length == 0) {
                    yield base;
                }
                int start = random.nextInt(base.length);
                int end = start + 1 + random.nextInt(Math.min(32, base.length - start));
                yield concat(concat(Arrays.copyOf(base, end), Arrays.copyOfRange(base, start, end)),
                        Arrays.copyOfRange(base, end, base.length));
            }
            case DELETE_CHUNK -> {
                if (base.length == 0) {
                    yield base;
                }
                int start = random.nextInt(base.length);
                int end = start + 1 + random.nextInt(Math.min(32, base.length - start));
                yield concat(Arrays.copyOf(base, start), Arrays.copyOfRange(base, end, base.length));
            }
        };
    }

    /** Replaces the varint at a random offset with a hostile length (negative, huge, just past a limit). */
    private byte[] lengthTamper(byte[] base) {
        int at = base.length == 0 ? 0 : random.nextInt(base.length);
        int end = at;
        while (end < base.length && (base[end] & 0x80) != 0) {
            end++;
        }
        end = Math.min(end + 1, base.length);
        long claim = CLAIMS[random.nextInt(CLAIMS.length)];
        ByteArrayOutputStream out = new ByteArrayOutputStream(base.length + 10);
        out.write(base, 0, at);
        writeZigZag(out, claim);
        out.write(base, end, base.length - end);
        return out.toByteArray();
    }

    /** Avro's long encoding. */
    public static void writeZigZag(ByteArrayOutputStream out, long value) {
        long z = (value << 1) ^ (value >> 63);
        while ((z & ~0x7FL) != 0) {
            out.write((int) ((z & 0x7F) | 0x80));
            z >>>= 7;
        }
        out.write((int) z);
    }

    private byte[] pick() {
        return corpus.get(random.nextInt(corpus.size()));
    }

    private byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

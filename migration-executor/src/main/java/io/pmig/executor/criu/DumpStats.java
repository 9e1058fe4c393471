package io.pmig.executor.criu;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What criu measured about one dump, read from its {@code stats-dump} image (protobuf {@code dump_stats_entry}
 * inside a {@code stats_entry}): how long freezing the tree took and how long the memory dump ran. These are
 * criu's own clocks, so "freeze" means exactly the time the workload was being stopped.
 */
public record DumpStats(long freezingMicros, long frozenMicros, long memdumpMicros, long memwriteMicros,
                        long pagesWritten) {

    static final DumpStats NONE = new DumpStats(0, 0, 0, 0, 0);

    /** Reads the stats of a finished dump; {@link #NONE} when criu wrote none (never fatal). */
    public static DumpStats read(Path imagesDir) {
        Path file = imagesDir.resolve("stats-dump");
        try {
            if (!Files.isRegularFile(file)) {
                return NONE;
            }
            ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            buf.getInt(); // service-image magic
            buf.getInt(); // stats magic
            int size = buf.getInt();
            ByteBuffer entry = buf.slice().limit(size);
            // stats_entry { optional dump_stats_entry dump = 1; }
            while (entry.hasRemaining()) {
                long key = varint(entry);
                if (key >>> 3 == 1 && (key & 7) == 2) {
                    int len = (int) varint(entry);
                    return parseDump(entry.slice().limit(len));
                }
                skip(entry, (int) (key & 7));
            }
        } catch (IOException | RuntimeException e) {
            return NONE;
        }
        return NONE;
    }

    private static DumpStats parseDump(ByteBuffer b) {
        long[] fields = new long[16];
        while (b.hasRemaining()) {
            long key = varint(b);
            int field = (int) (key >>> 3);
            int wire = (int) (key & 7);
            if (wire == 0 && field < fields.length) {
                fields[field] = varint(b);
            } else {
                skip(b, wire);
            }
        }
        // dump_stats_entry: 1 freezing_time, 2 frozen_time, 3 memdump_time, 4 memwrite_time, 7 pages_written
        return new DumpStats(fields[1], fields[2], fields[3], fields[4], fields[7]);
    }

    private static long varint(ByteBuffer b) {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte x = b.get();
            value |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) {
                return value;
            }
        }
        throw new IllegalArgumentException("bad varint");
    }

    private static void skip(ByteBuffer b, int wire) {
        switch (wire) {
            case 0 -> varint(b);
            case 1 -> b.position(b.position() + 8);
            case 2 -> b.position(b.position() + (int) varint(b));
            case 5 -> b.position(b.position() + 4);
            default -> throw new IllegalArgumentException("bad wire type " + wire);
        }
    }
}

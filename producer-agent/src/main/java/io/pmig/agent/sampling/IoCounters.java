package io.pmig.agent.sampling;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Cumulative host disk and network byte counters at one instant, read from {@code /proc/diskstats} and
 * {@code /proc/net/dev}; rates come from the difference of two readings. OSHI's disk stores re-enumerate
 * devices through udev on every update (3-6 ms here), two small /proc files are enough.
 * <p>
 * Disks: only whole physical devices (those with {@code /sys/block/<name>/device}), so partitions, device
 * mapper, loop and zram devices are not counted twice or as disk traffic. Network: every interface but
 * loopback, whose traffic never leaves the host.
 */
public record IoCounters(long diskReadBytes, long diskWriteBytes, long netRxBytes, long netTxBytes, long readAtNanos) {

    private static final int SECTOR_BYTES = 512; // /proc/diskstats counts 512-byte sectors whatever the device's

    public static IoCounters read() {
        long now = System.nanoTime();
        long diskRead = 0;
        long diskWrite = 0;
        for (String line : readLines(Path.of("/proc/diskstats"))) {
            String[] f = line.strip().split("\\s+");
            if (f.length < 10 || !Files.exists(Path.of("/sys/block", f[2], "device"))) {
                continue;
            }
            diskRead += Long.parseLong(f[5]) * SECTOR_BYTES;
            diskWrite += Long.parseLong(f[9]) * SECTOR_BYTES;
        }
        long netRx = 0;
        long netTx = 0;
        for (String line : readLines(Path.of("/proc/net/dev"))) {
            int colon = line.indexOf(':');
            if (colon < 0 || line.substring(0, colon).strip().equals("lo")) {
                continue; // header lines have no colon
            }
            String[] f = line.substring(colon + 1).strip().split("\\s+");
            netRx += Long.parseLong(f[0]);
            netTx += Long.parseLong(f[8]);
        }
        return new IoCounters(diskRead, diskWrite, netRx, netTx, now);
    }

    /** Bytes per second between two readings. */
    public record Rates(double diskReadPerSec, double diskWritePerSec, double netRxPerSec, double netTxPerSec) {
    }

    /** Rates of each counter since an earlier reading; counters that went backwards read as 0. */
    public Rates ratesSince(IoCounters earlier) {
        double seconds = (readAtNanos - earlier.readAtNanos) / 1e9;
        if (seconds <= 0) {
            return new Rates(0, 0, 0, 0);
        }
        return new Rates(
                rate(diskReadBytes - earlier.diskReadBytes, seconds),
                rate(diskWriteBytes - earlier.diskWriteBytes, seconds),
                rate(netRxBytes - earlier.netRxBytes, seconds),
                rate(netTxBytes - earlier.netTxBytes, seconds));
    }

    private static double rate(long delta, double seconds) {
        return delta < 0 ? 0 : delta / seconds; // an interface or disk went away between readings
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            return List.of(); // not Linux, or a restricted /proc: report zero traffic rather than fail the sample
        }
    }
}

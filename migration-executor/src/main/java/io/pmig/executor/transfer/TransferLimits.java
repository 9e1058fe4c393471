package io.pmig.executor.transfer;

/**
 * Caps on what one session may write, so a peer cannot fill the destination's disk; {@code maxFiles} counts every
 * entry (directories, links and nodes too).
 */
public record TransferLimits(long maxFileBytes, long maxSessionBytes, int maxFiles) {

    public static TransferLimits defaults() {
        return new TransferLimits(16L << 30, 64L << 30, 100_000);
    }
}

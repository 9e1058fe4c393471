package io.pmig.executor.transfer;

/** What crossed: the number of files and bytes written into the session directory. */
public record TransferReceipt(int files, long bytes) {
}

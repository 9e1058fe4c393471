package io.pmig.cli.fault;

import java.util.ArrayList;
import java.util.List;

/** The memory fault's process: holds on to a growing amount of touched memory, then exits. */
public final class MemoryLeak {

    private MemoryLeak() {
    }

    public static void main(String[] args) throws InterruptedException {
        int mibPerSecond = Integer.parseInt(args[0]);
        long endAt = System.currentTimeMillis() + Long.parseLong(args[1]) * 1000;
        List<byte[]> held = new ArrayList<>();
        while (System.currentTimeMillis() < endAt) {
            for (int i = 0; i < mibPerSecond; i++) {
                byte[] chunk = new byte[1 << 20];
                for (int page = 0; page < chunk.length; page += 4096) {
                    chunk[page] = 1; // touch every page so it counts in RSS
                }
                held.add(chunk);
            }
            Thread.sleep(1000);
        }
        System.out.println("released " + held.size() + " MiB");
    }
}

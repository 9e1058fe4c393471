package io.pmig.executor.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The announce after a restore keeps the workload's own MAC: it once read the MAC from /sys, which under
 * {@code nsenter --net} is still the executor's namespace, and so gave the workload the node's own eth0 MAC. With the
 * MAC pmig gave a namespace it built, the announcement skips reading it and must still send the ARP.
 */
class WorkloadNetworkAnnounceTest {

    @Test
    void theAnnounceSetsTheWorkloadsOwnMacAgainAndSendsAGratuitousArp() throws Exception {
        announceAndCheck(Optional.empty());
    }

    @Test
    void theAnnounceWithTheMacPmigGaveTheNamespaceSendsAGratuitousArpToo() throws Exception {
        announceAndCheck(Optional.of("02:7a:11:22:33:44"));
    }

    private static void announceAndCheck(Optional<String> knownMac) throws Exception {
        String ns = "pn" + UUID.randomUUID().toString().substring(0, 6) + "an";
        String mac = "02:7a:11:22:33:44";
        Process inside = null;
        try {
            sh("ip netns add " + ns + " && ip link add " + ns + "h type veth peer name eth0 netns " + ns
                    + " && ip -n " + ns + " link set eth0 address " + mac + " && ip -n " + ns + " addr add 10.213.250.9/24 dev eth0"
                    + " && ip -n " + ns + " link set eth0 up && ip link set " + ns + "h up");
            inside = new ProcessBuilder("ip", "netns", "exec", ns, "sleep", "120").start(); // ip netns exec execs sleep
            long before = txPackets(ns);
            WorkloadNetwork.announce((int) inside.pid(), knownMac);
            assertEquals(mac, sh("ip -n " + ns + " -o link show eth0 | sed -n 's|.* link/ether \\([0-9a-f:]*\\) .*|\\1|p'"),
                    "the workload's MAC changed");
            assertTrue(txPackets(ns) > before, "no gratuitous ARP left the workload's eth0");
        } finally {
            if (inside != null) {
                inside.destroyForcibly();
            }
            sh("ip netns del " + ns + " 2>/dev/null; true");
        }
    }

    private static long txPackets(String ns) throws Exception {
        return Long.parseLong(sh("ip netns exec " + ns + " cat /sys/class/net/eth0/statistics/tx_packets"));
    }

    private static String sh(String script) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, script + ": " + out);
        return out;
    }
}

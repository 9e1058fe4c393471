package io.pmig.executor;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A cluster's workload segment made of real kernel devices, all this test's own: one bridge per node (its workload
 * bridge), each joined by a veth "cable" to a switch bridge, and a client in a network namespace of its own plugged into
 * the switch. A workload that moves from node a to node b moves from a's bridge to b's, so the switch must learn its
 * MAC on another port - as between hosts on one L2 segment. No device has an address in the node's namespace: no
 * traffic leaves the segment.
 */
final class TestSegment implements AutoCloseable {

    final String tag = "pn" + UUID.randomUUID().toString().substring(0, 5);
    /** The segment, a /24 of the 10.213.0.0/16 default range picked per run; the client has its router address. */
    final String range;
    final String clientAddress;
    final String clientNamespace = tag + "cl";
    private final String switchBridge = tag + "sw";
    private final List<String> nodes = new ArrayList<>();

    TestSegment() throws Exception {
        int subnet = 1 + (int) (Math.random() * 250);
        range = "10.213." + subnet + ".0/24";
        clientAddress = "10.213." + subnet + ".1";
        sh(bridge(switchBridge)
                + " && ip netns add " + clientNamespace + " && ip -n " + clientNamespace + " link set lo up"
                + " && ip link add " + tag + "c type veth peer name eth0 netns " + clientNamespace
                + " && ip link set " + tag + "c master " + switchBridge + " up"
                + " && ip -n " + clientNamespace + " addr add " + clientAddress + "/24 dev eth0"
                + " && ip -n " + clientNamespace + " link set eth0 up");
    }

    /** Node {@code name}'s workload bridge, cabled to the switch; its name is what the executor is configured with. */
    String nodeBridge(String name) throws Exception {
        String bridge = tag + "b" + name;
        sh(bridge(bridge) + " && ip link add " + tag + "u" + name + " type veth peer name " + tag + "s" + name
                + " && ip link set " + tag + "u" + name + " master " + bridge + " up"
                + " && ip link set " + tag + "s" + name + " master " + switchBridge + " up");
        nodes.add(name);
        return bridge;
    }

    /** argv run in the client's namespace. */
    List<String> inClient(String... argv) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", clientNamespace));
        cmd.addAll(List.of(argv));
        return cmd;
    }

    @Override
    public void close() throws Exception {
        StringBuilder script = new StringBuilder("ip netns del " + clientNamespace + "; ip link del " + switchBridge + ";");
        for (String node : nodes) {
            script.append(" ip link del ").append(tag).append("b").append(node).append("; ip link del ")
                    .append(tag).append("u").append(node).append(";");
        }
        sh(script + " true");
    }

    /** A bridge that is up, forwards at once (no STP delay) and has no IPv6 of its own. */
    private static String bridge(String name) {
        return "ip link add " + name + " type bridge forward_delay 0 && sysctl -qw net.ipv6.conf." + name
                + ".disable_ipv6=1 && ip link set " + name + " up";
    }

    static String sh(String script) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, script + ": " + out);
        return out;
    }
}

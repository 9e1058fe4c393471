package io.pmig.executor.network;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

/** The namespace a destination builds compares equal to the running workload's unless the workload changed it. */
class NamespaceContentsTest {

    /** A workload's namespace, its host side up for a while (recorded with {@link NamespaceContents#script}). */
    private static final String RUNNING = """
            # link
            1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
            2: eth0@if91: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 02:11:22:33:44:55 brd ff:ff:ff:ff:ff:ff link-netnsid 0
            # addr
            1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
            1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever
            2: eth0    inet 10.213.9.5/24 scope global eth0\\       valid_lft forever preferred_lft forever
            2: eth0    inet6 fe80::11:22ff:fe33:4455/64 scope link \\       valid_lft forever preferred_lft forever
            # route
            10.213.9.0/24 dev eth0 proto kernel scope link src 10.213.9.5
            local 10.213.9.5 dev eth0 table local proto kernel scope host src 10.213.9.5
            broadcast 10.213.9.255 dev eth0 table local proto kernel scope link src 10.213.9.5
            fe80::/64 dev eth0 proto kernel metric 256 pref medium
            local ::1 dev lo table local proto kernel metric 0 pref medium
            local fe80::11:22ff:fe33:4455 dev eth0 table local proto kernel metric 0 pref medium
            multicast ff00::/8 dev eth0 table local proto kernel metric 256 pref medium
            # rule
            0:	from all lookup local
            32766:	from all lookup main
            # nft
            # iptables
            # sysctl
            /proc/sys/net/ipv4/conf/eth0/arp_notify:1
            """;

    /** The same namespace just built by a destination: its host side still down and off the bridge. */
    private static final String BUILT = """
            # link
            1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
            2: eth0@if92: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN mode DEFAULT group default qlen 1000\\    link/ether 02:11:22:33:44:55 brd ff:ff:ff:ff:ff:ff link-netnsid 0
            # addr
            1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
            1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever
            2: eth0    inet 10.213.9.5/24 scope global eth0\\       valid_lft forever preferred_lft forever
            # route
            10.213.9.0/24 dev eth0 proto kernel scope link src 10.213.9.5 linkdown
            local 10.213.9.5 dev eth0 table local proto kernel scope host src 10.213.9.5
            broadcast 10.213.9.255 dev eth0 table local proto kernel scope link src 10.213.9.5 linkdown
            local ::1 dev lo table local proto kernel metric 0 pref medium
            # rule
            0:	from all lookup local
            32766:	from all lookup main
            # nft
            # iptables
            # sysctl
            /proc/sys/net/ipv4/conf/eth0/arp_notify:1
            """;

    @Test
    void aNamespaceBuiltForTheWorkloadEqualsItsRunningOneDespiteCarrierIndexesAndLinkLocalAddresses() {
        assertEquals(NamespaceContents.normalise(RUNNING), NamespaceContents.normalise(BUILT),
                NamespaceContents.firstDifference(NamespaceContents.normalise(RUNNING), NamespaceContents.normalise(BUILT)));
        assertEquals(NamespaceContents.digest(NamespaceContents.normalise(RUNNING)),
                NamespaceContents.digest(NamespaceContents.normalise(BUILT)));
    }

    @Test
    void whatTheWorkloadSetUpInItsNamespaceMakesItDiffer() {
        String base = NamespaceContents.normalise(BUILT);
        assertNotEquals(base, NamespaceContents.normalise(RUNNING.replace("# rule",
                "default via 10.213.9.254 dev eth0\n# rule")), "a route");
        assertNotEquals(base, NamespaceContents.normalise(RUNNING.replace("# iptables",
                "table inet filter {\n}\n# iptables")), "an nft table");
        assertNotEquals(base, NamespaceContents.normalise(RUNNING.replace("arp_notify:1", "arp_notify:1\n"
                + "/proc/sys/net/ipv4/conf/all/forwarding:1")), "a sysctl criu carries");
        assertNotEquals(base, NamespaceContents.normalise(RUNNING.replace("02:11:22:33:44:55", "02:11:22:33:44:56")),
                "another MAC");
        assertNotEquals(base, NamespaceContents.normalise(RUNNING.replace("# route",
                "3: eth0    inet 10.213.9.6/24 scope global secondary eth0\n# route")), "a second address");
        assertNotEquals(base, NamespaceContents.normalise(RUNNING.replace("# addr",
                "3: dummy0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN\\    link/ether 16:fc:25:79:5f:7f brd ff:ff:ff:ff:ff:ff\n# addr")),
                "a second link");
    }
}

package io.pmig.platform.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class HostPortTest {

    @Test
    void hostPortAndBracketedIpv6() {
        assertEquals(new HostPort("10.0.0.1", 7070), HostPort.parse("--listen", "10.0.0.1:7070"));
        assertEquals(new HostPort("kafka", 9092), HostPort.parse("--bootstrap-server", " kafka:9092 "));
        assertEquals(new HostPort("::1", 0), HostPort.parse("--listen", "[::1]:0"));
        assertEquals(new HostPort("fe80::1%eth0", 65535), HostPort.parse("--listen", "[fe80::1%eth0]:65535"));
        assertEquals("[::1]:7070", new HostPort("::1", 7070).toString());
        assertEquals("10.0.0.1:7070", new HostPort("10.0.0.1", 7070).toString());
        assertEquals(new InetSocketAddress(InetAddress.getLoopbackAddress(), 9),
                HostPort.parse("--listen", InetAddress.getLoopbackAddress().getHostAddress() + ":9").toSocketAddress());
        assertEquals(new HostPort("127.0.0.1", 5), HostPort.of(new InetSocketAddress("127.0.0.1", 5)));
    }

    @Test
    void aListSeparatedByCommas() {
        assertEquals(List.of(new HostPort("a", 1), new HostPort("::1", 2)),
                HostPort.parseList("--bootstrap-server", "a:1, [::1]:2"));
    }

    @Test
    void aBadEndpointIsRefusedNamingTheKeyAndSayingWhatIsAccepted() {
        for (String text : new String[] {"", "localhost", ":9092", "host:", "host:port", "host:65536", "host:-1",
                "::1:9092", "[::1]9092", "a b:1", "host:99999999"}) {
            ConfigException e = assertThrows(ConfigException.class, () -> HostPort.parse("--listen", text), text);
            assertEquals("--listen", e.key());
            assertTrue(e.getMessage().contains("HOST:PORT or [IPv6]:PORT, port 0 to 65535"), e.getMessage());
        }
        assertEquals("--listen: 'localhost' is not HOST:PORT or [IPv6]:PORT, port 0 to 65535, e.g. 10.0.0.1:7070",
                assertThrows(ConfigException.class, () -> HostPort.parse("--listen", "localhost")).getMessage());
        for (String text : new String[] {"a:1,", "a:1,,b:2", ""}) {
            ConfigException e = assertThrows(ConfigException.class, () -> HostPort.parseList("--bootstrap-server", text));
            assertEquals("--bootstrap-server", e.key());
        }
    }
}

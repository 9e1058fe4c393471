package io.pmig.cli.provision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Vagrantfile cannot boot here (no VirtualBox), so the suite checks what it can: Ruby accepts its syntax, and
 * evaluated against a recording stand-in for Vagrant ({@code scripts/check-vagrantfile.rb}) it defines the documented
 * topology and provisions every VM with the project's own shared script, which exists and parses.
 */
class VagrantfileTest {

    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @BeforeAll
    static void needsRuby() throws Exception {
        if (run(List.of("sh", "-c", "command -v ruby")).exitCode != 0) {
            if ("1".equals(System.getenv("PMIG_REQUIRE_RUBY"))) {
                fail("ruby is required here (PMIG_REQUIRE_RUBY=1; scripts/test.sh installs it) but is missing");
            }
            Assumptions.abort("Vagrantfile checks skipped: no ruby (apt-get install ruby)");
        }
    }

    @Test
    void rubyAcceptsTheVagrantfileSyntax() throws Exception {
        Result r = run(List.of("ruby", "-c", ROOT.resolve("Vagrantfile").toString()));
        assertEquals(0, r.exitCode, r.output);
        assertTrue(r.output.contains("Syntax OK"), r.output);
    }

    @Test
    void threeNodesOnThePrivateNetworkWithTheControllerRolesOnNode1() throws Exception {
        JsonNode topology = evaluate();
        assertEquals("debian/bookworm64", topology.path("box").asText());
        Map<String, String> expected = Map.of("node1", "192.168.33.11", "node2", "192.168.33.12", "node3", "192.168.33.13");
        assertEquals(3, topology.path("machines").size());
        for (JsonNode m : topology.path("machines")) {
            String name = m.path("name").asText();
            assertEquals(expected.get(name), m.path("ips").path(0).asText(), name);
            assertEquals(name, m.path("hostname").asText());
            List<String> args = shellArgs(m);
            assertEquals(name, args.get(args.indexOf("--node") + 1));
            assertEquals(expected.get(name), args.get(args.indexOf("--address") + 1));
            assertEquals("192.168.33.11:9092", args.get(args.indexOf("--bootstrap") + 1), "every node uses node1's broker");
            assertEquals(name.equals("node1"), args.contains("--controller"), name + ": only node1 runs broker/analytics/dashboard");
        }
    }

    @Test
    void provisioningRunsTheSharedScriptsWhichExistAndParse() throws Exception {
        for (JsonNode m : evaluate().path("machines")) {
            JsonNode shell = shell(m);
            String inline = shell.path("inline").asText();
            String prefix = "/opt/pmig/src/"; // where the Vagrantfile syncs this repository
            int at = inline.indexOf(prefix);
            assertTrue(at >= 0, "provisioning runs a script of the synced repository: " + inline);
            Path script = ROOT.resolve(inline.substring(at + prefix.length()).split("[\\s\"]")[0]);
            assertTrue(Files.isExecutable(script), script + " must exist and be executable");
        }
        Path provision = ROOT.resolve("scripts/provision-node.sh");
        String text = Files.readString(provision);
        assertTrue(text.contains("source \"$here/prerequisites.sh\"") && text.contains("ensure_criu")
                && text.contains("ensure_build_tools"), "provision-node.sh reuses the shared installers, not copies of them");
        for (String s : List.of("scripts/provision-node.sh", "scripts/prerequisites.sh", "scripts/install-criu.sh")) {
            Result r = run(List.of("bash", "-n", ROOT.resolve(s).toString()));
            assertEquals(0, r.exitCode, s + ": " + r.output);
        }
    }

    private static JsonNode evaluate() throws Exception {
        Path copy = Files.createTempDirectory("pmig-vagrant");
        try {
            // evaluated on a copy: the Vagrantfile writes .vagrant/pmig-transfer.secret beside itself
            Files.copy(ROOT.resolve("Vagrantfile"), copy.resolve("Vagrantfile"));
            Result r = run(List.of("ruby", ROOT.resolve("scripts/check-vagrantfile.rb").toString(),
                    copy.resolve("Vagrantfile").toString()));
            assertEquals(0, r.exitCode, r.output);
            return new ObjectMapper().readTree(r.output.lines().reduce((a, b) -> b).orElse("{}"));
        } finally {
            try (var walk = Files.walk(copy)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static JsonNode shell(JsonNode machine) {
        for (JsonNode p : machine.path("provisioners")) {
            if (p.path("type").asText().equals("shell")) {
                return p;
            }
        }
        throw new AssertionError(machine.path("name").asText() + " has no shell provisioner");
    }

    private static List<String> shellArgs(JsonNode machine) {
        List<String> args = new ArrayList<>();
        shell(machine).path("args").forEach(a -> args.add(a.asText()));
        return args;
    }

    private record Result(int exitCode, String output) {
    }

    private static Result run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(cmd + " did not finish in 60 s");
        }
        return new Result(p.exitValue(), out);
    }
}

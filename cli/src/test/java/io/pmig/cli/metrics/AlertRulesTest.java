package io.pmig.cli.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * compose/alerts.yml, by Prometheus's own tool: the rules are valid, each alert fires on the series that should raise
 * it and stays quiet on healthy ones ({@code promtool test rules compose/alerts.test.yml}), and every alert and series
 * the rules use is tested and documented. PrometheusScrapeTest loads the same file into a running Prometheus.
 */
class AlertRulesTest {

    static final Path RULES = Path.of("..", "compose", "alerts.yml");
    private static final Path RULE_TESTS = Path.of("..", "compose", "alerts.test.yml");

    @Test
    void promtoolValidatesTheRulesAndTheirTestsPass() throws Exception {
        assertEquals("", promtool("check", "rules", RULES.getFileName().toString()));
        assertEquals("", promtool("test", "rules", RULE_TESTS.getFileName().toString()));
    }

    @Test
    void everyAlertIsTestedFiringAndEverySeriesItUsesIsDocumented() throws Exception {
        String tests = Files.readString(RULE_TESTS);
        String readme = Files.readString(Path.of("..", "README.md"));
        assertTrue(alertNames().size() >= 7, alertNames().toString());
        for (String alert : alertNames()) {
            // a case that expects it to fire: its name followed by a non-empty exp_alerts list
            assertTrue(Pattern.compile("alertname: " + alert + "\\s+exp_alerts:\\s+- ").matcher(tests).find(),
                    alert + " has no case where it fires in " + RULE_TESTS);
            assertTrue(readme.contains("`" + alert + "`"), "README's Metrics section lists " + alert);
        }
        Matcher series = Pattern.compile("pmig_[a-z_]+").matcher(Files.readString(RULES));
        while (series.find()) {
            assertTrue(readme.contains("`" + series.group() + "`"), "README documents " + series.group());
        }
    }

    static List<String> alertNames() throws Exception {
        List<String> names = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^\\s*- alert: (\\S+)").matcher(Files.readString(RULES));
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /** Runs promtool in compose/ (the tests name the rules file relative to it); its output if it failed, else "". */
    private static String promtool(String... args) throws Exception {
        Path promtool = PrometheusScrapeTest.Prometheus.binary().resolveSibling("promtool");
        List<String> cmd = new ArrayList<>(List.of(promtool.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(RULES.getParent().toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "promtool did not finish");
        return p.exitValue() == 0 ? "" : out;
    }
}

package io.pmig.cli.dashboard;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.platform.testing.Scrape;
import io.pmig.platform.testing.SharedBroker;
import io.pmig.platform.topics.Topic;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.SamplingMode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard in a real headless Chromium (Debian's package): the page loads and renders node cards, the
 * charts gain points as metrics arrive, and a migration's events appear on the timeline. A screenshot is
 * kept in target/ for a person to look at.
 */
class DashboardBrowserTest {

    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    @Test
    void pageShowsLiveChartsAndAMigration(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM),
                "Debian's chromium is not installed (scripts/test.sh installs it; CI always runs this test)");
        var props = SharedBroker.clientProperties();
        AtomicBoolean publishing = new AtomicBoolean(true);
        try (var producer = new KafkaProducer<String, byte[]>(props, new StringSerializer(), new ByteArraySerializer());
             DashboardServer dashboard = new DashboardServer(props, List.of(), new InetSocketAddress("127.0.0.1", 0)).start()) {
            Thread metrics = new Thread(() -> {
                long seq = 0;
                while (publishing.get()) {
                    for (String node : List.of("node-1", "node-2")) {
                        producer.send(new ProducerRecord<>(Topic.METRICS.topicName(), node,
                                Topic.METRICS.<NodeMetrics>serde().encode(sample(node, seq))));
                    }
                    seq++;
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            metrics.start();

            String first = chromium(tmp, "--dump-dom", dashboard.url());
            int pointsBefore = points(first, "node-1");
            assertTrue(pointsBefore > 0, "node-1's chart has points: " + first);
            assertTrue(first.contains("w-witness"), "the workload table lists the witness");

            for (Phase phase : List.of(Phase.ACCEPTED, Phase.PREPARED, Phase.FROZEN, Phase.DUMPED, Phase.TRANSFERRED,
                    Phase.RESTORED, Phase.COMPLETED)) {
                producer.send(new ProducerRecord<>(Topic.EVENTS.topicName(), "w-witness",
                        Topic.EVENTS.<MigrationEvent>serde().encode(event(phase)))).get();
            }
            Thread.sleep(1500); // let metrics arrive after the first look; the assertion is on the page, not the clock

            String second = chromium(tmp, "--dump-dom", dashboard.url());
            assertTrue(points(second, "node-1") > pointsBefore, "charts got new points");
            assertTrue(second.contains("data-migration=\"mig-browser\""), "the migration is on the timeline");
            assertTrue(second.contains("COMPLETED") && second.contains("downtime 120 ms"), "with its outcome and timings");

            Scrape scrape = Scrape.of(dashboard.url() + "metrics");
            assertTrue(scrape.value("kafka_consumer_fetch_manager_records_consumed_total", "role", "dashboard") > 0,
                    "the dashboard's /metrics shows its consumer: " + scrape.find("kafka_consumer_fetch_manager_records_consumed_total"));

            Path screenshot = Path.of("target", "dashboard-screenshot.png").toAbsolutePath();
            chromium(tmp, "--screenshot=" + screenshot, "--window-size=1400,1100", dashboard.url());
            assertTrue(Files.size(screenshot) > 10_000, "screenshot written to " + screenshot);
            publishing.set(false);
            metrics.join();
        }
    }

    private static NodeMetrics sample(String node, long seq) {
        double cpu = node.equals("node-2") ? 60 + (seq % 20) * 2 : 10 + (seq % 5);
        List<ProcessSample> processes = new ArrayList<>();
        if (node.equals("node-2")) {
            processes.add(ProcessSample.newBuilder().setWorkloadId("w-witness").setPid(4242).setName("sh")
                    .setCpuPercent(3.0).setRssBytes(2 << 20).setMigratable(true).build());
        }
        return NodeMetrics.newBuilder().setNodeId(node).setTimestampMs(System.currentTimeMillis()).setSequence(seq)
                .setAgentStartMs(0).setMode(SamplingMode.SIMULATED).setCpuPercent(cpu)
                .setLoadAvg1(0.5).setLoadAvg5(0.5).setLoadAvg15(0.5).setMemUsedBytes(300L << 20).setMemTotalBytes(1L << 30)
                .setProcessCount(processes.size()).setCapacity(NodeCapacity.newBuilder().setCpus(1).setMemBytes(1L << 30).build())
                .setProcesses(processes).build();
    }

    private static MigrationEvent event(Phase phase) {
        boolean done = phase == Phase.COMPLETED;
        return MigrationEvent.newBuilder().setCommandId("cmd-browser").setMigrationId("mig-browser").setWorkloadId("w-witness")
                .setNode(done ? "node-3" : "node-2").setPhase(phase).setMode(MigrationMode.PAGE_SERVER)
                .setSourceNode("node-2").setDestinationNode("node-3")
                .setTimings(PhaseTimings.newBuilder().setFreezeMs(done ? 5 : 0).setDumpMs(done ? 60 : 0)
                        .setTransferMs(done ? 30 : 0).setRestoreMs(done ? 50 : 0).setDowntimeMs(done ? 120 : 0)
                        .setTotalMs(done ? 300 : 0).build())
                .setTimestampMs(System.currentTimeMillis()).build();
    }

    private static int points(String dom, String node) {
        Matcher m = Pattern.compile("data-node=\"" + node + "\"[^>]*data-points=\"(\\d+)\"").matcher(dom);
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    /** Chromium as FACTS says to run it as root here: fresh profile, no background traffic. */
    private static String chromium(Path tmp, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + Files.createTempDirectory(tmp, "chromium"),
                "--virtual-time-budget=4000"));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(tmp, "dom", ".html");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "chromium finished");
        return Files.readString(out);
    }
}

package io.pmig.schemas.serde;

import io.pmig.schemas.ClaimState;
import io.pmig.schemas.CommandKind;
import io.pmig.schemas.DeadLetter;
import io.pmig.schemas.DecisionReason;
import io.pmig.schemas.ExecutorClaim;
import io.pmig.schemas.MigrationCommand;
import io.pmig.schemas.MigrationEvent;
import io.pmig.schemas.MigrationMode;
import io.pmig.schemas.ModelUpdate;
import io.pmig.schemas.NodeCapacity;
import io.pmig.schemas.NodeMetrics;
import io.pmig.schemas.NodeScore;
import io.pmig.schemas.NodeState;
import io.pmig.schemas.Phase;
import io.pmig.schemas.PhaseTimings;
import io.pmig.schemas.ProcessSample;
import io.pmig.schemas.SamplingMode;
import io.pmig.schemas.Trigger;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecordBase;

/** One fully populated record of every pmig type, for round-trip tests. */
public final class SampleRecords {

    private SampleRecords() {
    }

    public static NodeMetrics nodeMetrics() {
        return NodeMetrics.newBuilder()
                .setNodeId("node-2").setTimestampMs(1_700_000_000_123L).setSequence(42).setAgentStartMs(1_700_000_000_000L)
                .setMode(SamplingMode.SIMULATED).setCpuPercent(87.5)
                .setLoadAvg1(1.5).setLoadAvg5(1.25).setLoadAvg15(0.75)
                .setMemUsedBytes(3L << 30).setMemTotalBytes(4L << 30).setSwapUsedBytes(1024).setSwapTotalBytes(2048)
                .setDiskUsedBytes(10_000).setDiskTotalBytes(20_000).setDiskReadBytesPerSec(1.5).setDiskWriteBytesPerSec(2.5)
                .setNetRxBytesPerSec(3.5).setNetTxBytesPerSec(4.5).setProcessCount(321)
                .setCapacity(NodeCapacity.newBuilder().setCpus(2.0).setMemBytes(4L << 30).build())
                .setProcesses(List.of(
                        ProcessSample.newBuilder().setWorkloadId("w-counter").setPid(4242).setName("counter")
                                .setCpuPercent(55.5).setRssBytes(12_345_678).setThreads(1).setState("S").setMigratable(true).build(),
                        ProcessSample.newBuilder().setWorkloadId(null).setPid(7).setName("kworker")
                                .setCpuPercent(1.0).setRssBytes(0).setThreads(1).setState("I").setMigratable(false).build()))
                .build();
    }

    public static NodeScore nodeScore() {
        return NodeScore.newBuilder().setNodeId("node-2").setWindowStartMs(1000).setWindowEndMs(11000)
                .setFeatures(Map.of("cpu_mean", 91.0, "cpu_p95", 99.0)).setScore(0.93).setOverloaded(true)
                .setState(NodeState.OVERLOADED).setScorer("model").setModelVersion("rf-7").setTimestampMs(11000).build();
    }

    public static MigrationCommand migrationCommand() {
        return MigrationCommand.newBuilder().setCommandId("cmd-1").setKind(CommandKind.MIGRATE).setWorkloadId("w-counter")
                .setSourceNode("node-2").setDestinationNode("node-3").setMode(MigrationMode.LAZY)
                .setArgv(List.of("sh", "-c", "echo hi")).setDeclaredFiles(List.of("/srv/data"))
                .setCpuRequest(0.5).setMemRequestBytes(64L << 20)
                .setReason(DecisionReason.newBuilder().setTrigger(Trigger.MODEL).setScore(0.93)
                        .setFeatures(Map.of("cpu_mean", 91.0)).setModelVersion("rf-7").setText("overloaded 3 windows").build())
                .setIssuedAtMs(1_700_000_000_500L).setDeadlineMs(1_700_000_030_500L).setIssuedBy("analytics").build();
    }

    public static MigrationEvent migrationEvent() {
        return MigrationEvent.newBuilder().setCommandId("cmd-1").setMigrationId("mig-1").setWorkloadId("w-counter")
                .setNode("node-3").setPhase(Phase.RESTORED).setMode(MigrationMode.PAGE_SERVER)
                .setSourceNode("node-2").setDestinationNode("node-3")
                .setTimings(PhaseTimings.newBuilder().setFreezeMs(1).setDumpMs(100).setTransferMs(50).setRestoreMs(80)
                        .setDowntimeMs(231).setTotalMs(400).build())
                .setBytesMoved(64L << 20).setPid(999).setError(null).setTimestampMs(1_700_000_001_000L).build();
    }

    public static ModelUpdate modelUpdate() {
        return ModelUpdate.newBuilder().setVersion("rf-7").setAlgorithm("random-forest")
                .setFeatures(List.of("cpu_mean", "cpu_p95")).setTrainedFromMs(1).setTrainedToMs(2).setHorizonS(30)
                .setMetrics(Map.of("f1", 0.95)).setTrainedAtMs(3).setModelBytes(ByteBuffer.wrap(new byte[] {1, 2, 3, 4}))
                .build();
    }

    public static DeadLetter deadLetter() {
        return DeadLetter.newBuilder().setSourceTopic("pmig.metrics").setPartition(3).setOffset(77)
                .setKey(ByteBuffer.wrap("node-1".getBytes())).setValue(ByteBuffer.wrap(new byte[] {9, 9}))
                .setReason("not a valid NodeMetrics").setStage("analytics").setTimestampMs(5).build();
    }

    public static ExecutorClaim executorClaim() {
        return ExecutorClaim.newBuilder().setNode("node-2").setIncarnation("5b1f").setPreviousIncarnation("77aa")
                .setState(ClaimState.ACTIVE).setHost("host-b").setBootId("b0d7").setPid(4242).setProcessStartTicks(991)
                .setTransferEndpoint("10.0.0.2:7001").setWorkdir("/var/lib/pmig").setStartedAtMs(1_700_000_000_000L)
                .setHeartbeatMs(1_700_000_005_000L).setHeartbeatIntervalMs(1000).build();
    }

    public static List<SpecificRecordBase> everyType() {
        return List.of(nodeMetrics(), nodeScore(), migrationCommand(), migrationEvent(), modelUpdate(), deadLetter(),
                executorClaim());
    }
}

package io.pmig.executor.migration;

import io.pmig.executor.criu.BackgroundCriu;
import io.pmig.executor.criu.Criu;
import io.pmig.executor.criu.CriuException;
import io.pmig.executor.criu.PageServerAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * What differs between the migration modes on the source: where a dump's memory goes and what the destination
 * still needs from this node after the commit. Every strategy leaves the dumped tree stopped in place
 * ({@link FrozenSource}); the phases and the rollback are written once, in {@link SourceMigration}.
 */
public interface CheckpointStrategy {

    /**
     * Reads, while the workload still runs, what its dump into {@code images} must be told (mounts, ghost files, its
     * veth), so that the freeze starts with criu; {@link #dump} checks under the freeze that nothing it relies on
     * changed. Before {@link #dump}, which plans itself if this was not called.
     */
    default void prepare(int initPid, Path images) throws CriuException {
    }

    /** Freezes the tree and writes its images to {@code images}, leaving every task stopped. */
    void dump(int initPid, Path images) throws CriuException;

    /**
     * Just before the destination is asked to restore (and so to announce the workload's address): takes the address
     * off this node. Until then the frozen workload's kernel answers ARP for it - criu's lock drops IP, not ARP - which
     * keeps the clients' neighbour entries alive in long freezes; after the announce an answer from here would pull
     * the segment back to this node.
     */
    default void withdrawAddress() {
    }

    /** Whether the page images in {@code images} travel over the transfer connection (not if they went already). */
    boolean transfersPages();

    /** What the destination's RESTORE needs to know besides the images (a dump that ends with criu: nothing). */
    default Map<String, String> restoreArguments() {
        return Map.of();
    }

    /** After the commit: waits until the destination needs nothing more from this node; false if that failed. */
    default boolean awaitHandedOver(Duration timeout) throws InterruptedException {
        return true;
    }

    /** Before a rollback: stops whatever still serves this dump. */
    default void abandon() throws InterruptedException {
    }

    /**
     * What the criu strategies share: the dump planned before the freeze ({@link Criu#planDump}), and the address of a
     * workload with its own network namespace withdrawn only before the restore ({@link #withdrawAddress}).
     */
    abstract class CriuDump implements CheckpointStrategy {
        final Criu criu;
        private Criu.DumpPlan plan;

        CriuDump(Criu criu) {
            this.criu = criu;
        }

        @Override
        public final void prepare(int initPid, Path images) throws CriuException {
            plan = criu.planDump(initPid, images, true);
        }

        @Override
        public final void dump(int initPid, Path images) throws CriuException {
            if (plan == null || plan.initPid() != initPid) {
                prepare(initPid, images);
            }
            dumpPlanned(plan);
        }

        abstract void dumpPlanned(Criu.DumpPlan plan) throws CriuException;

        @Override
        public final void withdrawAddress() {
            if (plan != null) {
                criu.withdrawAddress(plan);
            }
        }
    }

    /** PLAIN: a full local checkpoint, sent as files. */
    final class LocalDump extends CriuDump {
        LocalDump(Criu criu) {
            super(criu);
        }

        @Override
        void dumpPlanned(Criu.DumpPlan plan) throws CriuException {
            criu.dumpLeavingStopped(plan, null, List.of());
        }

        @Override
        public boolean transfersPages() {
            return true;
        }
    }

    /** PAGE_SERVER: memory goes straight to the destination's criu page server over TLS; the rest as files. */
    final class PageServerDump extends CriuDump {
        private final PageServerAddress pageServer;
        private final List<String> tls;

        PageServerDump(Criu criu, PageServerAddress pageServer, List<String> tls) {
            super(criu);
            this.pageServer = pageServer;
            this.tls = tls;
        }

        @Override
        void dumpPlanned(Criu.DumpPlan plan) throws CriuException {
            criu.dumpLeavingStopped(plan, pageServer, tls);
        }

        @Override
        public boolean transfersPages() {
            return false;
        }
    }

    /**
     * LAZY (post-copy): criu dumps everything but the memory and serves the pages over TLS from here, while the
     * destination restores at once and pulls them. The freeze lasts only as long as the small images take; the
     * dump ends (tree still stopped here) once the destination holds every page.
     */
    final class LazyDump extends CriuDump {
        private static final Duration READY_TIMEOUT = Duration.ofMinutes(5);
        private final PageServerAddress serveAt;
        private final List<String> tls;
        private BackgroundCriu dump;

        LazyDump(Criu criu, PageServerAddress serveAt, List<String> tls) {
            super(criu);
            this.serveAt = serveAt;
            this.tls = tls;
        }

        @Override
        void dumpPlanned(Criu.DumpPlan plan) throws CriuException {
            dump = criu.startLazyDump(plan, serveAt, tls, READY_TIMEOUT);
        }

        @Override
        public boolean transfersPages() {
            return true; // the pagemaps (and any non-lazy pages): the restore needs them to know what to fetch
        }

        @Override
        public Map<String, String> restoreArguments() {
            return Map.of("lazyPages", serveAt.toString());
        }

        @Override
        public boolean awaitHandedOver(Duration timeout) throws InterruptedException {
            OptionalInt rc = dump.awaitExit(timeout);
            return rc.isPresent() && rc.getAsInt() == 0;
        }

        @Override
        public void abandon() throws InterruptedException {
            stop(dump);
        }

        /** Stops a lazy dump that must not finish (criu lets go of the tree, left stopped for the rollback to resume). */
        static void stop(BackgroundCriu dump) throws InterruptedException {
            if (dump != null) {
                dump.stop();
            }
        }
    }
}

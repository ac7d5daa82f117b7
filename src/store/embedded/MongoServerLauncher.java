// Starts mongo-java-server on a loopback port for vpnwatch's embedded default and its tests, where
// no real mongod can be had. Run as a single source file (nothing is compiled ahead):
//   java -cp 'target/deps/*' MongoServerLauncher.java 127.0.0.1 0 memory
//   java -cp 'target/deps/*' MongoServerLauncher.java 127.0.0.1 0 h2 /path/to/vpnwatch.mv.db
// "memory" keeps everything in memory (tests, throw-away databases); "h2" keeps it in one H2
// MVStore file (the offline default of `vpnwatch start`).
// It prints "LISTENING <host>:<port>" once bound (port 0 picks a free one), or "FAILED <reason>"
// and exits 2 when the data file cannot be opened (another process holds its lock, or it is not an
// H2 file). It exits when its stdin closes, so it never outlives the process that started it.
import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import org.h2.mvstore.MVStore;

public class MongoServerLauncher {
    public static void main(String[] args) throws Exception {
        String host = args.length > 0 ? args[0] : "127.0.0.1";
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        String kind = args.length > 2 ? args[2] : "memory";
        MongoBackend backend;
        if (kind.equals("h2") && args.length > 3) {
            MVStore store;
            try {
                // LZF-compressed pages: the stored documents (Java-serialized) shrink 3-4x, for
                // little CPU. Pages say whether they are compressed, so any file opens either way.
                store = new MVStore.Builder().fileName(args[3]).compress().open();
            } catch (RuntimeException e) {
                // MVStore's own message says which: "The file is locked: ..." or what is corrupt.
                System.out.println("FAILED " + String.valueOf(e.getMessage()).replace('\n', ' '));
                System.out.flush();
                System.exit(2);
                return;
            }
            backend = new CommittingH2Backend(store);
        } else if (kind.equals("memory")) {
            backend = new MemoryBackend();
        } else {
            System.out.println("FAILED usage: MongoServerLauncher HOST PORT memory|h2 [FILE]");
            System.exit(2);
            return;
        }
        // The stock server reports wire version 8; MongoDB driver 7 (mongoose 9) requires >= 9.
        backend.version(new MongoVersion() {
            public List<Integer> getVersionArray() { return List.of(6, 0, 0); }
            public int getWireVersion() { return 17; }
        });
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        InetSocketAddress bound = server.getLocalAddress();
        System.out.println("LISTENING " + bound.getHostString() + ":" + bound.getPort());
        System.out.flush();
        // shutdownNow closes the backend, which writes and closes the H2 file.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        while (System.in.read() != -1) { /* keep running until the parent closes our stdin */ }
        System.exit(0);
    }

    /**
     * H2's MVStore writes its changes to the file from a background thread about once a second, so
     * a crash would lose the last second of writes that clients were told had succeeded (an event,
     * a delivery marked as sent). Committing before answering each write makes an answered write
     * survive a crash of this process (it is in the file; fsync is left to the OS, like mongod's
     * default write concern without journaling).
     */
    static final class CommittingH2Backend extends H2Backend {
        private static final Set<String> WRITES = Set.of(
            "insert", "update", "delete", "findandmodify", "create", "createindexes", "drop",
            "dropdatabase", "dropindexes", "renamecollection");

        CommittingH2Backend(MVStore store) { super(store); }

        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            try {
                return super.handleCommand(channel, database, command, query);
            } finally {
                if (WRITES.contains(command.toLowerCase())) commit();
            }
        }
    }
}

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
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.EmptyIndex;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import org.h2.mvstore.MVStore;

public class MongoServerLauncher {
    /**
     * H2's cache of read pages, which holds them decoded. Every query but one by _id reads the
     * whole collection (mongo-java-server has no secondary indexes); with H2's default of 16 MB,
     * /vpn recent over 100,000 sessions decoded them all from the file each time (~6-10 s on a
     * loaded 2-core machine); with 128 MB it stays in memory (~0.4-0.8 s, like the memory backend).
     */
    private static final int H2_CACHE_MB = 128;

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
                store = new MVStore.Builder().fileName(args[3]).compress().cacheSize(H2_CACHE_MB).open();
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
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            return new QuickOpenH2Database(databaseName, getMvStore(), getCursorRegistry());
        }

        @Override
        public Document handleCommand(Channel channel, String database, String command, Document query) {
            try {
                return super.handleCommand(channel, database, command, query);
            } finally {
                if (WRITES.contains(command.toLowerCase())) commit();
            }
        }
    }

    /**
     * mongo-java-server keeps no secondary indexes: it accepts them as EmptyIndex, which stores
     * nothing (queries scan the collection either way). But on opening a file it "builds" every
     * index that is empty by reading each document of the collection twice, and an EmptyIndex is
     * always empty: with vpnwatch's four session indexes, opening a file of 100,000 sessions took
     * ~19 s of CPU, growing with the history. An index that says it is not empty is not built;
     * nothing else changes (it still stores nothing, and the unique and _id indexes, which H2
     * keeps in the file, are unaffected).
     */
    static final class QuickOpenH2Database extends H2Database {
        QuickOpenH2Database(String name, MVStore store, CursorRegistry cursors) { super(name, store, cursors); }

        @Override
        protected Index<Object> openOrCreateSecondaryIndex(String collectionName, String indexName, List<IndexKey> keys, boolean sparse) {
            return new EmptyIndex<>(indexName, keys) {
                @Override
                public boolean isEmpty() { return false; }
            };
        }
    }
}

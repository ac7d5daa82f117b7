// Starts mongo-java-server's in-memory backend on a loopback port for vpnwatch's embedded default
// and its tests, where no real mongod can be downloaded. Run as a single source file:
//   java -cp 'target/deps/*' MongoServerLauncher.java 127.0.0.1 0
// It prints "LISTENING <host>:<port>" once bound (port 0 picks a free one), and exits when its
// stdin closes, so it never outlives the process that started it.
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.net.InetSocketAddress;
import java.util.List;

public class MongoServerLauncher {
    public static void main(String[] args) throws Exception {
        String host = args.length > 0 ? args[0] : "127.0.0.1";
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        // The stock server reports wire version 8; MongoDB driver 7 (mongoose 9) requires >= 9.
        MongoVersion version = new MongoVersion() {
            public List<Integer> getVersionArray() { return List.of(6, 0, 0); }
            public int getWireVersion() { return 17; }
        };
        MongoServer server = new MongoServer(new MemoryBackend().version(version));
        server.bind(host, port);
        InetSocketAddress bound = server.getLocalAddress();
        System.out.println("LISTENING " + bound.getHostString() + ":" + bound.getPort());
        System.out.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        while (System.in.read() != -1) { /* keep running until the parent closes our stdin */ }
        server.shutdownNow();
        System.exit(0);
    }
}

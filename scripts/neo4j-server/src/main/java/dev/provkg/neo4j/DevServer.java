package dev.provkg.neo4j;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.neo4j.server.CommunityBootstrapper;

/**
 * Neo4j Community 5.26 server for provkg development and CI, run in-process.
 *
 * <p>It drives the same bootstrapper the Neo4j distribution uses (so Bolt, HTTP, the Query API and
 * Neo4j Browser all come up exactly as in a packaged server), but takes its settings from the
 * command line instead of a neo4j.conf, so the repository needs no Neo4j installation.
 *
 * <pre>
 * java -cp 'classes:lib/*' dev.provkg.neo4j.DevServer --home DIR [--bolt-port N] [--http-port N]
 *      [--listen HOST] [--page-cache SIZE] [--set setting=value]...
 * </pre>
 *
 * <p>Shutdown is by SIGTERM/SIGINT: the bootstrapper's own signal handler stops the DBMS cleanly
 * (checkpoint, store files closed) before the JVM exits.
 */
public final class DevServer {

    private DevServer() {
    }

    public static void main(String[] args) {
        Path home = null;
        String listen = "127.0.0.1";
        int boltPort = 7687;
        int httpPort = 7474;
        String pageCache = "512m";
        Map<String, String> extra = new LinkedHashMap<>();

        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (i + 1 >= args.length) {
                usage("missing value for " + arg);
            }
            String value = args[++i];
            switch (arg) {
                case "--home" -> home = Path.of(value).toAbsolutePath();
                case "--listen" -> listen = value;
                case "--bolt-port" -> boltPort = parsePort(arg, value);
                case "--http-port" -> httpPort = parsePort(arg, value);
                case "--page-cache" -> pageCache = value;
                case "--set" -> {
                    int eq = value.indexOf('=');
                    if (eq <= 0) {
                        usage("--set needs setting=value, got " + value);
                    }
                    extra.put(value.substring(0, eq), value.substring(eq + 1));
                }
                default -> usage("unknown option " + arg);
            }
        }
        if (home == null) {
            usage("--home DIR is required");
        }

        Map<String, String> config = settings(home, listen, boltPort, httpPort, pageCache);
        // Caller-supplied settings win, so a developer can try a setting without editing Java.
        config.putAll(extra);

        System.out.printf("provkg dev Neo4j: home=%s bolt=%s:%d http=%s:%d%n",
                home, listen, boltPort, listen, httpPort);
        int status = new CommunityBootstrapper().start(home, config);
        if (status != 0) {
            System.err.println("provkg dev Neo4j: startup failed with status " + status);
            System.exit(status);
        }
        // The DBMS threads are non-daemon: the JVM lives until a signal triggers shutdown.
    }

    /** Settings for a local, throw-away development server tuned for bulk UNWIND ... MERGE loads. */
    static Map<String, String> settings(Path home, String listen, int boltPort, int httpPort, String pageCache) {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("server.directories.data", home.resolve("data").toString());
        c.put("server.directories.logs", home.resolve("logs").toString());
        c.put("server.directories.run", home.resolve("run").toString());
        c.put("server.directories.import", home.resolve("import").toString());
        c.put("server.directories.plugins", home.resolve("plugins").toString());

        c.put("server.default_listen_address", listen);
        c.put("server.default_advertised_address", listen);
        c.put("server.bolt.enabled", "true");
        c.put("server.bolt.listen_address", listen + ":" + boltPort);
        c.put("server.bolt.advertised_address", listen + ":" + boltPort);
        c.put("server.bolt.tls_level", "DISABLED");
        c.put("server.http.enabled", "true");
        c.put("server.http.listen_address", listen + ":" + httpPort);
        c.put("server.http.advertised_address", listen + ":" + httpPort);
        c.put("server.https.enabled", "false");

        // Local development server bound to loopback: no authentication (documented in docs/neo4j.md).
        c.put("dbms.security.auth_enabled", "false");
        // No network beyond loopback here, and a dev server should not phone home.
        c.put("dbms.usage_report.enabled", "false");

        // Memory: the heap is set by the launcher (-Xmx); the page cache is explicit so Neo4j does not
        // size it from total RAM on a shared CI box.
        c.put("server.memory.pagecache.size", pageCache);
        // Bulk ingestion writes lots of transaction log; keep only what recovery needs.
        c.put("db.tx_log.rotation.retention_policy", "2 files");
        c.put("db.tx_log.rotation.size", "128M");
        // Large UNWIND batches of 10k rows sit comfortably inside this per-transaction budget.
        c.put("db.memory.transaction.max", "1g");
        return c;
    }

    private static int parsePort(String option, String value) {
        try {
            int port = Integer.parseInt(value);
            if (port < 1 || port > 65535) {
                usage(option + " out of range: " + value);
            }
            return port;
        } catch (NumberFormatException e) {
            usage(option + " is not a number: " + value);
            return -1;
        }
    }

    private static void usage(String problem) {
        System.err.println("provkg dev Neo4j: " + problem);
        System.err.println("usage: DevServer --home DIR [--bolt-port N] [--http-port N] [--listen HOST]"
                + " [--page-cache SIZE] [--set setting=value]...");
        System.exit(2);
    }
}

package io.zstate.jobs.cluster;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import org.apache.flink.configuration.ConfigurationUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessSpec;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessUtils;
import org.apache.flink.runtime.jobmanager.JobManagerProcessSpec;
import org.apache.flink.runtime.jobmanager.JobManagerProcessUtils;
import org.apache.flink.runtime.util.config.memory.ProcessMemoryUtils;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A Flink standalone session cluster on this machine: one JobManager and any number of
 * TaskManagers, each a {@code java} process of its own, started the way Flink's
 * {@code jobmanager.sh}/{@code taskmanager.sh} start them (same entry classes, {@code --configDir},
 * the JVM memory flags and {@code -D} memory settings Flink derives from the configuration), but
 * from the project's classpath instead of a Flink distribution's {@code lib/}.
 *
 * <p>Everything lives in one run directory: {@code conf/config.yaml}, {@code log/} (one
 * {@code .log} and one {@code .out} per process), {@code checkpoints/} and {@code tmp/}. Closing
 * the cluster kills every process it started; a JVM shutdown hook does the same on ctrl-C.
 */
public final class LocalCluster implements AutoCloseable {

    /** The JobManager's entry class, as {@code start-cluster.sh} runs it. */
    static final String JOB_MANAGER_CLASS = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint";

    /** The TaskManager's entry class, as {@code taskmanager.sh} runs it. */
    static final String TASK_MANAGER_CLASS = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner";

    /**
     * Module openings for Flink's processes on Java 17: the ones Flink 2.3.0's own build opens for
     * flink-runtime's tests (its pom's {@code surefire.module.config}).
     */
    static final List<String> JAVA_17_OPENS = List.of(
            "--add-opens=java.base/java.util=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.net=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED");

    private static final String LOG4J_PROPERTIES = String.join("\n",
            "# written by the zstate cluster demo: one file per process, as Flink's own log4j.properties",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.file.ref = MainAppender",
            "appender.main.name = MainAppender",
            "appender.main.type = File",
            "appender.main.append = true",
            "appender.main.fileName = ${sys:log.file}",
            "appender.main.layout.type = PatternLayout",
            "appender.main.layout.pattern = %d{HH:mm:ss,SSS} %-5p %-60c %x - %m%n",
            "");

    private final Path runDir;
    private final Path confDir;
    private final Path logDir;
    private final Configuration config;
    private final List<String> classpath;
    private final boolean logging;
    private final int restPort;
    private final Map<String, Process> processes = new LinkedHashMap<>();
    private final java.util.Set<String> killed = new java.util.HashSet<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final ObjectMapper json = new ObjectMapper();
    private final Thread shutdownHook = new Thread(this::killAll, "zstate-cluster-shutdown");

    /**
     * Writes {@code runDir/conf/config.yaml}: {@code base} with this machine's addresses, free
     * ports, and the run directory's checkpoint and temporary directories put in.
     *
     * @param base the cluster configuration to start from (e.g. loaded from conf/flink-conf-cluster.yaml)
     * @param log4jLib a directory of the log4j 2 jars Flink ships in its lib/, or null: the
     *     processes then log nothing and only their stdout/stderr is kept
     */
    public LocalCluster(Path runDir, Configuration base, Path log4jLib) throws IOException {
        this.runDir = runDir;
        this.confDir = Files.createDirectories(runDir.resolve("conf"));
        this.logDir = Files.createDirectories(runDir.resolve("log"));
        Files.createDirectories(runDir.resolve("tmp"));
        Files.createDirectories(runDir.resolve("checkpoints"));

        Configuration conf = new Configuration(base);
        int rpcPort = freePort();
        restPort = freePort();
        conf.setString("jobmanager.rpc.address", "localhost");
        conf.setString("jobmanager.bind-host", "localhost");
        conf.setString("jobmanager.rpc.port", Integer.toString(rpcPort));
        conf.setString("rest.address", "localhost");
        conf.setString("rest.bind-address", "localhost");
        conf.setString("rest.port", Integer.toString(restPort));
        conf.setString("taskmanager.host", "localhost");
        conf.setString("taskmanager.bind-host", "localhost");
        conf.setString("io.tmp.dirs", runDir.resolve("tmp").toString());
        conf.setString("blob.storage.directory", runDir.resolve("tmp").toString());
        conf.setString("web.tmpdir", runDir.resolve("tmp").toString());
        conf.setString("execution.checkpointing.dir", runDir.resolve("checkpoints").toUri().toString());
        this.config = conf;
        Files.write(confDir.resolve(GlobalConfiguration.FLINK_CONF_FILENAME),
                ConfigurationUtils.convertConfigToWritableLines(conf, true), StandardCharsets.UTF_8);
        Files.writeString(confDir.resolve("log4j.properties"), LOG4J_PROPERTIES, StandardCharsets.UTF_8);

        List<String> log4jJars = log4jJars(log4jLib);
        this.logging = !log4jJars.isEmpty();
        this.classpath = childClasspath(System.getProperty("java.class.path"), log4jJars);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** The configuration every process reads, as written to {@code conf/config.yaml}. */
    public Configuration configuration() {
        return GlobalConfiguration.loadConfiguration(confDir.toString());
    }

    public Path runDir() {
        return runDir;
    }

    public Path confDir() {
        return confDir;
    }

    public Path logDir() {
        return logDir;
    }

    public int restPort() {
        return restPort;
    }

    /** Whether the processes write Flink's log files (log4j found), or only their stdout/stderr. */
    public boolean logging() {
        return logging;
    }

    /** Starts the JobManager (a standalone session cluster entry point). */
    public Process startJobManager() throws IOException {
        JobManagerProcessSpec spec = JobManagerProcessUtils.processSpecFromConfig(config);
        List<String> jvm = split(JobManagerProcessUtils.generateJvmParametersStr(spec, config));
        List<String> dynamic = split(JobManagerProcessUtils.generateDynamicConfigsStr(spec));
        return start("jobmanager", jvm, JOB_MANAGER_CLASS, dynamic);
    }

    /** Starts a TaskManager whose resource id (its name in the web UI and REST API) is {@code name}. */
    public Process startTaskManager(String name) throws IOException {
        TaskExecutorProcessSpec spec = TaskExecutorProcessUtils.processSpecFromConfig(config);
        List<String> jvm = new ArrayList<>(split(ProcessMemoryUtils.generateJvmParametersStr(spec)));
        List<String> dynamic = new ArrayList<>(split(TaskExecutorProcessUtils.generateDynamicConfigsStr(spec)));
        dynamic.add("-D");
        dynamic.add("taskmanager.resource-id=" + name);
        // as flink's taskmanager.sh adds them: env.java.opts.all, then env.java.opts.taskmanager
        jvm.addAll(split(config.get(CoreOptions.FLINK_JVM_OPTIONS)));
        jvm.addAll(split(config.get(CoreOptions.FLINK_TM_JVM_OPTIONS)));
        return start(name, jvm, TASK_MANAGER_CLASS, dynamic);
    }

    private Process start(String name, List<String> jvmMemory, String mainClass, List<String> dynamic)
            throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(jvmMemory);
        command.addAll(JAVA_17_OPENS);
        command.add("-Dlog.file=" + logDir.resolve(name + ".log"));
        command.add("-Dlog4j.configurationFile=" + confDir.resolve("log4j.properties").toUri());
        command.add("-Djava.io.tmpdir=" + runDir.resolve("tmp"));
        command.add("-cp");
        command.add(String.join(File.pathSeparator, classpath));
        command.add(mainClass);
        command.add("--configDir");
        command.add(confDir.toString());
        command.addAll(dynamic);
        Files.write(logDir.resolve(name + ".cmd"), command, StandardCharsets.UTF_8);
        Process process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(logDir.resolve(name + ".out").toFile())
                .start();
        synchronized (processes) {
            processes.put(name, process);
        }
        return process;
    }

    /** A process's resident set (VmRSS in {@code /proc/<pid>/status}), bytes; -1 if it has none. */
    public static long residentBytes(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
            }
        }
        return -1;
    }

    /** The process started under {@code name}, or null. */
    public Process process(String name) {
        synchronized (processes) {
            return processes.get(name);
        }
    }

    /** Kills the process started under {@code name} with SIGKILL, as a machine or container loss would. */
    public void kill(String name) throws InterruptedException {
        Process process = process(name);
        synchronized (processes) {
            killed.add(name);
        }
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** GETs {@code path} from the JobManager's REST API; null while it does not answer. */
    public JsonNode get(String path) {
        try {
            HttpResponse<String> response = http.send(
                    HttpRequest.newBuilder(URI.create("http://localhost:" + restPort + path))
                            .timeout(Duration.ofSeconds(5)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? json.readTree(response.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Names of the TaskManagers registered with the JobManager's resource manager. */
    public List<String> registeredTaskManagers() {
        JsonNode answer = get("/taskmanagers");
        List<String> names = new ArrayList<>();
        if (answer != null) {
            answer.path("taskmanagers").forEach(tm -> names.add(tm.path("id").asText()));
        }
        return names;
    }

    /** Waits until the JobManager's REST API answers; throws if it does not within {@code timeout} or a process died. */
    public void awaitRest(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (get("/overview") == null) {
            checkAlive();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the JobManager's REST API did not answer within " + timeout.toSeconds() + " s");
            }
            Thread.sleep(250);
        }
    }

    /** Waits until exactly {@code count} TaskManagers are registered; fails if a process died. */
    public void awaitTaskManagers(int count, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (registeredTaskManagers().size() != count) {
            checkAlive();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the cluster did not have " + count + " TaskManagers within "
                        + timeout.toSeconds() + " s (registered: " + registeredTaskManagers() + ")");
            }
            Thread.sleep(250);
        }
    }

    /** Fails naming the process if one this cluster started has exited (other than by {@link #kill}). */
    public void checkAlive() {
        synchronized (processes) {
            for (Map.Entry<String, Process> entry : processes.entrySet()) {
                Process process = entry.getValue();
                if (!process.isAlive() && !killed.contains(entry.getKey())) {
                    throw new IllegalStateException(entry.getKey() + " exited with code " + process.exitValue()
                            + "; see " + logDir.resolve(entry.getKey() + ".out") + " and .log");
                }
            }
        }
    }

    /** The last {@code lines} lines of each process's stdout/stderr and log, for a failure report. */
    public String tails(int lines) {
        StringBuilder out = new StringBuilder();
        List<String> names;
        synchronized (processes) {
            names = new ArrayList<>(processes.keySet());
        }
        for (String name : names) {
            for (String suffix : new String[] {".out", ".log"}) {
                Path file = logDir.resolve(name + suffix);
                if (!Files.exists(file)) {
                    continue;
                }
                try {
                    List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
                    out.append("---- ").append(file).append(" (last ").append(Math.min(lines, all.size()))
                            .append(" of ").append(all.size()).append(" lines)\n");
                    all.subList(Math.max(0, all.size() - lines), all.size())
                            .forEach(line -> out.append("  ").append(line).append('\n'));
                } catch (IOException | UncheckedIOException e) {
                    out.append("---- ").append(file).append(": ").append(e).append('\n');
                }
            }
        }
        return out.toString();
    }

    /** Stops every process: SIGTERM, and SIGKILL for any still alive after 10 s. */
    @Override
    public void close() {
        List<Process> all;
        synchronized (processes) {
            all = new ArrayList<>(processes.values());
        }
        // TaskManagers first, then the JobManager, as stop-cluster.sh does
        for (int i = all.size() - 1; i >= 0; i--) {
            all.get(i).destroy();
        }
        for (Process process : all) {
            try {
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook is running or ran: it kills the same processes
        }
    }

    private void killAll() {
        synchronized (processes) {
            processes.values().forEach(Process::destroyForcibly);
        }
    }

    /** Process ids of the processes this cluster started and that are still alive. */
    public List<Long> alivePids() {
        synchronized (processes) {
            return processes.values().stream().filter(Process::isAlive).map(Process::pid).toList();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static List<String> split(String arguments) {
        return Arrays.stream(arguments.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList();
    }

    private static List<String> log4jJars(Path dir) throws IOException {
        if (dir == null || !Files.isDirectory(dir)) {
            return List.of();
        }
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".jar")).map(Path::toString).sorted().toList();
        }
    }

    /**
     * The processes' classpath: this JVM's, with a manifest-only jar (as Maven Surefire uses)
     * expanded, and with log4j in place of the project's slf4j-nop when log4j jars are given.
     */
    static List<String> childClasspath(String javaClassPath, List<String> log4jJars) throws IOException {
        List<String> entries = new ArrayList<>();
        for (String entry : javaClassPath.split(File.pathSeparator)) {
            if (entry.isEmpty()) {
                continue;
            }
            List<String> manifestEntries = manifestClassPath(entry);
            entries.addAll(manifestEntries.isEmpty() ? List.of(entry) : manifestEntries);
        }
        List<String> result = new ArrayList<>(log4jJars);
        for (String entry : entries) {
            boolean nop = Path.of(entry).getFileName().toString().startsWith("slf4j-nop");
            if (!(nop && !log4jJars.isEmpty())) {
                result.add(entry);
            }
        }
        return result;
    }

    private static List<String> manifestClassPath(String entry) throws IOException {
        File file = new File(entry);
        if (!file.isFile() || !entry.endsWith(".jar")) {
            return List.of();
        }
        try (JarFile jar = new JarFile(file)) {
            Manifest manifest = jar.getManifest();
            String value = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
            if (value == null || value.isBlank() || jar.stream().anyMatch(e -> e.getName().endsWith(".class"))) {
                return List.of(); // an ordinary jar: keep it as it is
            }
            List<String> expanded = new ArrayList<>();
            for (String url : value.trim().split("\\s+")) {
                URI uri = file.toURI().resolve(url);
                expanded.add(Path.of(uri).toString());
            }
            return expanded;
        }
    }
}

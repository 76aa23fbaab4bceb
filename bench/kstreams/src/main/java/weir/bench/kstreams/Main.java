package weir.bench.kstreams;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

/**
 * Runs one query of bench/WORKLOADS.md with Kafka Streams until SIGTERM or
 * SIGINT, then closes cleanly (final commit, state stores flushed) and exits
 * 0; exits 1 if the application fails or does not close in time, 2 on a
 * usage error.
 */
public final class Main {
  private Main() {}

  private static final String NAME = "weir-bench-kstreams";
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);
  /** Kafka Streams' own default for statestore.cache.max.bytes: 10 MiB. */
  static final long RECORD_CACHE_BYTES = 10L * 1024 * 1024;

  private static final String USAGE = """
      usage: java -jar weir-bench-kstreams.jar --bootstrap HOST:PORT
               --query q1|q2|q5|q7|agg|session
               --guarantee at_least_once|exactly_once_v2 --threads N
               --input TOPIC --output TOPIC --application-id ID --state-dir DIR
               [--commit-interval-ms MS] [--emit-interval-ms MS] [--config KEY=VALUE]...

        --commit-interval-ms  commit.interval.ms for both guarantees (default 1000)
        --emit-interval-ms    least wall-clock time between two checks for closed
                              windows (Kafka Streams' internal
                              __emit.interval.ms.kstreams.windowed.aggregation__,
                              default 1000, its own default); 0 checks on every record
        --config KEY=VALUE    any Streams or client property, applied last (repeatable)
      """;

  static final class Options {
    String bootstrap;
    String query;
    String guarantee;
    int threads = -1;
    String input;
    String output;
    String applicationId;
    String stateDir;
    long commitIntervalMs = 1000;
    long emitIntervalMs = 1000;
    final List<String[]> extra = new ArrayList<>();
  }

  private static final class UsageError extends Exception {
    private static final long serialVersionUID = 1L;

    UsageError(String message) {
      super(message);
    }
  }

  static Options parse(String[] args) throws UsageError {
    final Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      final String flag = args[i];
      if (flag.equals("-h") || flag.equals("--help")) {
        System.out.print(USAGE);
        System.exit(0);
      }
      if (i + 1 >= args.length) {
        throw new UsageError(flag.startsWith("--") ? flag + " needs a value" : "unexpected argument: " + flag);
      }
      final String value = args[++i];
      switch (flag) {
        case "--bootstrap" -> o.bootstrap = value;
        case "--query" -> {
          if (!Queries.NAMES.contains(value)) {
            throw new UsageError("--query must be one of " + Queries.NAMES + ", not " + value);
          }
          o.query = value;
        }
        case "--guarantee" -> {
          if (!value.equals(StreamsConfig.AT_LEAST_ONCE) && !value.equals(StreamsConfig.EXACTLY_ONCE_V2)) {
            throw new UsageError("--guarantee must be at_least_once or exactly_once_v2, not " + value);
          }
          o.guarantee = value;
        }
        case "--threads" -> o.threads = (int) number(flag, value, 1);
        case "--input" -> o.input = value;
        case "--output" -> o.output = value;
        case "--application-id" -> o.applicationId = value;
        case "--state-dir" -> o.stateDir = value;
        case "--commit-interval-ms" -> o.commitIntervalMs = number(flag, value, 1);
        case "--emit-interval-ms" -> o.emitIntervalMs = number(flag, value, 0);
        case "--config" -> {
          final int eq = value.indexOf('=');
          if (eq <= 0) {
            throw new UsageError("--config needs KEY=VALUE, not " + value);
          }
          o.extra.add(new String[] {value.substring(0, eq), value.substring(eq + 1)});
        }
        default -> throw new UsageError("unknown option: " + flag);
      }
    }
    final List<String> missing = new ArrayList<>();
    if (o.bootstrap == null) missing.add("--bootstrap");
    if (o.query == null) missing.add("--query");
    if (o.guarantee == null) missing.add("--guarantee");
    if (o.threads < 0) missing.add("--threads");
    if (o.input == null) missing.add("--input");
    if (o.output == null) missing.add("--output");
    if (o.applicationId == null) missing.add("--application-id");
    if (o.stateDir == null) missing.add("--state-dir");
    if (!missing.isEmpty()) {
      throw new UsageError("missing " + String.join(", ", missing));
    }
    return o;
  }

  private static long number(String flag, String value, long min) throws UsageError {
    try {
      final long n = Long.parseLong(value);
      if (n >= min && n <= Integer.MAX_VALUE) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new UsageError(flag + " must be an integer >= " + min + ", not " + value);
  }

  /** The complete configuration; see README.md for why each value is what it is. */
  static Properties config(Options o) {
    final Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, o.applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, o.guarantee);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, o.threads);
    p.put(StreamsConfig.STATE_DIR_CONFIG, o.stateDir);
    // Explicit for both guarantees (the EOS default is 100 ms, ALOS 30 s).
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, o.commitIntervalMs);
    // The record cache at its default size, stated so the setting is visible.
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, RECORD_CACHE_BYTES);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    p.put(StreamsConfig.InternalConfig.EMIT_INTERVAL_MS_KSTREAMS_WINDOWED_AGGREGATION, o.emitIntervalMs);
    for (final String[] kv : o.extra) {
      p.put(kv[0], kv[1]);
    }
    return p;
  }

  private static void say(String message) {
    System.err.println(NAME + ": " + message);
    System.err.flush();
  }

  public static void main(String[] args) throws InterruptedException {
    final Options o;
    try {
      o = parse(args);
    } catch (UsageError e) {
      System.err.println(NAME + ": " + e.getMessage());
      System.err.print(USAGE);
      System.exit(2);
      return;
    }

    final Topology topology = Queries.build(o.query, o.input, o.output);
    final KafkaStreams streams = new KafkaStreams(topology, config(o));
    final AtomicBoolean failed = new AtomicBoolean(false);
    final AtomicBoolean closing = new AtomicBoolean(false);
    final CountDownLatch stopped = new CountDownLatch(1);

    streams.setUncaughtExceptionHandler(e -> {
      say("stream thread failed: " + e);
      failed.set(true);
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.setStateListener((now, before) -> {
      say("state " + before + " -> " + now);
      if (now == KafkaStreams.State.ERROR) {
        failed.set(true);
        stopped.countDown();
      } else if (now == KafkaStreams.State.NOT_RUNNING && !closing.get()) {
        stopped.countDown();
      }
    });

    // SIGTERM / SIGINT: close (a last commit; under exactly_once_v2 the open
    // transaction commits), then halt with the outcome as the exit status
    // rather than the JVM's 143 for a signal.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (!closing.compareAndSet(false, true)) {
        return;
      }
      final boolean closed = streams.close(CLOSE_TIMEOUT);
      say(closed ? "closed" : "did not close within " + CLOSE_TIMEOUT.toSeconds() + " s");
      Runtime.getRuntime().halt(closed && !failed.get() ? 0 : 1);
    }, NAME + "-shutdown"));

    say(String.format(
        "kafka-streams %s, query %s, %s, %d thread(s), %s -> %s, application id %s, commit interval %d ms",
        AppInfoParser.getVersion(), o.query, o.guarantee, o.threads, o.input, o.output,
        o.applicationId, o.commitIntervalMs));
    say("topology:\n" + topology.describe());
    streams.start();
    stopped.await();

    // The application stopped by itself: it failed.
    if (closing.compareAndSet(false, true)) {
      streams.close(CLOSE_TIMEOUT);
    }
    System.exit(1);
  }
}

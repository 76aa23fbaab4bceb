package weir.bench.kstreams;

import java.time.Duration;
import java.util.List;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.EmitStrategy;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Window;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.ProcessorSupplier;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.SessionStore;
import org.apache.kafka.streams.state.WindowStore;
import weir.bench.kstreams.Json.Click;
import weir.bench.kstreams.Json.NexmarkEvent;
import weir.bench.kstreams.Json.ViewsAndTime;

/**
 * The queries of bench/WORKLOADS.md as Kafka Streams topologies. Inputs are
 * keyed by the group field already, so every aggregation is a groupByKey with
 * no repartition topic. Windowed queries use a 2 s grace and emit one final
 * result per window when stream time closes it (EmitStrategy.onWindowClose),
 * with store retention long enough for every closed window to be emitted
 * (EMIT_MARGIN).
 */
final class Queries {
  private Queries() {}

  static final List<String> NAMES = List.of("q1", "q2", "q5", "q7", "agg", "session");

  static final Duration GRACE = Duration.ofSeconds(2);
  static final Duration HOP_SIZE = Duration.ofSeconds(10);
  static final Duration HOP_ADVANCE = Duration.ofSeconds(2);
  static final Duration TUMBLE = Duration.ofSeconds(10);
  static final Duration SESSION_GAP = Duration.ofSeconds(5);

  /**
   * How long a closed window stays in its store, in stream time, beyond the
   * least retention Kafka Streams allows (size + grace; gap + grace for
   * sessions). With onWindowClose, final results are read back from the
   * store at most once per emit interval of wall-clock time; a window that
   * closed since the last read must still be there. At the least retention
   * it may not be: the time-ordered window store hides windows starting
   * before (latest window start - retention), which for 10 s / 2 s hopping
   * windows is 2 s of stream time after they close, and the session store
   * drops a 60 s segment as soon as (latest session end - retention) passes
   * the segment's end, which can be 0 ms after a session closes. Windows that closed and expired
   * between two reads were never emitted. One minute of stream time between
   * two reads is far more than the input advances in an emit interval. It
   * changes no result and, on the benchmark's 50 s of event time, no storage:
   * nothing expires either way (segments are 60 s).
   */
  static final Duration EMIT_MARGIN = Duration.ofMinutes(1);

  /** EUR per USD cent price, as in Nexmark q1. */
  static final double EUR_PER_USD = 0.908;

  static Topology build(String query, String input, String output) {
    final StreamsBuilder builder = new StreamsBuilder();
    final Serde<String> keys = Serdes.String();
    final Produced<String, Object> produced = Produced.with(keys, Json.writer());
    switch (query) {
      case "q1" -> bids(builder, input)
          .mapValues(e -> (Object) new Json.Q1(e.auction, e.bidder, e.price * EUR_PER_USD, e.ts))
          .to(output, produced);
      case "q2" -> bids(builder, input)
          .filter((k, e) -> e.auction % 123 == 0)
          .mapValues(e -> (Object) new Json.Q2(e.auction, e.price))
          .to(output, produced);
      case "q5" -> bids(builder, input)
          .groupByKey(Grouped.with(keys, Json.reader(NexmarkEvent.class)))
          .windowedBy(TimeWindows.ofSizeAndGrace(HOP_SIZE, GRACE).advanceBy(HOP_ADVANCE))
          .emitStrategy(EmitStrategy.onWindowClose())
          .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("q5-bids")
              .withRetention(HOP_SIZE.plus(GRACE).plus(EMIT_MARGIN))
              .withKeySerde(keys)
              .withValueSerde(Serdes.Long()))
          .toStream()
          .process(timeWindowResults(
              (key, w, bids) -> new Json.Q5(Long.parseLong(key), w.start(), w.end(), bids)))
          .to(output, produced);
      case "q7" -> bids(builder, input)
          .mapValues(e -> e.price)
          .groupByKey(Grouped.with(keys, Serdes.Long()))
          .windowedBy(TimeWindows.ofSizeAndGrace(TUMBLE, GRACE))
          .emitStrategy(EmitStrategy.onWindowClose())
          .reduce(Math::max, Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("q7-max")
              .withRetention(TUMBLE.plus(GRACE).plus(EMIT_MARGIN))
              .withKeySerde(keys)
              .withValueSerde(Serdes.Long()))
          .toStream()
          .process(timeWindowResults(
              (key, w, max) -> new Json.Q7(Long.parseLong(key), w.start(), w.end(), max)))
          .to(output, produced);
      case "agg" -> clicks(builder, input)
          .groupByKey(Grouped.with(keys, Json.reader(Click.class)))
          .windowedBy(TimeWindows.ofSizeAndGrace(TUMBLE, GRACE))
          .emitStrategy(EmitStrategy.onWindowClose())
          .aggregate(
              ViewsAndTime::new,
              (key, click, agg) -> {
                agg.views++;
                agg.totalMs += click.duration_ms;
                return agg;
              },
              Materialized.<String, ViewsAndTime, WindowStore<Bytes, byte[]>>as("agg-views")
                  .withRetention(TUMBLE.plus(GRACE).plus(EMIT_MARGIN))
                  .withKeySerde(keys)
                  .withValueSerde(ViewsAndTime.serde()))
          .toStream()
          .process(timeWindowResults(
              (key, w, agg) -> new Json.Agg(key, w.start(), w.end(), agg.views, agg.totalMs)))
          .to(output, produced);
      case "session" -> clicks(builder, input)
          .groupByKey(Grouped.with(keys, Json.reader(Click.class)))
          .windowedBy(SessionWindows.ofInactivityGapAndGrace(SESSION_GAP, GRACE))
          .emitStrategy(EmitStrategy.onWindowClose())
          .count(Materialized.<String, Long, SessionStore<Bytes, byte[]>>as("session-views")
              .withRetention(SESSION_GAP.plus(GRACE).plus(EMIT_MARGIN))
              .withKeySerde(keys)
              .withValueSerde(Serdes.Long()))
          .toStream()
          .process(sessionResults(
              (key, w, views) -> new Json.Session(key, w.start(), w.end(), views)))
          .to(output, produced);
      default -> throw new IllegalArgumentException("unknown query: " + query);
    }
    return builder.build();
  }

  private static KStream<String, NexmarkEvent> bids(StreamsBuilder builder, String input) {
    return builder
        .stream(input, Consumed.with(Serdes.String(), Json.reader(NexmarkEvent.class)))
        .filter((key, event) -> event != null && event.isBid());
  }

  private static KStream<String, Click> clicks(StreamsBuilder builder, String input) {
    return builder
        .stream(input, Consumed.with(Serdes.String(), Json.reader(Click.class)))
        .filter((key, click) -> click != null);
  }

  @FunctionalInterface
  interface ResultMaker<A> {
    Object make(String key, Window window, A aggregate);
  }

  /**
   * A final window result: the group key as the Kafka key, the result value,
   * and the last millisecond the window covers as the timestamp
   * (window_end - 1 for tumbling and hopping windows, whose end is exclusive).
   */
  private static <A> ProcessorSupplier<Windowed<String>, A, String, Object> timeWindowResults(
      ResultMaker<A> maker) {
    return () -> new WindowResults<>(maker, 1);
  }

  /** The same for sessions, whose end is their last event time (inclusive). */
  private static <A> ProcessorSupplier<Windowed<String>, A, String, Object> sessionResults(
      ResultMaker<A> maker) {
    return () -> new WindowResults<>(maker, 0);
  }

  private static final class WindowResults<A> implements Processor<Windowed<String>, A, String, Object> {
    private final ResultMaker<A> maker;
    private final long endToTimestamp;
    private ProcessorContext<String, Object> context;

    WindowResults(ResultMaker<A> maker, long endToTimestamp) {
      this.maker = maker;
      this.endToTimestamp = endToTimestamp;
    }

    @Override
    public void init(ProcessorContext<String, Object> context) {
      this.context = context;
    }

    @Override
    public void process(Record<Windowed<String>, A> record) {
      // onWindowClose forwards final results only; there are no retractions.
      if (record.value() == null) {
        return;
      }
      final Window window = record.key().window();
      final String key = record.key().key();
      context.forward(new Record<>(
          key, maker.make(key, window, record.value()), window.end() - endToTimestamp));
    }
  }
}

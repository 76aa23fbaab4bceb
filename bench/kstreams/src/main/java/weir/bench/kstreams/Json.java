package weir.bench.kstreams;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The JSON records of bench/WORKLOADS.md and their serdes (Jackson data
 * binding): input events are read into small classes that keep only the
 * fields a query uses, results are written from records whose components are
 * the output fields in contract order.
 */
final class Json {
  private Json() {}

  private static final ObjectMapper MAPPER =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  /** A `nexmark` event: a bid's fields; persons and auctions only set type and ts. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  static final class NexmarkEvent {
    public String type;
    public long ts;
    public long auction;
    public long bidder;
    public long price;

    boolean isBid() {
      return "bid".equals(type);
    }
  }

  /** A `clicks` event. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  static final class Click {
    public long ts;
    public String user;
    public String action;
    public long duration_ms;
  }

  // Results, fields in the order of WORKLOADS.md (the comparison ignores order).

  @JsonPropertyOrder({"auction", "bidder", "price_eur", "ts"})
  record Q1(long auction, long bidder, double price_eur, long ts) {}

  @JsonPropertyOrder({"auction", "price"})
  record Q2(long auction, long price) {}

  @JsonPropertyOrder({"auction", "window_start", "window_end", "bids"})
  record Q5(long auction, long window_start, long window_end, long bids) {}

  @JsonPropertyOrder({"auction", "window_start", "window_end", "max_price"})
  record Q7(long auction, long window_start, long window_end, long max_price) {}

  @JsonPropertyOrder({"user", "window_start", "window_end", "views", "total_ms"})
  record Agg(String user, long window_start, long window_end, long views, long total_ms) {}

  @JsonPropertyOrder({"user", "window_start", "window_end", "views"})
  record Session(String user, long window_start, long window_end, long views) {}

  /** Reads JSON objects into T; a record that is not valid JSON fails the task. */
  static <T> Serde<T> reader(Class<T> type) {
    final ObjectReader reader = MAPPER.readerFor(type);
    final Deserializer<T> deserializer =
        (topic, data) -> {
          if (data == null) {
            return null;
          }
          try {
            return reader.readValue(data);
          } catch (IOException e) {
            throw new SerializationException("invalid JSON in " + topic + ": " + e.getMessage(), e);
          }
        };
    final Serializer<T> serializer = (topic, value) -> {
      throw new UnsupportedOperationException("input records are never written");
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  /** Writes any result record as a one-line JSON object. */
  static Serde<Object> writer() {
    final ObjectWriter writer = MAPPER.writer();
    final Serializer<Object> serializer =
        (topic, value) -> {
          if (value == null) {
            return null;
          }
          try {
            return writer.writeValueAsBytes(value);
          } catch (IOException e) {
            throw new SerializationException("cannot write " + value + ": " + e.getMessage(), e);
          }
        };
    final Deserializer<Object> deserializer = (topic, data) -> {
      throw new UnsupportedOperationException("results are never read");
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  /** The `agg` query's running aggregate: views and total duration, stored as 16 bytes. */
  static final class ViewsAndTime {
    long views;
    long totalMs;

    static Serde<ViewsAndTime> serde() {
      final Serializer<ViewsAndTime> serializer =
          (topic, v) ->
              v == null
                  ? null
                  : ByteBuffer.allocate(16).putLong(v.views).putLong(v.totalMs).array();
      final Deserializer<ViewsAndTime> deserializer =
          (topic, data) -> {
            if (data == null) {
              return null;
            }
            final ByteBuffer buffer = ByteBuffer.wrap(data);
            final ViewsAndTime v = new ViewsAndTime();
            v.views = buffer.getLong();
            v.totalMs = buffer.getLong();
            return v;
          };
      return Serdes.serdeFrom(serializer, deserializer);
    }
  }
}

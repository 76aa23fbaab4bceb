// Measures end-to-end latency on an output topic: for each record seen, the
// wall-clock time it was seen minus a reference time taken from the record:
//   - a window result (a `window_end` field): window_end + --close-delay-ms,
//     the earliest moment the window can close (the watermark passes its end
//     once a record with ts >= window_end + max_out_of_orderness is read, and
//     in live mode ts is the wall clock at production);
//   - otherwise its `ts` field (the producer's timestamp, copied by q1);
//   - otherwise the record's Kafka timestamp.
// Reads every partition from the beginning (read_committed, no group) for
// --warmup-s + --seconds; only records seen after the warm-up count.
// Prints one JSON line: {"count":…,"p50_ms":…,"p99_ms":…,"max_ms":…}.
//
//   weir_e2e_latency --bootstrap B --topic T [--seconds 20] [--warmup-s 5]
//                    [--close-delay-ms 2000]

#include <algorithm>
#include <cstring>

#include "common.h"

namespace weir::bench {
namespace {

// The integer after `"name":` in a compact JSON text, or -1.
std::int64_t field(const char* p, std::size_t n, const char* name) {
  std::string pattern = std::string("\"") + name + "\":";
  std::string_view text(p, n);
  auto at = text.find(pattern);
  if (at == std::string_view::npos) return -1;
  at += pattern.size();
  while (at < n && text[at] == ' ') ++at;
  std::int64_t v = 0;
  bool any = false;
  for (; at < n && text[at] >= '0' && text[at] <= '9'; ++at) {
    v = v * 10 + (text[at] - '0');
    any = true;
  }
  return any ? v : -1;
}

double percentile(std::vector<std::int64_t>& v, double q) {
  if (v.empty()) return 0;
  auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]);
}

int run(const flags& f) {
  const std::string topic = f.str("topic");
  const std::int64_t close_delay = f.num("close-delay-ms", 2000);
  std::string err;
  auto conf = make_conf({{"bootstrap.servers", f.str("bootstrap")},
                         {"group.id", "weir-e2e-latency"},
                         {"enable.auto.commit", "false"},
                         {"isolation.level", "read_committed"},
                         {"fetch.wait.max.ms", "10"},
                         {"enable.partition.eof", "false"}});
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) flags::die("consumer: " + err);
  // Every partition from the beginning, without a group assignment.
  RdKafka::Metadata* md = nullptr;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(c.get(), topic, nullptr, err));
  if (c->metadata(false, t.get(), &md, 10000) != RdKafka::ERR_NO_ERROR || md->topics()->empty()) {
    flags::die("no metadata for " + topic);
  }
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto* p : *md->topics()->front()->partitions()) {
    parts.push_back(
        RdKafka::TopicPartition::create(topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
  }
  delete md;
  c->assign(parts);
  RdKafka::TopicPartition::destroy(parts);

  const std::int64_t start = now_ms();
  const std::int64_t measure_from = start + f.num("warmup-s", 5) * 1000;
  const std::int64_t until = measure_from + f.num("seconds", 20) * 1000;
  std::vector<std::int64_t> latencies;
  std::uint64_t seen = 0;
  while (now_ms() < until) {
    std::unique_ptr<RdKafka::Message> m(c->consume(50));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    const std::int64_t at = now_ms();
    ++seen;
    if (at < measure_from) continue;
    const auto* p = static_cast<const char*>(m->payload());
    std::int64_t ref = field(p, m->len(), "window_end");
    if (ref >= 0) {
      ref += close_delay;
    } else if ((ref = field(p, m->len(), "ts")) < 0) {
      ref = m->timestamp().timestamp;
    }
    latencies.push_back(at - ref);
  }
  c->close();
  const std::size_t n = latencies.size();
  const double p50 = percentile(latencies, 0.50);
  const double p99 = percentile(latencies, 0.99);
  const double mx =
      n ? static_cast<double>(*std::max_element(latencies.begin(), latencies.end())) : 0;
  std::printf("{\"count\":%zu,\"seen\":%llu,\"p50_ms\":%.0f,\"p99_ms\":%.0f,\"max_ms\":%.0f}\n", n,
              static_cast<unsigned long long>(seen), p50, p99, mx);
  return 0;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) {
  return weir::bench::run(weir::bench::flags(argc, argv, 1));
}

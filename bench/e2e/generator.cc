// Seeded generator of the end-to-end workloads of bench/WORKLOADS.md:
// Nexmark-style person / auction / bid events and a clickstream, as JSON
// records keyed as the contract says, with the Kafka timestamp equal to `ts`.
//
//   weir_e2e_gen load --bootstrap B --workload nexmark|clicks --topic T --events N
//                     [--seed 42] [--rate 10000] [--out-of-order 0.05]
//                     [--start-ms 1700000000000] [--compression none]
//       produces N events with event time advancing by --rate events per
//       second from --start-ms, as fast as the broker takes them.
//   weir_e2e_gen live --bootstrap B --workload nexmark|clicks --topic T
//                     --rate R --seconds S [--seed 42]
//       produces R events per wall-clock second for S seconds, each with
//       ts = now and none out of order (for latency measurements).
//
// The same seed and flags give the same records (key, value, timestamp) in
// the same order; the partition of a record is murmur2 of its key, as Java
// clients choose it.

#include <cmath>
#include <csignal>
#include <cstring>
#include <thread>

#include "common.h"

namespace weir::bench {
namespace {

constexpr const char* first_names[] = {"Peter",  "Paul", "Luke",  "John",  "Saul",
                                       "Vicky",  "Kate", "Julie", "Sarah", "Deiter",
                                       "Walter", "Anna", "Maria", "Chen",  "Ines"};
constexpr const char* last_names[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                      "Walton", "Smith",  "Jones",   "Noris", "Li",
                                      "Garcia", "Okafor", "Novak",   "Silva", "Berg"};
constexpr const char* cities[] = {"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland",
                                  "Bend",    "Redmond",     "Seattle",       "Kent",  "Cheyenne"};
constexpr const char* states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
constexpr const char* channels[] = {"Google", "Facebook", "Baidu", "Apple"};
constexpr const char* channel_paths[] = {"google", "facebook", "baidu", "apple"};
constexpr const char* item_words[] = {"vintage", "lamp",   "guitar", "camera", "chair",
                                      "clock",   "poster", "bike",   "watch",  "vase",
                                      "rare",    "signed", "blue",   "oak",    "brass"};

template <std::size_t N>
const char* pick(rng& r, const char* const (&list)[N]) {
  return list[r.below(N)];
}

// Appends JSON fragments to a reused buffer (no escaping: every string the
// generator writes is plain ASCII without quotes or backslashes).
class json_writer {
 public:
  explicit json_writer(std::string& out) : out_(out) { out_.clear(); }
  json_writer& begin() {
    out_ += '{';
    first_ = true;
    return *this;
  }
  json_writer& end() {
    out_ += '}';
    return *this;
  }
  json_writer& str(const char* name, std::string_view v) {
    field(name);
    out_ += '"';
    out_.append(v);
    out_ += '"';
    return *this;
  }
  json_writer& num(const char* name, std::int64_t v) {
    field(name);
    char buf[24];
    int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    out_.append(buf, static_cast<std::size_t>(n));
    return *this;
  }

 private:
  void field(const char* name) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += name;
    out_ += "\":";
  }
  std::string& out_;
  bool first_ = true;
};

struct event {
  std::string key;
  std::string value;
  std::int64_t ts = 0;
};

// The time model shared by both workloads: event i happens at
// start + i * 1000 / rate ms; a share of events is moved back by 1-2000 ms.
class event_clock {
 public:
  event_clock(std::int64_t start_ms, std::int64_t rate, double out_of_order)
      : start_(start_ms), rate_(rate), out_of_order_(out_of_order) {}
  std::int64_t at(std::uint64_t i, rng& r) const {
    std::int64_t t = start_ + static_cast<std::int64_t>(i) * 1000 / rate_;
    if (out_of_order_ > 0 && r.chance(out_of_order_))
      t -= 1 + static_cast<std::int64_t>(r.below(2000));
    return t;
  }

 private:
  std::int64_t start_;
  std::int64_t rate_;
  double out_of_order_;
};

// Nexmark: per 50 events 1 person, 3 auctions, 46 bids. Ids count from
// 1 000 000 in two separate spaces; bids and sellers go to a "hot" recent id
// with probability 0.5, otherwise to one of the last 10 000.
class nexmark_source {
 public:
  explicit nexmark_source(std::uint64_t seed) : r_(seed) {}

  void next(std::uint64_t i, std::int64_t ts, event& e) {
    const std::uint64_t slot = i % 50;
    json_writer w(e.value);
    e.ts = ts;
    if (slot == 0) {
      const std::int64_t id = first_id + persons_++;
      const char* first = pick(r_, first_names);
      const char* last = pick(r_, last_names);
      std::string name = std::string(first) + " " + last;
      std::string email = std::string(first) + "." + last + "@" + pick(r_, channel_paths) + ".com";
      for (auto& c : email) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      char card[24];
      std::snprintf(card, sizeof card, "%04u %04u %04u %04u", unsigned(r_.below(10000)),
                    unsigned(r_.below(10000)), unsigned(r_.below(10000)),
                    unsigned(r_.below(10000)));
      w.begin().str("type", "person").num("ts", ts).num("id", id).str("name", name);
      w.str("email", email).str("city", pick(r_, cities)).str("state", pick(r_, states));
      w.str("credit_card", card).end();
      set_key(e, id);
    } else if (slot <= 3) {
      const std::int64_t id = first_id + auctions_++;
      std::string item = std::string(pick(r_, item_words)) + " " + pick(r_, item_words);
      const std::int64_t initial = log_uniform(100, 10000);
      const std::int64_t reserve =
          initial + static_cast<std::int64_t>(r_.below(static_cast<std::uint64_t>(initial)));
      w.begin().str("type", "auction").num("ts", ts).num("id", id).str("item_name", item);
      w.num("initial_bid", initial).num("reserve", reserve);
      w.num("expires", ts + 10000 + static_cast<std::int64_t>(r_.below(3600000)));
      w.num("seller", choose(persons_))
          .num("category", 10 + static_cast<std::int64_t>(r_.below(10)));
      w.end();
      set_key(e, id);
    } else {
      const std::int64_t auction = choose(auctions_);
      const std::int64_t bidder = choose(persons_);
      const std::uint64_t ch = r_.below(4);
      char url[96];
      std::snprintf(url, sizeof url, "https://www.nexmark.com/%s/item.htm?query=1&channel_id=%u",
                    channel_paths[ch], unsigned(r_.below(100000)));
      char extra[40];
      const std::size_t n = 16 + r_.below(17);
      for (std::size_t k = 0; k < n; ++k) extra[k] = static_cast<char>('a' + r_.below(26));
      w.begin().str("type", "bid").num("ts", ts).num("auction", auction).num("bidder", bidder);
      w.num("price", log_uniform(100, 1000000)).str("channel", channels[ch]).str("url", url);
      w.str("extra", std::string_view(extra, n)).end();
      set_key(e, auction);
    }
  }

 private:
  static constexpr std::int64_t first_id = 1000000;

  // A hot id (one of the 100 latest) with probability 0.5, else one of the
  // last 10 000.
  std::int64_t choose(std::int64_t count) {
    const std::uint64_t window = r_.chance(0.5) ? 100 : 10000;
    const auto span = std::min<std::uint64_t>(window, static_cast<std::uint64_t>(count));
    return first_id + count - 1 - static_cast<std::int64_t>(r_.below(span));
  }
  std::int64_t log_uniform(double lo, double hi) {
    return std::llround(std::exp(std::log(lo) + r_.unit() * (std::log(hi) - std::log(lo))));
  }
  static void set_key(event& e, std::int64_t id) { e.key = std::to_string(id); }

  rng r_;
  std::int64_t persons_ = 0;
  std::int64_t auctions_ = 0;
};

// Clickstream: 100 000 users with Zipf(0.8) popularity, every click a view.
class clicks_source {
 public:
  explicit clicks_source(std::uint64_t seed) : r_(seed) {
    cdf_.resize(users);
    double sum = 0;
    for (std::size_t k = 0; k < users; ++k) cdf_[k] = (sum += 1.0 / std::pow(double(k + 1), 0.8));
    for (auto& c : cdf_) c /= sum;
  }

  void next(std::uint64_t, std::int64_t ts, event& e) {
    const double u = r_.unit();
    const auto user =
        static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
    char name[16];
    std::snprintf(name, sizeof name, "u%06zu", std::min(user, users - 1));
    char page[16];
    std::snprintf(page, sizeof page, "/p/%u", unsigned(r_.below(1000)));
    json_writer w(e.value);
    w.begin().num("ts", ts).str("user", name).str("page", page).str("action", "view");
    w.num("duration_ms", static_cast<std::int64_t>(r_.below(30000))).end();
    e.key = name;
    e.ts = ts;
  }

 private:
  static constexpr std::size_t users = 100000;
  rng r_;
  std::vector<double> cdf_;
};

class delivery_counter final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      if (failed++ == 0) std::fprintf(stderr, "delivery failed: %s\n", m.errstr().c_str());
    }
  }
  std::uint64_t failed = 0;
};

volatile std::sig_atomic_t stop = 0;

int run(const std::string& mode, const flags& f) {
  const std::string bootstrap = f.str("bootstrap");
  const std::string workload = f.str("workload");
  const std::string topic = f.str("topic");
  const bool live = mode == "live";
  const std::uint64_t seed = static_cast<std::uint64_t>(f.num("seed", 42));
  const std::int64_t rate = f.num("rate", 10000);
  if (rate <= 0) flags::die("--rate must be positive");
  const std::int64_t events = live ? rate * f.num("seconds", 10) : f.num("events", 1000000);
  event_clock clock(f.num("start-ms", 1700000000000LL), rate,
                    live ? 0.0 : f.real("out-of-order", 0.05));
  // The time model's randomness is separate from the records', so that the
  // same seed gives the same records in both modes.
  rng time_rng(seed ^ 0x5bd1e995ULL);

  delivery_counter dr;
  auto conf = make_conf({{"bootstrap.servers", bootstrap},
                         {"client.id", "weir-e2e-gen"},
                         {"enable.idempotence", "true"},
                         {"partitioner", "murmur2_random"},
                         {"linger.ms", live ? "5" : "50"},
                         {"batch.size", "1000000"},
                         {"queue.buffering.max.messages", "1000000"},
                         {"compression.codec", f.str("compression", "none")}});
  std::string err;
  conf->set("dr_cb", &dr, err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) flags::die("producer: " + err);

  nexmark_source nexmark(seed);
  clicks_source clicks(seed);
  const bool is_nexmark = workload == "nexmark";
  if (!is_nexmark && workload != "clicks") flags::die("--workload must be nexmark or clicks");

  event e;
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t i = 0;
  for (; i < static_cast<std::uint64_t>(events) && !stop; ++i) {
    if (live) {
      // Pace: never ahead of rate * elapsed.
      for (;;) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (static_cast<double>(i) < elapsed * static_cast<double>(rate)) break;
        p->poll(0);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    const std::int64_t ts = live ? now_ms() : clock.at(i, time_rng);
    if (is_nexmark) {
      nexmark.next(i, ts, e);
    } else {
      clicks.next(i, ts, e);
    }
    for (;;) {
      auto rc =
          p->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                     e.value.data(), e.value.size(), e.key.data(), e.key.size(), e.ts, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR) break;
      if (rc != RdKafka::ERR__QUEUE_FULL) flags::die("produce: " + RdKafka::err2str(rc));
      p->poll(10);
    }
    if ((i & 1023) == 0) p->poll(0);
  }
  while (p->outq_len() > 0) p->poll(100);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "weir_e2e_gen: %s %llu %s events to %s in %.1f s (%.0f/s), %llu failed\n",
               mode.c_str(), static_cast<unsigned long long>(i), workload.c_str(), topic.c_str(),
               secs, static_cast<double>(i) / secs, static_cast<unsigned long long>(dr.failed));
  return dr.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) {
  using namespace weir::bench;
  if (argc < 2 || (std::strcmp(argv[1], "load") != 0 && std::strcmp(argv[1], "live") != 0)) {
    std::fprintf(
        stderr,
        "usage: weir_e2e_gen load|live --bootstrap B --workload nexmark|clicks --topic T ...\n");
    return 2;
  }
  std::signal(SIGTERM, [](int) { stop = 1; });
  std::signal(SIGINT, [](int) { stop = 1; });
  return run(argv[1], flags(argc, argv, 2));
}

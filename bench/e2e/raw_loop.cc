// The ceiling for stateless work: a librdkafka consume -> produce loop that
// copies every record's key, value and timestamp unchanged to the output
// topic, with the client settings weir's own consumer and producer use
// (src/kafka/client.cc, default queue limits), in a consumer group, with
// weir's at_least_once commit cycle: every --commit-interval-ms, flush the
// producer, then commit the next offsets.
//
//   weir_e2e_raw --bootstrap B --input T --output T --group G [--threads 1]
//                [--commit-interval-ms 1000]
//
// Runs until SIGTERM or SIGINT, then flushes, commits and exits 0. Each
// thread owns one consumer and one producer, as a weir worker does.

#include <atomic>
#include <csignal>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "common.h"

namespace weir::bench {
namespace {

std::atomic<bool> stop{false};

// Ignores statistics (weir parses them; the cost of producing them is the
// library's and is kept) and reports errors.
class event_sink final : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& e) override {
    if (e.type() == RdKafka::Event::EVENT_ERROR) {
      std::fprintf(stderr, "kafka error: %s: %s\n", RdKafka::err2str(e.err()).c_str(),
                   e.str().c_str());
    } else if (e.type() == RdKafka::Event::EVENT_LOG) {
      std::fprintf(stderr, "kafka: %s: %s\n", e.fac().c_str(), e.str().c_str());
    }
  }
};

// One consumer and one producer; `offsets_` holds the next offset to commit
// per partition. Owned by one thread; the rebalance callback runs inside
// consume() on that thread.
class loop final : public RdKafka::RebalanceCb {
 public:
  loop(const flags& f, int index) : output_(f.str("output")) {
    const std::string bootstrap = f.str("bootstrap");
    const std::string client = "weir-e2e-raw-" + std::to_string(index);
    std::string err;
    // weir's producer: idempotent, never expiring, 5 ms linger, 64 MiB and
    // 100000-message queue.
    auto pconf = make_conf({{"bootstrap.servers", bootstrap},
                            {"client.id", client},
                            {"enable.idempotence", "true"},
                            {"message.timeout.ms", "0"},
                            {"linger.ms", "5"},
                            {"queue.buffering.max.kbytes", "65536"},
                            {"queue.buffering.max.messages", "100000"}});
    pconf->set("event_cb", static_cast<RdKafka::EventCb*>(&events_), err);
    producer_.reset(RdKafka::Producer::create(pconf.get(), err));
    if (!producer_) flags::die("producer: " + err);
    // weir's consumer: manual commits, cooperative-sticky, read_committed,
    // 64 MiB and 100000-message prefetch queue, 16 MiB fetches,
    // 1 MiB per partition.
    auto cconf = make_conf({{"bootstrap.servers", bootstrap},
                            {"client.id", client},
                            {"group.id", f.str("group")},
                            {"enable.auto.commit", "false"},
                            {"enable.auto.offset.store", "false"},
                            {"auto.offset.reset", "earliest"},
                            {"partition.assignment.strategy", "cooperative-sticky"},
                            {"isolation.level", "read_committed"},
                            {"enable.partition.eof", "false"},
                            {"statistics.interval.ms", "5000"},
                            {"queued.max.messages.kbytes", "65536"},
                            {"queued.min.messages", "100000"},
                            {"fetch.max.bytes", std::to_string(16 << 20)},
                            {"max.partition.fetch.bytes", std::to_string(1 << 20)}});
    cconf->set("event_cb", static_cast<RdKafka::EventCb*>(&events_), err);
    cconf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), err);
    consumer_.reset(RdKafka::KafkaConsumer::create(cconf.get(), err));
    if (!consumer_) flags::die("consumer: " + err);
    auto e = consumer_->subscribe({f.str("input")});
    if (e != RdKafka::ERR_NO_ERROR) flags::die("subscribe: " + RdKafka::err2str(e));
    interval_ = std::chrono::milliseconds(f.num("commit-interval-ms", 1000));
  }

  void run() {
    auto next_commit = std::chrono::steady_clock::now() + interval_;
    while (!stop.load(std::memory_order_relaxed)) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(100));
      if (m->err() == RdKafka::ERR_NO_ERROR) {
        for (;;) {
          auto rc = producer_->produce(
              output_, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, m->payload(),
              m->len(), m->key_pointer(), m->key_len(), m->timestamp().timestamp, nullptr);
          if (rc == RdKafka::ERR_NO_ERROR) break;
          if (rc != RdKafka::ERR__QUEUE_FULL) flags::die("produce: " + RdKafka::err2str(rc));
          producer_->poll(10);
        }
        producer_->poll(0);
        offsets_[key(m->topic_name(), m->partition())] = {m->topic_name(), m->partition(),
                                                          m->offset() + 1};
      } else if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF) {
        std::fprintf(stderr, "consume: %s\n", m->errstr().c_str());
      }
      m.reset();
      if (std::chrono::steady_clock::now() >= next_commit) {
        commit(false);
        next_commit = std::chrono::steady_clock::now() + interval_;
      }
    }
    commit(true);
    consumer_->close();
  }

  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      std::unique_ptr<RdKafka::Error> e(c->incremental_assign(parts));
      if (e) std::fprintf(stderr, "assign: %s\n", e->str().c_str());
      return;
    }
    // Revoked: what was read from these partitions is written and committed
    // before they go.
    if (!c->assignment_lost()) commit(true);
    for (auto* p : parts) offsets_.erase(key(p->topic(), p->partition()));
    std::unique_ptr<RdKafka::Error> e(c->incremental_unassign(parts));
    if (e) std::fprintf(stderr, "unassign: %s\n", e->str().c_str());
  }

 private:
  struct next_offset {
    std::string topic;
    int partition;
    std::int64_t offset;
  };
  static std::string key(const std::string& topic, int partition) {
    return topic + "/" + std::to_string(partition);
  }

  void commit(bool sync) {
    if (producer_->flush(60000) != RdKafka::ERR_NO_ERROR) std::fprintf(stderr, "flush timed out\n");
    if (offsets_.empty()) return;
    std::vector<RdKafka::TopicPartition*> parts;
    for (const auto& [k, o] : offsets_)
      parts.push_back(RdKafka::TopicPartition::create(o.topic, o.partition, o.offset));
    auto e = sync ? consumer_->commitSync(parts) : consumer_->commitAsync(parts);
    if (e != RdKafka::ERR_NO_ERROR && e != RdKafka::ERR__NO_OFFSET) {
      std::fprintf(stderr, "commit: %s\n", RdKafka::err2str(e).c_str());
    }
    RdKafka::TopicPartition::destroy(parts);
  }

  std::string output_;
  event_sink events_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unordered_map<std::string, next_offset> offsets_;
  std::chrono::milliseconds interval_{1000};
};

}  // namespace
}  // namespace weir::bench

int main(int argc, char** argv) {
  using namespace weir::bench;
  flags f(argc, argv, 1);
  // Signals are taken by one thread with sigwait, never interrupting a loop.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const int threads = static_cast<int>(f.num("threads", 1));
  std::vector<std::unique_ptr<loop>> loops;
  for (int i = 0; i < threads; ++i) loops.push_back(std::make_unique<loop>(f, i));
  std::vector<std::thread> workers;
  for (auto& l : loops) workers.emplace_back([&l] { l->run(); });
  int sig = 0;
  sigwait(&signals, &sig);
  stop = true;
  for (auto& w : workers) w.join();
  return 0;
}

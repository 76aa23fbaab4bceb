#include "weir/runtime/worker.h"

#include <chrono>

#include "weir/core/log.h"

namespace weir::runtime {

// Sends task outputs to the worker's producer; a produce error stops the
// worker at its next checkpoint.
class worker::producer_sink final : public record_sink {
 public:
  explicit producer_sink(kafka::producer& p) : producer_(p) {}
  void write(core::output_record&& r) override {
    if (auto st = producer_.produce(std::move(r)); !st && failed_.ok()) failed_ = st;
  }
  core::status take_failure() { return std::exchange(failed_, core::status{}); }

 private:
  kafka::producer& producer_;
  core::status failed_;
};

worker::worker(const topology& t, const kafka::client_settings& kafka, state::database& db,
               std::string name)
    : topology_(t), kafka_(kafka), db_(db), name_(std::move(name)) {
  kafka_.client_id = name_;
}

worker::~worker() { join(); }

void worker::start(const std::atomic<bool>& stop) {
  thread_ = std::thread([this, &stop] { run(stop); });
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

void worker::run(const std::atomic<bool>& stop) {
  auto st = loop(stop);
  // Tasks go before the clients: their views point into consumed messages.
  tasks_.clear();
  consumer_.reset();
  producer_.reset();
  if (st) {
    phase_ = phase::stopped;
  } else {
    failure_ = st.err().message;
    core::log::error("worker failed", {{"worker", name_}, {"error", failure_}});
    phase_ = phase::failed;
  }
}

core::status worker::loop(const std::atomic<bool>& stop) {
  auto p = kafka::make_producer(kafka_);
  if (!p) return std::move(p).err();
  producer_ = std::move(*p);
  sink_ = std::make_unique<producer_sink>(*producer_);
  errors_ = std::make_unique<error_reporter>(topology_, sink_.get());
  kafka::rebalance_listener listener{
      [this](const auto& tps) { return on_assigned(tps); },
      [this](const auto& tps, bool lost) { on_revoked(tps, lost); }};
  auto c = kafka::make_consumer(kafka_, topology_.spec.name, std::move(listener));
  if (!c) return std::move(c).err();
  consumer_ = std::move(*c);
  if (auto st = consumer_->subscribe(topology_.spec.source.topics); !st) return st;
  phase_ = phase::running;
  core::log::info("worker started", {{"worker", name_}, {"pipeline", topology_.spec.name}});

  const auto interval = std::chrono::milliseconds(topology_.spec.processing.commit_interval);
  auto next_checkpoint = std::chrono::steady_clock::now() + interval;
  auto next_tick = std::chrono::steady_clock::now();
  while (!stop.load(std::memory_order_relaxed)) {
    auto m = consumer_->poll(std::chrono::milliseconds(100));
    if (!m) return std::move(m).err();
    if (!deferred_.ok()) return std::exchange(deferred_, {});
    if (*m) {
      const auto& r = (*m)->view();
      if (auto it = tasks_.find(r.partition); it != tasks_.end()) it->second->process(r);
      // on_error: fail stops before the failed record is checkpointed, so a
      // restart reads it again.
      if (auto st = errors_->take_failure(); !st) return st;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_tick) {
      for (auto& [partition, t] : tasks_) t->tick();
      next_tick = now + std::chrono::milliseconds(100);
    }
    producer_->poll();
    if (now >= next_checkpoint) {
      if (auto st = checkpoint(); !st) return st;
      next_checkpoint = std::chrono::steady_clock::now() + interval;
    }
  }
  core::log::info("worker stopping", {{"worker", name_}});
  if (auto st = checkpoint(); !st) return st;
  consumer_->close();  // revokes what is left, after the checkpoint above
  if (!deferred_.ok()) return std::exchange(deferred_, {});
  return {};
}

core::status worker::checkpoint() {
  if (tasks_.empty()) return {};
  const auto started = std::chrono::steady_clock::now();
  auto fail = [&](core::status st) {
    topology_.probe.checkpoint_failures->inc();
    return st;
  };
  if (auto st = sink_->take_failure(); !st) return fail(st);
  // Outputs first: once the checkpoint is written, what it covers must
  // already be in the sink topic.
  if (auto st = producer_->flush(); !st) return fail(st);
  state::write_batch batch;
  std::vector<kafka::partition_offset> offsets;
  for (auto& [partition, t] : tasks_) {
    t->checkpoint(batch);
    if (t->next_offset() >= 0) {
      offsets.push_back({{topology_.spec.source.topics.front(), partition}, t->next_offset()});
    }
  }
  if (auto st = db_.write(batch); !st) return fail(st);
  // The local checkpoint is the source of truth on restart; the group's
  // offsets follow it for lag monitoring and for a worker without state.
  if (auto st = consumer_->commit(offsets); !st) {
    core::log::warn("offset commit failed", {{"worker", name_}, {"error", st.err().message}});
  }
  topology_.probe.checkpoint_seconds->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return {};
}

std::vector<kafka::partition_offset> worker::on_assigned(
    const std::vector<kafka::topic_partition>& tps) {
  std::vector<kafka::partition_offset> starts;
  for (const auto& tp : tps) {
    auto t = std::make_unique<task>(topology_, tp.partition, db_, *sink_, *errors_, clock_);
    auto start = t->restore();
    if (!start) {
      if (deferred_.ok()) deferred_ = std::move(start).err();
      continue;
    }
    std::string from = *start ? std::to_string(**start) : "committed offset";
    core::log::info("partition assigned",
                    {{"worker", name_}, {"topic", tp.topic}, {"partition", std::to_string(tp.partition)},
                     {"start", from}});
    starts.push_back({tp, start->value_or(kafka::use_committed)});
    tasks_[tp.partition] = std::move(t);
  }
  return starts;
}

void worker::on_revoked(const std::vector<kafka::topic_partition>& tps, bool lost) {
  if (!lost) {
    if (auto st = checkpoint(); !st && deferred_.ok()) deferred_ = st;
  }
  for (const auto& tp : tps) {
    tasks_.erase(tp.partition);
    core::log::info(lost ? "partition lost" : "partition revoked",
                    {{"worker", name_}, {"topic", tp.topic}, {"partition", std::to_string(tp.partition)}});
  }
}

}  // namespace weir::runtime

#include "weir/runtime/worker.h"

#include <unistd.h>
#include <chrono>

#include <algorithm>
#include <cstdlib>

#include "weir/core/json.h"
#include "weir/core/log.h"
#include "weir/state/changelog.h"

namespace weir::runtime {

// Sends task outputs to the worker's producer; a produce error stops the
// worker stops at its next checkpoint. While a task replays records whose
// outputs were already written (recovery of trailing state), writes are dropped.
class worker::producer_sink final : public record_sink {
 public:
  explicit producer_sink(kafka::producer& p) : producer_(p) {}
  void write(core::output_record&& r) override {
    if (replaying_) return;
    if (auto st = producer_.begin_transaction(); !st && failed_.ok()) failed_ = st;
    if (auto st = producer_.produce(std::move(r)); !st && failed_.ok()) failed_ = st;
  }
  core::status take_failure() { return std::exchange(failed_, core::status{}); }
  void set_replaying(bool on) noexcept { replaying_ = on; }

 private:
  kafka::producer& producer_;
  core::status failed_;
  bool replaying_ = false;
};

worker::worker(const topology& t, const kafka::client_settings& kafka, state::database& db,
               std::string name, std::optional<std::string> static_member)
    : topology_(t), kafka_(kafka), db_(db), name_(std::move(name)) {
  kafka_.client_id = name_;
  if (t.spec.processing.delivery == config::guarantee::exactly_once) {
    // A stable id lets a restarted worker fence its predecessor and finish
    // its open transaction at once; without --instance-id the id is unique
    // per process, and an abandoned transaction ends by its timeout.
    kafka_.transactional_id =
        static_member
            ? name_
            : name_ + "-" + std::to_string(::getpid()) + "-" +
                  std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  }
  kafka_.group_instance_id = std::move(static_member);
  auto& reg = *t.probe.registry;
  metrics::labels p{{"pipeline", t.spec.name}};
  assigned_ =
      &reg.add_gauge("weir_assigned_partitions", "Input partitions assigned to this process.", p);
  rebalances_ = &reg.add_counter("weir_rebalances_total",
                                 "Partition assignment changes (assigned, revoked or lost).", p);
  auto w = p;
  w.emplace_back("worker", name_);
  replayed_ = &reg.add_counter(
      "weir_restore_records_total",
      "Input records replayed to rebuild state whose outputs were already committed.", p);
  restoring_gauge_ = &reg.add_gauge(
      "weir_restoring_partitions",
      "Partitions whose state is being restored (from the changelogs or by replay).", p);
  restore_seconds_ = &reg.add_histogram(
      "weir_restore_duration_seconds",
      "Time to restore a partition's state: reading its changelogs, or from its assignment to "
      "its last replayed record.",
      p, {0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600});
  for (const auto& st : t.stages) changelogs_.push_back(changelogs(t, &st));
  changelog_restored_ =
      &reg.add_counter("weir_changelog_records_restored_total",
                       "Changelog records read to restore the state of assigned partitions.", p);
  if (exactly_once()) {
    transactions_committed_ = &reg.add_counter(
        "weir_transactions_committed_total",
        "Kafka transactions committed (outputs and input offsets of one interval).", p);
    transactions_aborted_ = &reg.add_counter(
        "weir_transactions_aborted_total",
        "Kafka transactions that failed to commit and were aborted; the worker redoes the "
        "interval from its last checkpoint (abortable errors) or stops (fatal ones).",
        p);
  }
  watermark_lag_ = &reg.add_gauge(
      "weir_watermark_lag_seconds",
      "Wall clock minus the lowest watermark of the worker's partitions, in seconds.", w);
}

worker::~worker() {
  join();
}

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
  // Closed before it is reset: closing serves the rebalance callbacks still
  // queued, an assignment among them, and they use consumer_.
  close_consumer();
  consumer_.reset();
  restore_job_.reset();  // reads through the changelog reader
  changelog_reader_.reset();
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
  kafka::rebalance_listener listener{[this](const auto& tps) { return on_assigned(tps); },
                                     [this](const auto& tps, bool lost) { on_revoked(tps, lost); },
                                     [this](const std::string& json) { on_statistics(json); }};
  auto c = kafka::make_consumer(kafka_, topology_.spec.name, std::move(listener));
  if (!c) return std::move(c).err();
  consumer_ = std::move(*c);
  std::vector<std::string> inputs;
  for (const auto& st : topology_.stages) inputs.push_back(st.input);
  if (auto st = consumer_->subscribe(inputs); !st) return st;
  phase_ = phase::running;
  core::log::info("worker started", {{"worker", name_}, {"pipeline", topology_.spec.name}});

  const auto interval = std::chrono::milliseconds(topology_.spec.processing.commit_interval);
  auto next_checkpoint = std::chrono::steady_clock::now() + interval;
  auto next_tick = std::chrono::steady_clock::now();
  bool memory_full = false;  // a task's state changed since the checkpoint fills its share
  // Checkpoints asked for by memory come no sooner after the last one than
  // it took, up to 20 ms: with tiny shares (a small limit, many tasks) they
  // would otherwise come after every few records.
  constexpr auto longest_memory_gap = std::chrono::milliseconds(20);
  auto memory_checkpoint_after = std::chrono::steady_clock::now();
  while (!stop.load(std::memory_order_relaxed)) {
    if (auto st = advance_restore(); !st) return st;
    auto m = consumer_->poll(std::chrono::milliseconds(restore_job_ ? 0 : 100));
    if (!m) return std::move(m).err();
    if (!deferred_.ok()) return std::exchange(deferred_, {});
    if (*m) {
      const auto& r = (*m)->view();
      const stage* in = topology_.stage_of(r.topic);
      auto it = in ? tasks_.find({topology_.stage_index(*in), r.partition}) : tasks_.end();
      if (it != tasks_.end()) {
        const bool replaying = it->second->replaying(r.offset);
        sink_->set_replaying(replaying);
        it->second->process(r);
        sink_->set_replaying(false);
        memory_full = memory_full || it->second->wants_checkpoint();
        if (replaying) {
          replayed_->inc();
          if (!it->second->replaying(r.offset + 1)) restore_done(it->first);
        }
      }
      // on_error: fail stops before the failed record is checkpointed, so a
      // restart reads it again.
      if (auto st = errors_->take_failure(); !st) return st;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_tick) {
      // Ticks come every 100 ms while the worker polls; a longer gap means it
      // was blocked (a checkpoint or a produce waiting on an unreachable
      // broker). Records may be waiting meanwhile, so that time must not
      // make partitions idle and close their windows early.
      if (const auto gap = now - next_tick; gap > std::chrono::seconds(1)) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(gap).count();
        for (auto& [key, t] : tasks_) t->unreadable_for(ms);
      }
      // A task replaying input is behind in time: wall-clock time must not
      // act on it (an idle watermark would make the records still to replay
      // late, and `changes` would publish results that were already written).
      for (auto& [key, t] : tasks_) {
        if (!t->replaying(t->next_offset())) t->tick();
        t->publish_metrics();
        memory_full = memory_full || t->wants_checkpoint();  // timers read groups back
      }
      update_watermark_lag();
      next_tick = now + std::chrono::milliseconds(100);
    }
    producer_->poll();
    if (now >= next_checkpoint || (memory_full && now >= memory_checkpoint_after)) {
      if (now < next_checkpoint) topology_.probe.memory_checkpoints->inc();
      memory_full = false;
      const auto started = std::chrono::steady_clock::now();
      if (auto st = checkpoint(); !st) return st;
      purge_repartition_topics();
      const auto ended = std::chrono::steady_clock::now();
      next_checkpoint = ended + interval;
      memory_checkpoint_after = ended + std::min<std::chrono::steady_clock::duration>(
                                            ended - started, longest_memory_gap);
    }
  }
  core::log::info("worker stopping", {{"worker", name_}});
  // Shutdown is bounded: outputs the broker does not take within the limit
  // are not checkpointed, and a restart processes their records again.
  if (auto st = checkpoint(std::chrono::seconds(30)); !st) return st;
  next_purge_ = {};
  purge_repartition_topics();
  close_consumer();  // revokes what is left, after the checkpoint above
  if (!deferred_.ok()) return std::exchange(deferred_, {});
  return {};
}

void worker::close_consumer() {
  closing_ = true;
  if (consumer_) consumer_->close();
}

core::status worker::checkpoint(std::optional<std::chrono::milliseconds> flush_limit) {
  if (tasks_.empty()) return {};
  const auto started = std::chrono::steady_clock::now();
  auto fail = [&](core::status st) {
    topology_.probe.checkpoint_failures->inc();
    return st;
  };
  // exactly_once: an abortable error (a produce that failed, a broker that
  // went away) aborts the transaction and the interval is redone from the
  // last committed state. One that comes back every time (a record too large
  // for its topic) stops the worker rather than loop.
  auto abort_and_rewind = [&](const core::error& e) -> core::status {
    transactions_aborted_->inc();
    if (++aborts_in_a_row_ >= max_aborts_in_a_row) {
      return fail(core::error{core::errc::kafka,
                              std::to_string(aborts_in_a_row_) +
                                  " transactions aborted in a row, the last: " + e.message});
    }
    core::log::warn("transaction aborted; rewinding to the last checkpoint",
                    {{"worker", name_},
                     {"error", e.message},
                     {"aborts_in_a_row", std::to_string(aborts_in_a_row_)}});
    (void)sink_->take_failure();
    if (auto rw = rewind(); !rw) return fail(rw);
    topology_.probe.checkpoint_failures->inc();
    return {};
  };
  if (auto st = sink_->take_failure(); !st) {
    if (!exactly_once()) return fail(st);
    // A record of this interval was not produced: its transaction must not
    // commit.
    if (auto ab = producer_->abort_transaction(); !ab) return fail(ab);
    return abort_and_rewind(st.err());
  }
  if (!exactly_once()) {
    // at_least_once: the outputs first. A changelog that reaches the broker
    // says its checkpoint's outputs are written: a process restoring from it
    // never writes them again. One flush for both could deliver the
    // changelog and lose the outputs to a crash in between (records of
    // different partitions are delivered independently).
    if (auto st = producer_->flush(flush_limit); !st) return fail(st);
  }
  state::write_batch batch;
  std::vector<kafka::partition_offset> offsets;
  for (auto& [key, t] : tasks_) {
    if (auto st = checkpoint_task(key, *t, batch); !st) return fail(st);
    t->publish_metrics();
    // A task still replaying is behind the group's committed offset, which
    // already covers what it replays: committing its position would move
    // that offset back, and whoever resumed from it would write those
    // outputs a second time.
    if (t->next_offset() >= 0 && !t->replaying(t->next_offset())) {
      offsets.push_back({{t->stage().input, key.second}, t->next_offset()});
    }
  }
  if (exactly_once()) {
    // Outputs and input offsets commit together; the local checkpoint
    // follows, so it never runs ahead of the group's committed offsets.
    if (auto st = producer_->commit_transaction(offsets, *consumer_); !st) {
      if (st.err().code != core::errc::aborted) {
        transactions_aborted_->inc();
        return fail(st);
      }
      return abort_and_rewind(st.err());
    }
    transactions_committed_->inc();
    aborts_in_a_row_ = 0;
    if (auto st = db_.write(batch); !st) return fail(st);
  } else {
    // The changelog records, before the local checkpoint (a restart trusts
    // either).
    if (auto st = producer_->flush(flush_limit); !st) return fail(st);
    if (auto st = db_.write(batch); !st) return fail(st);
    // The local checkpoint is the source of truth on restart; the group's
    // offsets follow it for lag monitoring and for a worker without state.
    if (auto st = consumer_->commit(offsets); !st) {
      core::log::warn("offset commit failed", {{"worker", name_}, {"error", st.err().message}});
    }
  }
  topology_.probe.checkpoint_seconds->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  // Records of repartition topics before the committed offsets are read and
  // may go.
  for (const auto& o : offsets) {
    const stage* st = topology_.stage_of(o.tp.topic);
    if (st && st->repartitioned) purgeable_[o.tp] = o.offset;
  }
  return {};
}

core::status worker::rewind() {
  std::vector<kafka::topic_partition> tps;
  for (auto& [key, t] : tasks_) {
    if (t->replaying(t->next_offset())) restore_done(key);
    t->publish_metrics();
    tps.push_back({topology_.stages[key.first].input, key.second});
  }
  tasks_.clear();
  assigned_->add(-static_cast<double>(tps.size()));
  if (tps.empty()) return {};
  auto committed = consumer_->committed(tps);
  if (!committed) return std::move(committed).err();
  std::vector<kafka::partition_offset> starts;
  for (const auto& o : *committed) {
    const stage* st = topology_.stage_of(o.tp.topic);
    auto start = make_task("partition rewound", topology_.stage_index(*st), o.tp, o.offset, false);
    if (!start) return std::move(start).err();
    // Nothing committed yet: from the start of the partition, as the
    // consumer began (auto.offset.reset=earliest).
    starts.push_back({o.tp, *start == kafka::use_committed ? kafka::from_beginning : *start});
  }
  // Seeks each partition to its start; what was fetched beyond it is dropped.
  return consumer_->resume(starts);
}

void worker::purge_repartition_topics() {
  const auto now = std::chrono::steady_clock::now();
  if (purgeable_.empty() || now < next_purge_) return;
  next_purge_ = now + std::chrono::seconds(30);
  std::vector<kafka::partition_offset> before;
  for (const auto& [tp, offset] : purgeable_) before.push_back({tp, offset});
  purgeable_.clear();
  // Best effort: records left behind go at the next purge.
  if (auto st = producer_->delete_records(before, std::chrono::seconds(5)); !st) {
    core::log::warn("purging repartition topics failed",
                    {{"worker", name_}, {"error", st.err().message}});
  }
}

core::status worker::checkpoint_task(const task_key& tk, task& t, state::write_batch& batch) {
  const std::size_t first = batch.size();
  t.checkpoint(batch);
  const auto& logs = changelogs_[tk.first];
  if (logs.empty()) return {};
  const std::int32_t partition = t.partition();
  // exactly_once: the changelog records join the interval's transaction.
  if (auto st = producer_->begin_transaction(); !st) return st;
  if (seed_.erase(tk)) {
    // The whole state as of the last local checkpoint; this checkpoint's
    // changes follow it.
    const std::string prefix = state::partition_prefix(partition);
    for (const auto& c : logs) {
      auto s = db_.open_store(c.store);
      if (!s) return std::move(s).err();
      core::status failed;
      auto st = (*s)->scan(prefix, [&](std::string_view key, std::string_view value) {
        failed = producer_->produce_to(c.topic, partition, key, value);
        return failed.ok();
      });
      if (!st) return st;
      if (!failed) return failed;
    }
    core::log::info("state logged to the changelog in full",
                    {{"worker", name_}, {"partition", std::to_string(partition)}});
  }
  const auto& ops = batch.ops();
  for (std::size_t i = first; i < ops.size(); ++i) {
    const auto rec = state::to_changelog(ops[i]);
    std::optional<std::string_view> value;
    if (rec.what != state::changelog_record::kind::erase) value = rec.value;
    if (rec.what == state::changelog_record::kind::progress) {
      // Every changelog of the partition ends its checkpoint with the progress.
      for (const auto& c : logs) {
        if (auto st = producer_->produce_to(c.topic, partition, rec.key, value); !st) return st;
      }
      continue;
    }
    // Only the steps' stores have changelogs.
    auto log = std::find_if(logs.begin(), logs.end(),
                            [&](const changelog& c) { return c.store == ops[i].target->name(); });
    if (log == logs.end()) continue;
    if (auto st = producer_->produce_to(log->topic, partition, rec.key, value); !st) return st;
  }
  return {};
}

core::result<kafka::partition_reader*> worker::changelog_reader() {
  if (!changelog_reader_) {
    auto settings = kafka_;
    settings.client_id = name_ + "-changelog";
    settings.group_instance_id.reset();
    settings.transactional_id.reset();
    // A restore waits on the broker at each partition's end: short fetch
    // waits (a --kafka-property still overrides this).
    settings.properties.insert(settings.properties.begin(), {"fetch.wait.max.ms", "50"});
    auto r = kafka::make_partition_reader(settings);
    if (!r) return std::move(r).err();
    changelog_reader_ = std::move(*r);
  }
  return changelog_reader_.get();
}

std::vector<kafka::partition_offset> worker::on_assigned(
    const std::vector<kafka::topic_partition>& tps) {
  std::vector<kafka::partition_offset> starts;
  // An assignment served while the consumer closes is given back at once:
  // no state is restored and no task made for it.
  if (closing_) return starts;
  for (std::size_t i = 0; i < topology_.stages.size(); ++i) {
    std::vector<kafka::topic_partition> of_stage;
    for (const auto& tp : tps) {
      if (tp.topic == topology_.stages[i].input) of_stage.push_back(tp);
    }
    if (!of_stage.empty()) assign_stage(i, of_stage, starts);
  }
  rebalances_->inc();
  return starts;
}

void worker::assign_stage(std::size_t si, const std::vector<kafka::topic_partition>& tps,
                          std::vector<kafka::partition_offset>& starts) {
  const stage& st = topology_.stages[si];
  // The group's committed offsets say which outputs are already written
  // (exactly_once: committed in a transaction; at_least_once: flushed before
  // the offsets were committed). Local state that trails them (a partition
  // that moved from another process, a lost state directory) is restored
  // from the changelogs; what they do not cover (nothing, normally) is
  // caught up by replaying the input with outputs dropped.
  auto c = consumer_->committed(tps);
  if (!c) {
    if (deferred_.ok()) deferred_ = std::move(c).err();
    return;
  }
  for (const auto& tp : tps) {
    std::int64_t group = kafka::use_committed;
    for (const auto& o : *c) {
      if (o.tp == tp) group = o.offset;
    }
    if (!changelogs_[si].empty() && group >= 0) {
      auto pr = db_.read_progress({topology_.spec.name, st.input, tp.partition});
      if (!pr) {
        if (deferred_.ok()) deferred_ = std::move(pr).err();
        return;
      }
      if (!*pr || (*pr)->next_offset < group) {
        // Restored between polls, outside this callback: a large state
        // must not keep the consumer from polling (max.poll.interval.ms).
        to_restore_.push_back({si, tp, group});
        restoring_.fetch_add(1, std::memory_order_relaxed);
        restoring_gauge_->add(1);
        starts.push_back({tp, kafka::held});
        core::log::info("partition assigned",
                        {{"worker", name_},
                         {"topic", tp.topic},
                         {"partition", std::to_string(tp.partition)},
                         {"start", "after restoring its state from the changelogs"}});
        continue;
      }
    }
    auto start = make_task("partition assigned", si, tp, group, false);
    if (!start) {
      if (deferred_.ok()) deferred_ = std::move(start).err();
      continue;
    }
    starts.push_back({tp, *start});
  }
}

core::result<std::int64_t> worker::make_task(std::string_view event, std::size_t si,
                                             const kafka::topic_partition& tp, std::int64_t group,
                                             bool restored) {
  const stage& st = topology_.stages[si];
  const task_key key{si, tp.partition};
  auto t = std::make_unique<task>(topology_, st, tp.partition, db_, *sink_, *errors_, clock_);
  auto start = t->restore();
  if (!start) return std::move(start).err();
  if (!restored && *start && !changelogs_[si].empty()) {
    // Local state the changelog does not hold (from before changelogs):
    // logged in full at the next checkpoint.
    auto reader = changelog_reader();
    if (!reader) return std::move(reader).err();
    auto empty = changelog_empty(topology_, st, **reader, tp.partition);
    if (!empty) return std::move(empty).err();
    if (*empty) seed_.insert(key);
  }
  // A stage without state has nothing to rebuild: it starts at the group's
  // offset.
  if (!st.stateful && group >= 0 && (!*start || **start < group)) {
    *start = group;
  } else if (group >= 0 && (!*start || **start < group)) {
    // From the local checkpoint, or with no local state from the start.
    t->replay_until(group);
    restoring_.fetch_add(1, std::memory_order_relaxed);
    restoring_gauge_->add(1);
    restore_started_[key] = std::chrono::steady_clock::now();
    *start = start->value_or(kafka::from_beginning);
    core::log::info("replaying to rebuild state", {{"worker", name_},
                                                   {"topic", tp.topic},
                                                   {"partition", std::to_string(tp.partition)},
                                                   {"from", std::to_string(**start)},
                                                   {"until", std::to_string(group)}});
  }
  std::string from = *start ? std::to_string(**start) : "committed offset";
  core::log::info(event, {{"worker", name_},
                          {"topic", tp.topic},
                          {"partition", std::to_string(tp.partition)},
                          {"start", from}});
  tasks_[key] = std::move(t);
  assigned_->add(1);
  return start->value_or(kafka::use_committed);
}

core::status worker::advance_restore() {
  if (!restore_job_) {
    if (to_restore_.empty()) return {};
    // One job for every waiting partition of one stage.
    const std::size_t si = to_restore_.front().stage;
    std::vector<std::int32_t> partitions;
    for (auto it = to_restore_.begin(); it != to_restore_.end();) {
      if (it->stage != si) {
        ++it;
        continue;
      }
      partitions.push_back(it->tp.partition);
      in_job_.push_back(*it);
      it = to_restore_.erase(it);
    }
    auto reader = changelog_reader();
    if (!reader) return std::move(reader).err();
    auto job = changelog_restore_job::start(topology_, topology_.stages[si], db_, **reader,
                                            std::move(partitions), changelog_restored_);
    if (!job) return std::move(job).err();
    restore_job_ = std::move(*job);
    job_started_ = std::chrono::steady_clock::now();
  }
  auto done = restore_job_->step(std::chrono::milliseconds(100));
  if (!done) return std::move(done).err();
  if (!*done) return {};
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - job_started_).count();
  const auto& results = restore_job_->results();
  std::vector<kafka::partition_offset> starts;
  for (std::size_t i = 0; i < in_job_.size(); ++i) {
    const auto& h = in_job_[i];
    const auto& r = results[i];
    restoring_.fetch_sub(1, std::memory_order_relaxed);
    restoring_gauge_->add(-1);
    if (r.found) {
      restore_seconds_->observe(seconds);
      core::log::info(
          "state restored from the changelog",
          {{"worker", name_},
           {"topic", h.tp.topic},
           {"partition", std::to_string(h.tp.partition)},
           {"records", std::to_string(r.records)},
           {"next_offset", r.progress ? std::to_string(r.progress->next_offset) : "none"},
           {"seconds", std::to_string(seconds)}});
    }
    auto start = make_task("partition resumed", h.stage, h.tp, h.group, r.found);
    if (!start) return std::move(start).err();
    starts.push_back({h.tp, *start});
  }
  restore_job_.reset();
  in_job_.clear();
  return consumer_->resume(starts);
}

// A held partition revoked before its restore finished: a job restoring it
// is abandoned (the others of the job wait again); its local state trails
// and is restored again wherever it goes next.
void worker::drop_restore(const kafka::topic_partition& tp) {
  for (auto it = to_restore_.begin(); it != to_restore_.end(); ++it) {
    if (it->tp == tp) {
      to_restore_.erase(it);
      restoring_.fetch_sub(1, std::memory_order_relaxed);
      restoring_gauge_->add(-1);
      return;
    }
  }
  auto it = std::find_if(in_job_.begin(), in_job_.end(),
                         [&](const held_partition& h) { return h.tp == tp; });
  if (it == in_job_.end()) return;
  in_job_.erase(it);
  restoring_.fetch_sub(1, std::memory_order_relaxed);
  restoring_gauge_->add(-1);
  restore_job_.reset();
  to_restore_.insert(to_restore_.begin(), in_job_.begin(), in_job_.end());
  in_job_.clear();
}

void worker::on_revoked(const std::vector<kafka::topic_partition>& tps, bool lost) {
  if (!lost) {
    if (auto st = checkpoint(); !st && deferred_.ok()) deferred_ = st;
  }
  rebalances_->inc();
  for (const auto& tp : tps) {
    const stage* st = topology_.stage_of(tp.topic);
    if (!st) continue;
    const task_key key{topology_.stage_index(*st), tp.partition};
    seed_.erase(key);
    purgeable_.erase(tp);
    drop_restore(tp);
    if (auto it = tasks_.find(key);
        it != tasks_.end() && it->second->replaying(it->second->next_offset())) {
      restore_done(key);
    }
    if (auto it = tasks_.find(key); it != tasks_.end()) {
      it->second->publish_metrics();
      tasks_.erase(it);
      assigned_->add(-1);
    }
    if (auto it = consumer_lag_.find(tp); it != consumer_lag_.end()) it->second->set(0);
    core::log::info(
        lost ? "partition lost" : "partition revoked",
        {{"worker", name_}, {"topic", tp.topic}, {"partition", std::to_string(tp.partition)}});
  }
}

void worker::restore_done(task_key key) {
  restoring_.fetch_sub(1, std::memory_order_relaxed);
  restoring_gauge_->add(-1);
  if (auto it = restore_started_.find(key); it != restore_started_.end()) {
    restore_seconds_->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second).count());
    restore_started_.erase(it);
  }
  core::log::info("state rebuilt", {{"worker", name_},
                                    {"topic", topology_.stages[key.first].input},
                                    {"partition", std::to_string(key.second)}});
}

bool worker::exactly_once() const noexcept {
  return topology_.spec.processing.delivery == config::guarantee::exactly_once;
}

void worker::update_watermark_lag() {
  core::millis lowest = core::max_time;
  for (const auto& [key, t] : tasks_) lowest = std::min(lowest, t->watermark());
  if (lowest == core::max_time || lowest == core::min_time) {
    watermark_lag_->set(0);
    return;
  }
  watermark_lag_->set(static_cast<double>(clock_.now() - lowest) / 1000.0);
}

// Reads the consumer lag of each assigned partition from the client
// library's statistics: topics.<topic>.partitions.<p>.consumer_lag.
void worker::on_statistics(const std::string& json) {
  auto stats = core::parse_json(json);
  if (!stats) return;
  const auto* topics = stats->find("topics");
  for (std::size_t si = 0; topics && si < topology_.stages.size(); ++si) {
    const std::string& topic = topology_.stages[si].input;
    const auto* t = topics->find(topic);
    const auto* parts = t ? t->find("partitions") : nullptr;
    if (!parts || !parts->is_object()) continue;
    for (const auto& [id, p] : parts->as_object()) {
      if (id == "-1") continue;  // the library's internal unassigned partition
      const auto* lag = p.find("consumer_lag");
      std::int32_t partition = std::atoi(id.c_str());
      if (!lag || !lag->is_number() || !tasks_.count({si, partition})) continue;
      auto& g = consumer_lag_[{topic, partition}];
      if (!g) {
        g = &topology_.probe.registry->add_gauge(
            "weir_consumer_lag_records",
            "Records between the consumer's position and the end of the partition.",
            {{"pipeline", topology_.spec.name}, {"topic", topic}, {"partition", id}});
      }
      g->set(std::max(0.0, lag->as_number()));
    }
  }
}

}  // namespace weir::runtime

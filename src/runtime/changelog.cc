#include "weir/runtime/changelog.h"

#include <algorithm>
#include <memory>

#include "weir/core/log.h"
#include "weir/state/changelog.h"

namespace weir::runtime {

namespace {
constexpr std::chrono::seconds metadata_timeout{30};
// A restore that reads nothing and reaches no end for this long has stalled.
constexpr std::chrono::seconds stall_timeout{120};
}  // namespace

std::vector<changelog> changelogs(const topology& t, const stage* only) {
  std::vector<changelog> out;
  for (std::size_t i = 0; i < t.steps.size(); ++i) {
    const auto& st = t.steps[i];
    if (!st->stateful()) continue;
    if (only && (i < only->first_step || i >= only->end_step)) continue;
    std::string store = t.spec.name + "." + st->name();
    out.push_back({store, state::changelog_topic(store)});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> repartition_topic_config() {
  // Records are deleted once the stage reading them has committed past them
  // (kafka::delete_records); time-based retention would drop records whose
  // timestamps (their event times) are old before they are read.
  return {{"cleanup.policy", "delete"}, {"retention.ms", "-1"}, {"segment.bytes", "67108864"}};
}

std::vector<std::pair<std::string, std::string>> changelog_topic_config() {
  return {{"cleanup.policy", "compact"},
          // Recent records stay uncompacted for an hour, and segments roll
          // at 64 MiB or daily, so compaction keeps a changelog near the
          // size of the live state.
          {"min.compaction.lag.ms", "3600000"},
          {"segment.bytes", "67108864"},
          {"segment.ms", "86400000"}};
}

core::status ensure_internal_topics(const topology& t, const kafka::client_settings& s,
                                    int partitions) {
  std::vector<kafka::topic_spec> topics;
  // Changelogs are written, and read to restore; repartition topics are
  // written, read, and emptied of what was read (DeleteRecords).
  // A changelog that deletes by time loses state; a repartition topic that
  // does, records not read yet (their timestamps are event times).
  for (const auto& c : changelogs(t)) {
    topics.push_back({c.topic,
                      partitions,
                      changelog_topic_config(),
                      {{"cleanup.policy", "compact"}},
                      {"Read", "Write"}});
  }
  for (const auto& st : t.stages) {
    if (st.output) {
      topics.push_back({*st.output,
                        partitions,
                        repartition_topic_config(),
                        {{"cleanup.policy", "delete"}, {"retention.ms", "-1"}},
                        {"Read", "Write", "Delete"}});
    }
  }
  return kafka::ensure_topics(s, topics, metadata_timeout);
}

core::result<bool> changelog_empty(const topology& t, const stage& stg,
                                   kafka::partition_reader& reader, std::int32_t partition) {
  std::vector<kafka::topic_partition> tps;
  for (const auto& c : changelogs(t, &stg)) tps.push_back({c.topic, partition});
  if (tps.empty()) return true;
  auto b = reader.bounds(tps, metadata_timeout);
  if (!b) return std::move(b).err();
  return std::all_of(b->begin(), b->end(), [](const auto& x) { return x.high <= x.low; });
}

// One changelog partition being read.
struct changelog_restore_job::reading {
  std::size_t partition_index;
  kafka::partition_reader::partition_bounds bound;
  std::unique_ptr<state::changelog_applier> applier;
  bool done = false;
};

changelog_restore_job::changelog_restore_job(const topology& t, const stage& stg,
                                             state::database& db, kafka::partition_reader& reader,
                                             std::vector<std::int32_t> partitions,
                                             metrics::counter* restored)
    : topology_(t),
      stage_(stg),
      db_(db),
      reader_(reader),
      partitions_(std::move(partitions)),
      restored_(restored),
      out_(partitions_.size()) {}

changelog_restore_job::~changelog_restore_job() {
  // Nothing more is fetched (or held in the reader's queue) until the next restore.
  if (reading_) (void)reader_.assign({});
}

core::result<std::unique_ptr<changelog_restore_job>> changelog_restore_job::start(
    const topology& t, const stage& stg, state::database& db, kafka::partition_reader& reader,
    std::vector<std::int32_t> partitions, metrics::counter* restored) {
  std::unique_ptr<changelog_restore_job> job(
      new changelog_restore_job(t, stg, db, reader, std::move(partitions), restored));
  if (auto st = job->begin(); !st) return st.err();
  return job;
}

core::status changelog_restore_job::begin() {
  const auto logs = changelogs(topology_, &stage_);
  if (logs.empty() || partitions_.empty()) return {};
  std::vector<kafka::topic_partition> tps;
  for (auto p : partitions_) {
    for (const auto& c : logs) tps.push_back({c.topic, p});
  }
  auto b = reader_.bounds(tps, metadata_timeout);
  if (!b) return std::move(b).err();
  const auto& bounds = *b;  // bounds[i * logs.size() + j]: partition i, changelog j

  std::vector<state::store*> stores;
  for (const auto& c : logs) {
    auto s = db_.open_store(c.store);
    if (!s) return std::move(s).err();
    stores.push_back(*s);
  }
  std::vector<kafka::partition_offset> starts;
  for (std::size_t i = 0; i < partitions_.size(); ++i) {
    for (std::size_t j = 0; j < logs.size(); ++j) {
      const auto& bound = bounds[i * logs.size() + j];
      if (bound.high > bound.low) out_[i].found = true;
    }
    if (!out_[i].found) continue;
    const std::string prefix = state::partition_prefix(partitions_[i]);
    for (auto* s : stores) {
      if (auto st = db_.drop_partition(*s, prefix); !st) return st;
    }
    for (std::size_t j = 0; j < logs.size(); ++j) {
      const auto& bound = bounds[i * logs.size() + j];
      if (bound.high <= bound.low) continue;
      reads_.push_back(
          reading{i, bound, std::make_unique<state::changelog_applier>(db_, *stores[j])});
      starts.push_back({bound.tp, kafka::from_beginning});
    }
  }
  left_ = reads_.size();
  if (!reads_.empty()) {
    if (auto st = reader_.assign(starts); !st) return st;
    reading_ = true;
  }
  last_read_ = std::chrono::steady_clock::now();
  return {};
}

core::result<bool> changelog_restore_job::step(std::chrono::milliseconds budget) {
  if (finished_) return true;
  const auto until = std::chrono::steady_clock::now() + budget;
  auto find = [&](std::string_view topic, std::int32_t partition) -> reading* {
    for (auto& r : reads_) {
      if (r.bound.tp.partition == partition && r.bound.tp.topic == topic) return &r;
    }
    return nullptr;
  };
  while (left_ > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return false;
    auto wait = std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(until - now),
        std::chrono::milliseconds(200));
    auto item = reader_.poll(std::max(wait, std::chrono::milliseconds(1)));
    if (!item) return std::move(item).err();
    reading* r = nullptr;
    if (item->record) {
      const auto& v = item->record->view();
      r = find(v.topic, v.partition);
      if (!r || r->done) continue;
      if (auto st = r->applier->add(v.key.value_or(std::string_view()), v.value); !st) {
        return core::error{st.err().code, std::string(v.topic) + "/" + std::to_string(v.partition) +
                                              "@" + std::to_string(v.offset) + ": " +
                                              st.err().message};
      }
      if (restored_) restored_->inc();
      last_read_ = std::chrono::steady_clock::now();
      // The end offset may be a transaction marker: the end of partition
      // ends the read then.
      if (v.offset + 1 < r->bound.high) continue;
    } else if (item->end_of_partition) {
      r = find(item->end_of_partition->topic, item->end_of_partition->partition);
      if (!r || r->done) continue;
    } else {
      if (std::chrono::steady_clock::now() - last_read_ > stall_timeout) {
        return core::error{core::errc::kafka,
                           "restoring from changelogs: no record and no end of partition for " +
                               std::to_string(stall_timeout.count()) + " s"};
      }
      continue;
    }
    r->done = true;
    --left_;
  }
  if (reading_) {
    if (auto st = reader_.assign({}); !st) return st.err();
    reading_ = false;
  }
  if (auto st = finish(); !st) return st.err();
  finished_ = true;
  return true;
}

core::status changelog_restore_job::finish() {
  // Per partition: the lowest progress of its changelogs (they are equal but
  // after a crash during an at_least_once flush).
  std::vector<std::optional<state::progress>> lowest(partitions_.size());
  std::vector<bool> differ(partitions_.size(), false);
  for (auto& r : reads_) {
    auto dropped = r.applier->finish();
    if (!dropped) return std::move(dropped).err();
    if (*dropped > 0) {
      core::log::warn("changelog records after the last progress record ignored",
                      {{"topic", r.bound.tp.topic},
                       {"partition", std::to_string(r.bound.tp.partition)},
                       {"records", std::to_string(*dropped)}});
    }
    out_[r.partition_index].records += r.applier->records();
    auto& low = lowest[r.partition_index];
    if (const auto& pr = r.applier->last_progress()) {
      if (low && low->next_offset != pr->next_offset) differ[r.partition_index] = true;
      if (!low || pr->next_offset < low->next_offset) low = *pr;
    }
  }
  for (std::size_t i = 0; i < partitions_.size(); ++i) {
    if (!out_[i].found) continue;
    if (differ[i]) {
      core::log::warn(
          "changelogs of one partition end at different offsets; resuming from the lowest",
          {{"partition", std::to_string(partitions_[i])}});
    }
    // The progress goes last: a restore interrupted before it trails the
    // group's offsets again and starts over. Without one, the partition's
    // state is empty and its input is read from the beginning.
    out_[i].progress = lowest[i];
    state::write_batch batch;
    batch.put_progress({topology_.spec.name, stage_.input, partitions_[i]},
                       lowest[i].value_or(state::progress{0, core::min_time}));
    if (auto st = db_.write(batch); !st) return st;
  }
  return {};
}

}  // namespace weir::runtime

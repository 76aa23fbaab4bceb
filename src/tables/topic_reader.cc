#include "tables/topic_reader.h"

#include <chrono>
#include <utility>

#include "weir/core/json.h"
#include "weir/core/log.h"
#include "weir/expr/table.h"

namespace weir::tables {
namespace {

using steady = std::chrono::steady_clock;

// Rows are written at least this often while updates arrive, and at most
// this many records go into one batch.
constexpr auto flush_interval = std::chrono::milliseconds(100);
constexpr std::size_t max_batch_records = 5000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch())
      .count();
}

}  // namespace

topic_reader::topic_reader(table& t, std::string pipeline, state::database& db,
                           const state::store& store, table_probe probe)
    : table_(t), pipeline_(std::move(pipeline)), db_(db), store_(store), probe_(probe) {}

topic_reader::~topic_reader() {
  stop();
}

core::status topic_reader::start(const kafka::client_settings& kafka) {
  const auto& spec = table_.spec();
  auto count = kafka::partition_count(kafka, spec.topic, std::chrono::seconds(30));
  if (!count) {
    return core::error{count.err().code, "table '" + spec.name + "': " + count.err().message};
  }
  kafka::client_settings settings = kafka;
  settings.client_id = pipeline_ + ".table." + spec.name;
  settings.group_instance_id.reset();
  settings.transactional_id.reset();
  auto r = kafka::make_partition_reader(settings);
  if (!r) return std::move(r).err();
  reader_ = std::move(*r);

  const std::string progress_name = store_.name();
  std::vector<kafka::topic_partition> tps;
  std::vector<kafka::partition_offset> starts;
  for (std::int32_t p = 0; p < *count; ++p) {
    tps.push_back({spec.topic, p});
    auto pr = db_.read_progress(state::partition_id{progress_name, spec.topic, p});
    if (!pr) return std::move(pr).err();
    partition_state st;
    st.next = *pr ? (*pr)->next_offset : -1;
    partitions_[p] = st;
    starts.push_back({{spec.topic, p}, *pr ? (*pr)->next_offset : kafka::from_beginning});
  }
  auto ends = reader_->bounds(tps, std::chrono::seconds(30));
  if (!ends) {
    return core::error{ends.err().code, "table '" + spec.name + "': " + ends.err().message};
  }
  for (const auto& e : *ends) {
    auto& st = partitions_[e.tp.partition];
    st.end = e.high;
    st.caught_up = e.high == 0 || st.next >= e.high;
  }
  // Rows already stored by an earlier run.
  std::int64_t rows = 0;
  auto scanned = store_.scan("", [&](std::string_view, std::string_view) {
    ++rows;
    return true;
  });
  if (!scanned) return scanned;
  rows_ = rows;
  probe_.rows->set(static_cast<double>(rows_));
  update_remaining();
  if (auto st = reader_->assign(starts); !st) return st;
  core::log::info("table bootstrapping", {{"pipeline", pipeline_},
                                          {"table", spec.name},
                                          {"topic", spec.topic},
                                          {"partitions", std::to_string(*count)},
                                          {"stored_rows", std::to_string(rows_)},
                                          {"records_to_read", std::to_string(remaining())}});
  thread_ = std::thread([this] { run(); });
  return {};
}

void topic_reader::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> topic_reader::failure() const {
  std::lock_guard lock(failure_mu_);
  return failure_;
}

void topic_reader::run() {
  if (auto st = loop(); !st) {
    core::log::error("table reader failed",
                     {{"pipeline", pipeline_}, {"table", name()}, {"error", st.err().message}});
    std::lock_guard lock(failure_mu_);
    failure_ = "table '" + name() + "': " + st.err().message;
  }
  reader_.reset();
}

void topic_reader::update_remaining() {
  std::int64_t left = 0;
  for (const auto& [p, st] : partitions_) {
    if (!st.caught_up)
      left += std::max<std::int64_t>(0, st.end - std::max<std::int64_t>(st.next, 0));
  }
  remaining_.store(left, std::memory_order_relaxed);
}

core::status topic_reader::loop() {
  state::write_batch batch;
  std::size_t unflushed = 0;  // records read since the last flush
  auto last_flush = steady::now();
  const auto started = steady::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    auto item = reader_->poll(std::chrono::milliseconds(100));
    if (!item) return std::move(item).err();
    if (item->record) {
      const auto& r = item->record->view();
      apply(r, batch);
      ++unflushed;
      auto& st = partitions_[r.partition];
      st.next = r.offset + 1;
      if (st.next >= st.end) st.caught_up = true;
    } else if (item->end_of_partition) {
      partitions_[item->end_of_partition->partition].caught_up = true;
    }
    bool all = true;
    for (const auto& [p, st] : partitions_) all = all && st.caught_up;
    const bool finishing = all && !bootstrapped();
    if (unflushed > 0 && (unflushed >= max_batch_records || finishing ||
                          steady::now() - last_flush >= flush_interval)) {
      if (auto st = flush(batch); !st) return st;
      unflushed = 0;
      last_flush = steady::now();
      update_remaining();
    }
    if (finishing && unflushed == 0) {
      update_remaining();
      bootstrapped_.store(true, std::memory_order_release);
      core::log::info(
          "table bootstrapped",
          {{"pipeline", pipeline_},
           {"table", name()},
           {"rows", std::to_string(rows_)},
           {"seconds",
            std::to_string(std::chrono::duration<double>(steady::now() - started).count())}});
    }
  }
  if (unflushed > 0) return flush(batch);
  return {};
}

void topic_reader::apply(const core::record_view& r, state::write_batch& batch) {
  const auto& spec = table_.spec();
  auto invalid = [&](const std::string& why) {
    probe_.invalid_records->inc();
    static thread_local std::int64_t last_log = 0;
    static thread_local std::uint64_t suppressed = 0;
    const auto now = now_ms();
    if (last_log != 0 && now - last_log < 10'000) {
      ++suppressed;
      return;
    }
    core::log::warn("table record skipped",
                    {{"pipeline", pipeline_},
                     {"table", spec.name},
                     {"record", std::string(r.topic) + "/" + std::to_string(r.partition) + "@" +
                                    std::to_string(r.offset)},
                     {"reason", why},
                     {"not_logged_since_last", std::to_string(suppressed)}});
    last_log = now;
    suppressed = 0;
  };
  auto has_row = [&](const std::string& key) {
    if (auto it = pending_.find(key); it != pending_.end()) return it->second;
    auto stored = store_.get(key);
    return stored && stored->has_value();
  };

  if (!r.value) {
    // A tombstone removes the row stored under the record key.
    if (!r.key) return invalid("a tombstone without a key");
    std::string key(*r.key);
    if (has_row(key)) --rows_;
    batch.erase(store_, key);
    pending_[key] = false;
    ++unflushed_updates_;
    return;
  }
  auto row = core::parse_json(*r.value);
  if (!row) return invalid("not JSON: " + row.err().message);
  if (!row->is_object()) {
    return invalid(std::string("a row must be a JSON object, found ") +
                   core::kind_name(row->type()));
  }
  std::string key;
  if (spec.key) {
    std::string buf;
    const core::value* k = field_at(*row, *spec.key);
    auto text = k ? expr::table_key(*k, buf) : std::nullopt;
    if (!text || text->empty()) return invalid("key field '" + *spec.key + "' is missing or null");
    key = std::string(*text);
  } else {
    if (!r.key || r.key->empty()) return invalid("the record has no key");
    key = std::string(*r.key);
  }
  if (!has_row(key)) ++rows_;
  batch.put(store_, key, *r.value);
  pending_[key] = true;
  ++unflushed_updates_;
}

core::status topic_reader::flush(state::write_batch& batch) {
  const auto& spec = table_.spec();
  for (const auto& [p, st] : partitions_) {
    if (st.next >= 0) {
      batch.put_progress(state::partition_id{store_.name(), spec.topic, p},
                         state::progress{st.next, core::min_time});
    }
  }
  if (auto st = db_.write(batch); !st) return st;
  batch = state::write_batch{};
  pending_.clear();
  // Counted once written, so that the metric never runs ahead of lookups.
  probe_.updates->inc(std::exchange(unflushed_updates_, 0));
  probe_.rows->set(static_cast<double>(rows_));
  return {};
}

}  // namespace weir::tables

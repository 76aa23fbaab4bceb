#include <algorithm>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <numeric>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "ops/compile.h"
#include "ops/steps.h"
#include "ops/window_sweep.h"
#include "weir/core/json.h"
#include "weir/core/log.h"
#include "weir/ops/aggregate.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace weir::ops {
namespace {

enum class window_kind : std::uint8_t { tumbling, hopping, sliding, session };
enum class emit_mode : std::uint8_t { final, on_watermark, changes };

// Immutable settings of one window step.
struct window_settings {
  window_kind kind = window_kind::tumbling;
  core::millis size = 0;     // tumbling, hopping: window length; sliding: the time difference d
  core::millis advance = 0;  // hopping
  core::millis gap = 0;      // session
  core::millis pane = 0;     // hopping: gcd(size, advance), the unit of shared partial aggregates
  core::millis lateness = 0;
  emit_mode emit = emit_mode::final;
  core::millis changes_every = 0;
  std::optional<std::string> late_topic;
  std::vector<expr::expression> group_by;
  std::vector<std::string> group_names;
  std::vector<std::unique_ptr<aggregate>> aggregates;
  std::vector<std::string> aggregate_texts;  // as written, for weir explain
};

// One window (or session) of one group. Tumbling windows and sessions hold
// their accumulators; hopping windows are computed from panes and sliding
// windows from the buffered records when they emit.
struct window_entry {
  core::value::array_type group;
  std::string group_json;
  core::millis start = 0;
  core::millis end = 0;  // exclusive for tumbling/hopping; the last time for sliding/session
  accumulators acc;
  std::uint32_t revision = 0;  // results emitted so far
  bool fired = false;          // on_watermark: the on-time result is out
  bool changed = false;        // changes: changed since the last publication
};

// A buffered record (sliding windows): its event time and evaluated arguments.
struct buffered_record {
  core::millis time = 0;
  std::vector<core::value> args;
};

// Hopping: a pane, the partial aggregate of [time, time + pane). Sliding: the
// records buffered at one event time, in arrival order.
struct content_slot {
  core::millis time = 0;
  accumulators acc;                      // hopping
  std::vector<buffered_record> records;  // sliding
  bool dirty = false;                    // changed since the last checkpoint
};

constexpr auto slot_time = [](const content_slot& c) noexcept { return c.time; };

// What one group holds for hopping or sliding windows: its slots in time
// order (each still usable by an open or future window), the sweeps that
// compute its windows from them, and, with emit: final, the windows not
// yet emitted (hopping: the earliest; sliding: each start). Invariant: a slot
// time in `dirty` for every slot with `dirty` set and every slot dropped
// since the checkpoint; likewise `dirty_windows` for sliding window starts.
struct group_content {
  core::value::array_type group;    // emit final: for the results
  std::deque<content_slot> slots;   // by time
  std::vector<core::millis> dirty;  // slot times to write or erase at the checkpoint
  bool listed = false;              // in dirty_groups_
  core::millis next_start = 0;      // hopping, emit final: valid when scheduled
  bool scheduled = false;
  bool schedule_dirty = false;
  // Sliding, emit final: the starts of the open windows, in order, and those
  // created or closed since the checkpoint.
  std::deque<core::millis> window_starts;
  std::vector<core::millis> dirty_windows;
  // Emit changes: times of the records added since the windows containing
  // them were last marked changed.
  std::vector<core::millis> changed_times;
  // Windows are queried in start order by closing (close), by firing or a
  // change publication (publish) and by on_watermark corrections (correct).
  window_sweep close, publish, correct;
};

// Keys: group JSON then the start time, so that one group's entries are
// adjacent and ordered by time.
std::string entry_key(const std::string& group_json, core::millis t) {
  std::string k = group_json;
  state::append_i64_ordered(k, t);
  return k;
}

core::millis key_time(std::string_view key) {
  return state::read_i64_ordered(key.substr(key.size() - 8));
}

// Little-endian helpers for the stored form.
void put_u32(std::string& out, std::uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}
void put_i64(std::string& out, std::int64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}
bool get_u32(std::string_view& in, std::uint32_t& v) {
  if (in.size() < 4) return false;
  std::memcpy(&v, in.data(), 4);
  in.remove_prefix(4);
  return true;
}
bool get_i64(std::string_view& in, std::int64_t& v) {
  if (in.size() < 8) return false;
  std::memcpy(&v, in.data(), 8);
  in.remove_prefix(8);
  return true;
}
void put_bytes(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}
bool get_bytes(std::string_view& in, std::string_view& s) {
  std::uint32_t n;
  if (!get_u32(in, n) || in.size() < n) return false;
  s = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

// Which groups may have state in the store only: a Bloom filter that grows
// by adding layers, each twice as large as the one before, so that a record
// of a group never seen costs no store lookup. Groups are never removed: a
// group read back stays a (harmless) positive, which costs a lookup that
// finds nothing once the group is gone. About 0.1 % false positives per
// layer, 16 bits per group.
class group_filter {
 public:
  bool empty() const noexcept { return layers_.empty(); }
  void add(std::string_view key) {
    if (layers_.empty() || count_ >= layers_.back().capacity) {
      const std::size_t capacity = layers_.empty() ? 1 << 16 : 2 * layers_.back().capacity;
      layers_.push_back(layer{std::vector<std::uint64_t>(capacity * bits_per_key / 64), capacity});
      count_ = 0;
    }
    layer& l = layers_.back();
    for_each_bit(key, l, [&](std::size_t i) { l.bits[i / 64] |= std::uint64_t{1} << (i % 64); });
    ++count_;
  }
  bool may_contain(std::string_view key) const {
    for (const layer& l : layers_) {
      bool all = true;
      for_each_bit(key, l,
                   [&](std::size_t i) { all = all && (l.bits[i / 64] >> (i % 64) & 1u) != 0; });
      if (all) return true;
    }
    return false;
  }

 private:
  static constexpr std::size_t bits_per_key = 16, probes = 11;
  struct layer {
    std::vector<std::uint64_t> bits;  // capacity * bits_per_key, a power of two
    std::size_t capacity;
  };
  template <class Fn>
  static void for_each_bit(std::string_view key, const layer& l, Fn&& fn) {
    const std::uint64_t h = std::hash<std::string_view>{}(key);
    const std::uint64_t step = (h * 0x9e3779b97f4a7c15ull) >> 17 | 1u;
    const std::size_t mask = l.bits.size() * 64 - 1;
    for (std::size_t i = 0; i < probes; ++i) fn(static_cast<std::size_t>(h + i * step) & mask);
  }
  std::vector<layer> layers_;
  std::size_t count_ = 0;  // in the last layer
};

// Event-time window aggregation (DESIGN.md section 3): tumbling, hopping
// (through shared panes), sliding (Kafka Streams semantics) and session
// windows, with allowed lateness, late records counted and optionally written
// to a side topic, and final, on_watermark or periodic change emission.
class window_step final : public step {
 public:
  window_step(std::string name, window_settings s, metrics::counter& late,
              metrics::counter& emitted, metrics::gauge& open)
      : step(std::move(name)), s_(std::move(s)), late_(late), emitted_(emitted), open_(open) {}

  bool stateful() const noexcept override { return true; }
  std::unique_ptr<step_instance> instantiate(const task_context& ctx) const override;
  std::string explain() const override;

  const std::vector<std::string>* group_fields() const override { return &s_.group_names; }
  core::result<std::string> group_key(const event& e) const override;

  // The group of `e` (its group_by values, in order).
  core::result<core::value::array_type> group_of(const event& e) const;

  const window_settings& settings() const noexcept { return s_; }
  metrics::counter& late_counter() const noexcept { return late_; }
  metrics::counter& emitted_counter() const noexcept { return emitted_; }
  metrics::gauge& open_gauge() const noexcept { return open_; }

 private:
  window_settings s_;
  metrics::counter& late_;
  metrics::counter& emitted_;
  metrics::gauge& open_;  // weir_open_windows: the sum of every task's open windows
};

// Keeps the one result emitted into it.
struct collect_one final : emitter {
  event e;
  void emit(event&& x) override { e = std::move(x); }
};

// The windows of one task. Only the task's thread touches it.
class window_instance final : public step_instance {
 public:
  window_instance(const window_step& def, const task_context& ctx)
      : def_(def), s_(def.settings()), ctx_(ctx) {
    budget_ = ctx_.store ? ctx_.store->cache() : nullptr;
    if (budget_ && !budget_->bounded()) budget_ = nullptr;
    if (budget_) budget_->join();
  }
  // A revoked task's windows leave the gauge with it, its cache the budget.
  ~window_instance() override {
    def_.open_gauge().add(static_cast<double>(-published_open_));
    if (budget_) {
      budget_->add_used(-cached_bytes_);
      budget_->leave();
    }
  }
  window_instance(const window_instance&) = delete;
  window_instance& operator=(const window_instance&) = delete;

  core::status process(event&& e, emitter& out) override;
  void on_watermark(core::millis wm, emitter& out) override;
  void on_tick(core::millis now, emitter& out) override;
  core::status restore() override;
  void checkpoint(state::write_batch& batch) override;
  bool wants_checkpoint() const noexcept override;

 private:
  // When a window's on-time result is due (watermark >= fire_at) and when it
  // closes (watermark >= close_at).
  core::millis fire_at(const window_entry& w) const noexcept {
    switch (s_.kind) {
      case window_kind::tumbling:
      case window_kind::hopping:
        return w.end;
      case window_kind::sliding:
        return w.end + 1;
      case window_kind::session:
        return w.end + s_.gap + 1;
    }
    return w.end;
  }
  core::millis close_at(const window_entry& w) const noexcept { return fire_at(w) + s_.lateness; }
  bool closed(core::millis close) const noexcept {
    return watermark_ != core::min_time && watermark_ >= close;
  }

  accumulators fresh() const {
    accumulators a;
    a.reserve(s_.aggregates.size());
    for (const auto& agg : s_.aggregates) a.push_back(agg->create());
    return a;
  }
  static void add_all(accumulators& acc, const std::vector<core::value>& args, core::millis t) {
    for (std::size_t i = 0; i < acc.size(); ++i) acc[i]->add(args[i], t);
  }

  window_entry& open_window(const std::string& key, const core::value::array_type& group,
                            const std::string& group_json, core::millis start, core::millis end);
  void touch(const std::string& key, window_entry& w, emitter& out);
  void late(const event& e);

  core::status process_time_window(const event& e, const core::value::array_type& group,
                                   const std::string& gj, emitter& out);
  core::status process_sliding(const event& e, const core::value::array_type& group,
                               const std::string& gj, emitter& out);
  core::status process_session(const event& e, const core::value::array_type& group,
                               const std::string& gj, emitter& out);

  bool lazy_hopping() const noexcept {
    return s_.kind == window_kind::hopping && s_.emit == emit_mode::final;
  }
  // Sliding with emit: final: windows hold nothing but their existence, so
  // each group keeps their starts and one timer, at its earliest window's
  // close, instead of an entry and a timer per window.
  bool lazy_sliding() const noexcept {
    return s_.kind == window_kind::sliding && s_.emit == emit_mode::final;
  }
  core::millis slide_close(core::millis start) const noexcept {
    return start + s_.size + 1 + s_.lateness;
  }
  void close_sliding(core::millis wm, emitter& out);
  core::millis hop_close(core::millis start) const noexcept {
    return start + s_.size + s_.lateness;
  }
  // First window start (a multiple of advance) whose window contains time p.
  core::millis first_window_containing(core::millis p) const noexcept {
    return (core::floor_div(p - s_.size, s_.advance) + 1) * s_.advance;
  }
  void close_hopping(core::millis wm, emitter& out);

  // Which of a group's sweeps computes a window: they serve different
  // sequences of windows, each in start order.
  enum class sweep_use : std::uint8_t { close, publish, correct };
  // g: w's group content when the caller has it at hand.
  accumulators compute(const window_entry& w, sweep_use use, group_content* g = nullptr);
  void emit_result(window_entry& w, bool final, sweep_use use, emitter& out,
                   group_content* g = nullptr);
  // on_watermark: corrected results of windows that a record changed after
  // their on-time result, emitted in the given order.
  void emit_corrections(const std::vector<window_entry*>& windows, emitter& out);
  void erase_window(const std::string& key);
  void drop_expired_content();

  // Hopping and sliding content of one group.
  core::millis slot_expiry(core::millis t) const noexcept {
    if (s_.kind == window_kind::hopping) {
      return core::floor_div(t, s_.advance) * s_.advance + s_.size + s_.lateness;
    }
    return t + s_.size + 1 + s_.lateness;
  }
  // The index of g's slot at time t, created (and indexed for expiry) when
  // missing.
  std::size_t slot_at(group_content& g, const std::string& gj, core::millis t);
  void mark_dirty(group_content& g, const std::string& gj, content_slot& slot);
  void list_group(group_content& g, const std::string& gj) {
    if (g.listed) return;
    g.listed = true;
    dirty_groups_.push_back(gj);
  }
  static void changed(group_content& g, core::millis t) noexcept {
    g.close.changed(t);
    g.publish.changed(t);
    g.correct.changed(t);
  }
  // Hopping and sliding, emit changes: marks the windows containing records
  // added since the last call as changed.
  void mark_changes();

  // Hopping with emit: final: the windows of g not emitted yet that hold a
  // pane (those close_hopping will emit).
  std::int64_t hopping_windows(const group_content& g) const noexcept;
  // Adds the change of open_windows_ since the last call to the gauge.
  void publish_open() {
    if (open_windows_ == published_open_) return;
    def_.open_gauge().add(static_cast<double>(open_windows_ - published_open_));
    published_open_ = open_windows_;
  }

  // Restore and the cache: entries read from the store.
  bool apply_stored(char tag, std::string key, std::string_view v, bool count);
  void index_content(const std::string& gj, const group_content& g);

  // The cache of groups in memory, with a bounded budget only (see "Window
  // state and the memory budget" in src/ops/README.md). A group (all its
  // windows, panes, records and closed-session marks) is in memory or in the
  // store only, never in part. Groups in memory are in lru_; those changed
  // since the last checkpoint are dirty and stay. At a checkpoint each
  // changed group's mark is written in the batch: `t` + its earliest timer
  // + group (the timer index, in time order), and `m` -> open windows; then
  // least recently used groups are dropped from memory until the task's
  // bytes are within its share. A record (of a group in stored_) or a due
  // timer (a `t` mark at or below the watermark) reads a group back.
  struct cached_group {
    std::list<const std::string*>::iterator lru;
    std::size_t bytes = 0;               // estimate, as of its last checkpoint or read
    std::optional<core::millis> marked;  // the timer its `t` mark in the store names
    bool unpublished = false;            // emit changes: has a `u` mark (is pinned)
  };
  bool bounded() const noexcept { return budget_ != nullptr; }
  cached_group& add_cached(const std::string& gj);
  // Makes gj's group the most recently used, reading it back if it is in
  // the store only.
  core::status use_group(const std::string& gj);
  // Reads gj's group from the store; false when it has no state there. Its
  // `t` mark names the earliest timer of what it reads.
  core::result<bool> load_group(const std::string& gj);
  // Reads back the groups in the store only whose earliest timer is due.
  void load_due(core::millis wm);
  template <class Fn>
  void for_group_windows(const std::string& gj, Fn&& fn);
  std::optional<core::millis> earliest_timer(const std::string& gj);
  std::size_t group_bytes(const std::string& gj);
  std::size_t accumulator_bytes(const accumulators& acc);
  bool pinned(const std::string& gj);
  void evict(const std::string& gj);
  void checkpoint_cache(std::vector<std::string>& touched, state::write_batch& batch);
  void account(std::int64_t delta) noexcept {
    cached_bytes_ += delta;
    budget_->add_used(delta);
  }
  static constexpr char timer_tag = 't', meta_tag = 'm', unpublished_tag = 'u';
  // Resident bytes per part of a group, beyond the sizes of its keys and
  // encoded accumulators: nodes of the maps and sets (timers included),
  // allocator overhead (bench/memory measures the whole).
  static constexpr std::size_t group_overhead = 200, window_overhead = 360,
                               accumulator_overhead = 40, content_overhead = 400,
                               slot_overhead = 120, record_overhead = 64, value_overhead = 32,
                               session_mark_overhead = 160;

  std::string encode_window(const window_entry& w) const;
  std::string encode_accumulators(const accumulators& acc) const;
  bool decode_accumulators(std::string_view& in, accumulators& acc) const;

  const window_step& def_;
  const window_settings& s_;
  task_context ctx_;
  core::millis watermark_ = core::min_time;
  core::millis next_publish_ = core::min_time;
  // Windows (sessions) open now, and the part of it added to the gauge: a
  // plain integer on the hot path, published at ticks and checkpoints.
  std::int64_t open_windows_ = 0;
  std::int64_t published_open_ = 0;

  std::map<std::string, window_entry> windows_;            // group JSON + start
  std::set<std::pair<core::millis, std::string>> closes_;  // (close_at, key)
  std::set<std::pair<core::millis, std::string>> fires_;   // on_watermark: (fire_at, key)
  // Hopping and sliding: each group's panes or buffered records, found
  // through a hash map; a record costs one slot update whatever size /
  // advance or the time difference is.
  std::unordered_map<std::string, group_content> groups_;  // group JSON
  std::vector<std::string> dirty_groups_;                  // groups with g.listed
  std::vector<std::string> changed_groups_;                // emit changes: with changed_times
  // When each group's first slot stops being usable: (expiry, group JSON).
  std::set<std::pair<core::millis, std::string>> slot_expiry_;
  // Hopping and sliding with emit: final: windows are not kept one by one;
  // one timer per group fires at the close of its earliest window not yet
  // emitted: (close, group JSON).
  std::set<std::pair<core::millis, std::string>> group_closes_;
  std::map<std::string, core::millis> closed_sessions_;  // session: group JSON + start -> last
  // When each closed-session mark can go: (expiry, key).
  std::set<std::pair<core::millis, std::string>> expiry_;

  // Keys changed since the last checkpoint, by kind of entry.
  std::unordered_set<std::string> dirty_windows_, dirty_sessions_;

  std::vector<core::value> args_;  // scratch: one record's evaluated arguments

  state::cache_budget* budget_ = nullptr;                // null: every group stays in memory
  std::unordered_map<std::string, cached_group> cache_;  // group JSON
  std::list<const std::string*> lru_;                    // keys of cache_, most recent first
  std::int64_t cached_bytes_ = 0;                        // sum of cache_'s bytes
  // Growth since the last checkpoint, for wants_checkpoint: a group's bytes
  // are only measured when a checkpoint writes it, so new groups and new
  // windows count at the average sizes the last checkpoint measured.
  std::int64_t new_groups_ = 0;
  std::int64_t open_at_checkpoint_ = 0;   // open_windows_ then
  std::int64_t bytes_at_checkpoint_ = 0;  // cached_bytes_ after its evictions
  std::int64_t group_average_ = 1024;     // bytes per cached group then
  std::int64_t window_average_ = 512;     // bytes per open window then
  group_filter stored_;                   // the groups that may be in the store only
  // No group in the store only has a timer before this.
  core::millis next_stored_timer_ = core::max_time;
  std::int64_t marked_open_ = -1;         // open_windows_ as the `m` mark has it
  std::vector<std::string> unmarked_;     // restored in full: marks to write
  std::vector<std::string> stale_marks_;  // without a bound: marks to erase
  std::string scratch_;
};

std::string window_step::explain() const {
  std::string keys;
  for (const auto& g : s_.group_names) keys += (keys.empty() ? "" : ", ") + g;
  std::string kind;
  switch (s_.kind) {
    case window_kind::tumbling:
      kind = "tumbling " + core::format_duration(s_.size) +
             ": [k*size, (k+1)*size), closes at watermark >= end + lateness";
      break;
    case window_kind::hopping:
      kind = "hopping size " + core::format_duration(s_.size) + " advance " +
             core::format_duration(s_.advance) + " (panes of " + core::format_duration(s_.pane) +
             "), closes at watermark >= end + lateness";
      break;
    case window_kind::sliding:
      kind = "sliding " + core::format_duration(s_.size) +
             " (Kafka Streams semantics), closes at watermark > end + lateness";
      break;
    case window_kind::session:
      kind = "session gap " + core::format_duration(s_.gap) +
             ", closes at watermark > last + gap + lateness";
      break;
  }
  std::string emit =
      s_.emit == emit_mode::final ? "final (one result per window)"
      : s_.emit == emit_mode::on_watermark
          ? "on_watermark (revision, final)"
          : "changes every " + core::format_duration(s_.changes_every) + " (revision, final)";
  std::string aggs;
  for (const auto& a : s_.aggregate_texts) aggs += (aggs.empty() ? "" : ", ") + a;
  return "window " + name() + ": group by [" + keys + "] (the result key)\n" +
         "  kind:      " + kind + "\n" + "  lateness:  " + core::format_duration(s_.lateness) +
         "\n" + "  emit:      " + emit + "\n" + "  late:      " +
         (s_.late_topic ? "counted, written to " + *s_.late_topic
                        : std::string("counted and dropped")) +
         "\n" + "  aggregate: " + aggs;
}

std::unique_ptr<step_instance> window_step::instantiate(const task_context& ctx) const {
  return std::make_unique<window_instance>(*this, ctx);
}

window_entry& window_instance::open_window(const std::string& key,
                                           const core::value::array_type& group,
                                           const std::string& group_json, core::millis start,
                                           core::millis end) {
  auto [it, created] = windows_.try_emplace(key);
  window_entry& w = it->second;
  if (created) {
    w.group = group;
    w.group_json = group_json;
    w.start = start;
    w.end = end;
    if (s_.kind == window_kind::tumbling || s_.kind == window_kind::session) w.acc = fresh();
    closes_.emplace(close_at(w), key);
    if (s_.emit == emit_mode::on_watermark) fires_.emplace(fire_at(w), key);
    dirty_windows_.insert(key);
    ++open_windows_;
  }
  return w;
}

// Records that a window's content changed: in on_watermark mode a window
// whose on-time result is out publishes a correction at once.
void window_instance::touch(const std::string& key, window_entry& w, emitter& out) {
  dirty_windows_.insert(key);
  w.changed = true;
  if (s_.emit == emit_mode::on_watermark && w.fired) emit_result(w, false, sweep_use::correct, out);
}

void window_instance::late(const event& e) {
  def_.late_counter().inc();
  if (!s_.late_topic) return;
  core::output_record r;
  r.topic = *s_.late_topic;
  if (e.source) {
    // The record as it was read: same key, bytes, timestamp and headers.
    if (e.source->key) r.key = std::string(*e.source->key);
    r.value = e.source->value ? std::string(*e.source->value) : std::string();
    r.timestamp_ms = e.source->timestamp_ms;
    for (const auto& h : e.source->headers) {
      r.headers.push_back(core::header{
          std::string(h.key), h.value ? std::optional<std::string>(*h.value) : std::nullopt});
    }
  } else {
    r.key = e.key;
    r.value = core::to_json(e.value);
    r.timestamp_ms = e.time;
  }
  ctx_.side->write(std::move(r));
}

core::result<core::value::array_type> window_step::group_of(const event& e) const {
  expr::scope scope{&e.value, e.source};
  core::value::array_type group;
  group.reserve(s_.group_by.size());
  for (const auto& g : s_.group_by) {
    auto v = g.eval(scope);
    if (!v) return std::move(v).err();
    group.push_back(std::move(*v));
  }
  return group;
}

namespace {
// The group key as a JSON array, written without copying the group.
std::string group_json(const core::value::array_type& group) {
  std::string gj = "[";
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (i) gj.push_back(',');
    core::write_json(group[i], gj);
  }
  gj.push_back(']');
  return gj;
}
}  // namespace

core::result<std::string> window_step::group_key(const event& e) const {
  auto group = group_of(e);
  if (!group) return std::move(group).err();
  return group_json(*group);
}

core::status window_instance::process(event&& e, emitter& out) {
  expr::scope scope{&e.value, e.source};
  auto grouped = def_.group_of(e);
  if (!grouped) return std::move(grouped).err();
  core::value::array_type& group = *grouped;
  // Evaluate and check everything before touching state, so that an error
  // leaves it as it was.
  args_.resize(s_.aggregates.size());
  for (std::size_t i = 0; i < s_.aggregates.size(); ++i) {
    const auto& a = *s_.aggregates[i];
    if (!a.argument()) {
      args_[i] = core::value{};
      continue;
    }
    auto v = a.argument()->eval(scope);
    if (!v) return std::move(v).err();
    if (auto st = a.check(*v); !st) return st;
    args_[i] = std::move(*v);
  }
  const std::string gj = group_json(group);
  if (bounded()) {
    if (auto used = use_group(gj); !used) return used;
  }
  core::status st;
  switch (s_.kind) {
    case window_kind::tumbling:
    case window_kind::hopping:
      st = process_time_window(e, group, gj, out);
      break;
    case window_kind::sliding:
      st = process_sliding(e, group, gj, out);
      break;
    case window_kind::session:
      st = process_session(e, group, gj, out);
      break;
  }
  return st;
}

std::size_t window_instance::slot_at(group_content& g, const std::string& gj, core::millis t) {
  auto& slots = g.slots;
  if (!slots.empty() && slots.back().time == t) return slots.size() - 1;
  std::size_t i = slots.size();
  if (!slots.empty() && slots.back().time > t) {
    auto it = lower_bound_near(slots, t, slot_time, true);
    i = static_cast<std::size_t>(it - slots.begin());
    if (it->time == t) return i;
  }
  if (i == 0 && !slots.empty()) slot_expiry_.erase({slot_expiry(slots.front().time), gj});
  slots.insert(slots.begin() + static_cast<std::ptrdiff_t>(i), content_slot{t, {}, {}, false});
  if (i == 0) slot_expiry_.emplace(slot_expiry(t), gj);
  return i;
}

void window_instance::mark_dirty(group_content& g, const std::string& gj, content_slot& slot) {
  if (!slot.dirty) {
    slot.dirty = true;
    g.dirty.push_back(slot.time);
  }
  list_group(g, gj);
}

core::status window_instance::process_time_window(const event& e,
                                                  const core::value::array_type& group,
                                                  const std::string& gj, emitter& out) {
  const core::millis t = e.time;
  const core::millis advance = s_.kind == window_kind::hopping ? s_.advance : s_.size;
  // The latest window containing t; every earlier one ends sooner.
  const core::millis last_start = core::floor_div(t, advance) * advance;
  if (closed(last_start + s_.size + s_.lateness)) {
    late(e);
    return {};
  }
  if (s_.kind == window_kind::tumbling) {
    const std::string key = entry_key(gj, last_start);
    window_entry& w = open_window(key, group, gj, last_start, last_start + s_.size);
    add_all(w.acc, args_, t);
    touch(key, w, out);
    return {};
  }
  // Hopping: the record updates one pane; windows are computed from panes.
  const core::millis pane_start = core::floor_div(t, s_.pane) * s_.pane;
  group_content& g = groups_.try_emplace(gj).first->second;
  const std::size_t pi = slot_at(g, gj, pane_start);
  content_slot& pane = g.slots[pi];
  const bool new_pane = pane.acc.empty();
  if (new_pane) pane.acc = fresh();
  add_all(pane.acc, args_, t);
  mark_dirty(g, gj, pane);
  changed(g, pane_start);
  // The open windows containing t, [k*advance, k*advance + size), exist
  // once a record arrived in them while open; one that holds another pane
  // has (a pane lives as long as an open window contains it). So only a new
  // pane opens windows: those that contain neither neighbouring pane. With
  // emit: final they are only counted.
  if (new_pane) {
    core::millis lowest = t - s_.size;  // exclusive
    core::millis highest = last_start;
    if (pi > 0) lowest = std::max(lowest, g.slots[pi - 1].time);
    if (pi + 1 < g.slots.size()) {
      const core::millis below_next = g.slots[pi + 1].time - s_.size;
      highest = std::min(highest, core::floor_div(below_next, advance) * advance);
    }
    for (core::millis start = highest; start > lowest; start -= advance) {
      if (closed(start + s_.size + s_.lateness)) break;  // and every earlier one
      if (lazy_hopping()) {
        ++open_windows_;
      } else {
        open_window(entry_key(gj, start), group, gj, start, start + s_.size);
      }
    }
  }
  if (lazy_hopping()) {
    // The earliest window of this pane that is still open.
    core::millis first = first_window_containing(pane_start);
    while (closed(hop_close(first))) first += advance;
    if (!g.scheduled || first < g.next_start) {
      if (g.scheduled) group_closes_.erase({hop_close(g.next_start), gj});
      g.group = group;
      g.next_start = first;
      g.scheduled = true;
      g.schedule_dirty = true;
      group_closes_.emplace(hop_close(first), gj);
    }
    return {};
  }
  if (s_.emit == emit_mode::changes) {
    // The windows containing t are marked changed at the next publication.
    if (g.changed_times.empty()) changed_groups_.push_back(gj);
    g.changed_times.push_back(t);
    return {};
  }
  // on_watermark: windows whose on-time result is out (end <= watermark)
  // publish a correction, latest first.
  const core::millis last_fired =
      watermark_ == core::min_time ? last_start : std::min(last_start, watermark_ - s_.size);
  std::vector<window_entry*> corrections;
  for (auto it = windows_.lower_bound(entry_key(gj, first_window_containing(t)));
       it != windows_.end(); ++it) {
    if (it->first.compare(0, gj.size(), gj) != 0 || it->first.size() != gj.size() + 8) break;
    if (it->second.start > last_fired) break;
    if (it->second.fired) corrections.push_back(&it->second);
  }
  std::reverse(corrections.begin(), corrections.end());
  emit_corrections(corrections, out);
  return {};
}

core::status window_instance::process_sliding(const event& e, const core::value::array_type& group,
                                              const std::string& gj, emitter& out) {
  const core::millis t = e.time;
  const core::millis d = s_.size;
  // A record can be in windows [s, s + d] with t - d <= s <= t; the latest
  // of them ends at t + d.
  if (closed(t + d + 1 + s_.lateness)) {
    late(e);
    return {};
  }
  group_content& g = groups_.try_emplace(gj).first->second;
  const std::size_t i = slot_at(g, gj, t);
  content_slot& slot = g.slots[i];
  slot.records.push_back(buffered_record{t, args_});
  mark_dirty(g, gj, slot);
  changed(g, t);

  // The windows this record makes new. A window is opened unless it has
  // already closed: a record is dropped from each window that has closed.
  auto ensure = [&](core::millis start) {
    if (closed(slide_close(start))) return;
    if (lazy_sliding()) {
      auto& starts = g.window_starts;
      auto at = lower_bound_near(
          starts, start, [](core::millis x) { return x; }, true);
      if (at != starts.end() && *at == start) return;
      const bool earliest = at == starts.begin();
      if (earliest && !starts.empty()) group_closes_.erase({slide_close(starts.front()), gj});
      starts.insert(at, start);
      ++open_windows_;
      if (earliest) group_closes_.emplace(slide_close(start), gj);
      if (g.group.empty()) g.group = group;
      g.dirty_windows.push_back(start);
      list_group(g, gj);
      return;
    }
    const std::string key = entry_key(gj, start);
    window_entry& w = open_window(key, group, gj, start, start + d);
    if (s_.emit == emit_mode::changes) {  // published at the next interval
      w.changed = true;
      dirty_windows_.insert(key);
    }
  };
  // Its left window [t - d, t].
  ensure(t - d);
  // Its right window [t + 1, t + 1 + d], if a record falls in it.
  if (i + 1 < g.slots.size() && g.slots[i + 1].time <= t + 1 + d) ensure(t + 1);
  // The right window of the latest earlier record, if it now holds this one.
  // Earlier records have a later record before this one that opened theirs.
  if (i > 0 && g.slots[i - 1].time >= t - d - 1) ensure(g.slots[i - 1].time + 1);
  // With emit: final nothing stored changes in the other windows containing t.
  if (s_.emit == emit_mode::changes) {
    if (g.changed_times.empty()) changed_groups_.push_back(gj);
    g.changed_times.push_back(t);
  } else if (s_.emit == emit_mode::on_watermark) {
    // Only windows whose on-time result is out ([s, s + d] with
    // s + d + 1 <= watermark) publish a correction.
    const core::millis last = watermark_ == core::min_time ? t : std::min(t, watermark_ - d - 1);
    std::vector<window_entry*> corrections;
    for (auto it = windows_.lower_bound(entry_key(gj, t - d)); it != windows_.end(); ++it) {
      if (it->first.compare(0, gj.size(), gj) != 0 || it->first.size() != gj.size() + 8) break;
      if (it->second.start > last) break;
      if (it->second.fired) corrections.push_back(&it->second);
    }
    emit_corrections(corrections, out);
  }
  return {};
}

void window_instance::mark_changes() {
  for (const auto& gj : changed_groups_) {
    auto git = groups_.find(gj);
    if (git == groups_.end()) continue;
    auto& times = git->second.changed_times;
    std::sort(times.begin(), times.end());
    const core::millis d = s_.size;
    for (auto it = windows_.lower_bound(entry_key(gj, times.front() - d)); it != windows_.end();
         ++it) {
      if (it->first.compare(0, gj.size(), gj) != 0 || it->first.size() != gj.size() + 8) break;
      window_entry& w = it->second;
      if (w.start > times.back()) break;
      auto in = std::lower_bound(times.begin(), times.end(), w.start);
      // Sliding windows include their end, hopping windows do not.
      if (in == times.end() || *in > w.end || (*in == w.end && s_.kind == window_kind::hopping)) {
        continue;
      }
      w.changed = true;
      dirty_windows_.insert(it->first);
    }
    times.clear();
  }
  changed_groups_.clear();
}

core::status window_instance::process_session(const event& e, const core::value::array_type& group,
                                              const std::string& gj, emitter& out) {
  const core::millis t = e.time;
  const core::millis gap = s_.gap;
  // A record within `gap` of a closed session is late, never a new session
  // beside it.
  for (auto it = closed_sessions_.lower_bound(entry_key(gj, core::min_time));
       it != closed_sessions_.end() && it->first.compare(0, gj.size(), gj) == 0; ++it) {
    core::millis first = key_time(it->first);
    if (t >= first - gap && t <= it->second + gap) {
      late(e);
      return {};
    }
  }
  // Sessions of this group within gap of t merge with it.
  core::millis first = t, last = t;
  std::vector<std::string> merging;
  for (auto it = windows_.lower_bound(entry_key(gj, core::min_time));
       it != windows_.end() && it->first.compare(0, gj.size(), gj) == 0 &&
       it->first.size() == gj.size() + 8;
       ++it) {
    const window_entry& w = it->second;
    if (w.start > t + gap) break;
    if (w.end + gap >= t) {
      merging.push_back(it->first);
      first = std::min(first, w.start);
      last = std::max(last, w.end);
    }
  }
  window_entry probe;
  probe.end = last;
  if (closed(close_at(probe))) {
    late(e);
    return {};
  }
  const std::string key = entry_key(gj, first);
  if (merging.size() == 1 && merging[0] == key && windows_.at(key).end >= last) {
    window_entry& w = windows_.at(key);
    add_all(w.acc, args_, t);
    touch(key, w, out);
    return {};
  }
  // Merge into a session with the new bounds.
  accumulators acc = fresh();
  std::uint32_t revision = 0;
  bool fired = false;
  for (const auto& k : merging) {
    window_entry& w = windows_.at(k);
    for (std::size_t i = 0; i < acc.size(); ++i) acc[i]->merge(*w.acc[i]);
    revision = std::max(revision, w.revision);
    fired = fired || w.fired;
    erase_window(k);
  }
  add_all(acc, args_, t);
  window_entry& w = open_window(key, group, gj, first, last);
  w.acc = std::move(acc);
  w.revision = revision;
  w.fired = fired;
  // A session merged from one whose on-time result is out continues it with
  // corrections: no second on-time result (as after a restore, which keeps
  // no firing timer for a fired window).
  if (fired) fires_.erase({fire_at(w), key});
  touch(key, w, out);
  return {};
}

void window_instance::erase_window(const std::string& key) {
  auto it = windows_.find(key);
  if (it == windows_.end()) return;
  closes_.erase({close_at(it->second), key});
  fires_.erase({fire_at(it->second), key});
  windows_.erase(it);
  --open_windows_;
  dirty_windows_.insert(key);  // erased at the next checkpoint
}

accumulators window_instance::compute(const window_entry& w, sweep_use use, group_content* g) {
  accumulators acc;
  switch (s_.kind) {
    case window_kind::tumbling:
    case window_kind::session:
      acc = fresh();
      for (std::size_t i = 0; i < acc.size(); ++i) acc[i]->merge(*w.acc[i]);
      break;
    case window_kind::hopping:
    case window_kind::sliding: {
      if (!g) {
        auto git = groups_.find(w.group_json);
        if (git == groups_.end()) return fresh();
        g = &git->second;
      }
      window_sweep& sweep = use == sweep_use::close     ? g->close
                            : use == sweep_use::publish ? g->publish
                                                        : g->correct;
      auto time_of = slot_time;
      auto fresh_acc = [this] { return fresh(); };
      if (s_.kind == window_kind::hopping) {
        auto fold = [](accumulators& into, const content_slot& pane) {
          for (std::size_t i = 0; i < into.size(); ++i) into[i]->merge(*pane.acc[i]);
        };
        acc = sweep.query(g->slots, w.start, w.end, time_of, fold, fresh_acc);
      } else {
        auto fold = [](accumulators& into, const content_slot& slot) {
          for (const auto& r : slot.records) add_all(into, r.args, r.time);
        };
        acc = sweep.query(g->slots, w.start, w.end + 1, time_of, fold, fresh_acc);
      }
      break;
    }
  }
  return acc;
}

void window_instance::emit_result(window_entry& w, bool final, sweep_use use, emitter& out,
                                  group_content* g) {
  accumulators acc = compute(w, use, g);
  core::value::object_type obj;
  obj.reserve(s_.group_names.size() + 4 + acc.size());
  for (std::size_t i = 0; i < s_.group_names.size(); ++i) {
    obj.push_back({s_.group_names[i], w.group[i]});
  }
  obj.push_back({"window_start", core::value{w.start}});
  obj.push_back({"window_end", core::value{w.end}});
  for (std::size_t i = 0; i < acc.size(); ++i) {
    obj.push_back({s_.aggregates[i]->name(), acc[i]->result()});
  }
  ++w.revision;
  w.changed = false;
  if (s_.emit != emit_mode::final) {
    obj.push_back({"revision", core::value{static_cast<double>(w.revision)}});
    obj.push_back({"final", core::value{final}});
  }
  event result;
  // The default Kafka key is the group key: the value itself for one field
  // (a string without quotes), a JSON array for several.
  if (w.group.size() == 1 && w.group[0].is_string()) {
    result.key = w.group[0].as_string();
  } else if (w.group.size() == 1) {
    result.key = core::to_json(w.group[0]);
  } else if (!w.group.empty()) {
    result.key = w.group_json;
  }
  result.value = core::value{std::move(obj)};
  // Time windows [start, end): the last millisecond in them; sliding and
  // session windows include their end.
  bool inclusive = s_.kind == window_kind::sliding || s_.kind == window_kind::session;
  result.time = inclusive ? w.end : w.end - 1;
  def_.emitted_counter().inc();
  out.emit(std::move(result));
}

void window_instance::emit_corrections(const std::vector<window_entry*>& windows, emitter& out) {
  if (windows.empty()) return;
  for (window_entry* w : windows) dirty_windows_.insert(entry_key(w->group_json, w->start));
  if (windows.size() == 1 || windows.front()->start < windows.back()->start) {
    for (window_entry* w : windows) emit_result(*w, false, sweep_use::correct, out);
    return;
  }
  // Given latest first (hopping): compute them in start order, where the
  // sweep shares work between them, then emit in the given order.
  std::vector<collect_one> results(windows.size());
  for (std::size_t i = windows.size(); i-- > 0;) {
    emit_result(*windows[i], false, sweep_use::correct, results[i]);
  }
  for (auto& r : results) out.emit(std::move(r.e));
}

void window_instance::close_hopping(core::millis wm, emitter& out) {
  while (!group_closes_.empty() && group_closes_.begin()->first <= wm) {
    const std::string gj = group_closes_.begin()->second;
    group_closes_.erase(group_closes_.begin());
    auto git = groups_.find(gj);
    if (git == groups_.end() || !git->second.scheduled) continue;
    group_content& g = git->second;
    g.schedule_dirty = true;
    list_group(g, gj);
    const core::millis start = g.next_start;
    auto first_pane = [&](core::millis from) {
      return lower_bound_near(g.slots, from, slot_time, false);
    };
    auto p = first_pane(start);
    if (p != g.slots.end() && p->time < start + s_.size) {
      window_entry w;
      w.group = g.group;
      w.group_json = gj;
      w.start = start;
      w.end = start + s_.size;
      emit_result(w, true, sweep_use::close, out, &g);
      --open_windows_;
    }
    // The next window that holds a pane: the next start, or a jump over a gap.
    core::millis next = start + s_.advance;
    auto q = first_pane(next);
    if (q == g.slots.end()) {
      g.scheduled = false;
      continue;
    }
    next = std::max(next, first_window_containing(q->time));
    g.next_start = next;
    group_closes_.emplace(hop_close(next), gj);
  }
}

void window_instance::close_sliding(core::millis wm, emitter& out) {
  while (!group_closes_.empty() && group_closes_.begin()->first <= wm) {
    const std::string gj = group_closes_.begin()->second;
    group_closes_.erase(group_closes_.begin());
    auto git = groups_.find(gj);
    if (git == groups_.end() || git->second.window_starts.empty()) continue;
    group_content& g = git->second;
    window_entry w;
    w.group = g.group;
    w.group_json = gj;
    w.start = g.window_starts.front();
    w.end = w.start + s_.size;
    emit_result(w, true, sweep_use::close, out, &g);
    g.window_starts.pop_front();
    --open_windows_;
    g.dirty_windows.push_back(w.start);
    list_group(g, gj);
    if (!g.window_starts.empty()) {
      group_closes_.emplace(slide_close(g.window_starts.front()), gj);
    }
  }
}

void window_instance::on_watermark(core::millis wm, emitter& out) {
  watermark_ = wm;
  if (bounded()) load_due(wm);
  if (lazy_hopping()) close_hopping(wm, out);
  if (lazy_sliding()) close_sliding(wm, out);
  if (s_.emit == emit_mode::on_watermark) {
    while (!fires_.empty() && fires_.begin()->first <= wm) {
      auto [at, key] = *fires_.begin();
      fires_.erase(fires_.begin());
      auto it = windows_.find(key);
      if (it == windows_.end()) continue;
      it->second.fired = true;
      dirty_windows_.insert(key);
      // Without lateness the on-time result is also the final one; it is
      // emitted once, by the close below.
      if (close_at(it->second) > wm) emit_result(it->second, false, sweep_use::publish, out);
    }
  }
  while (!closes_.empty() && closes_.begin()->first <= wm) {
    auto [at, key] = *closes_.begin();
    auto it = windows_.find(key);
    if (it == windows_.end()) {
      closes_.erase(closes_.begin());
      continue;
    }
    window_entry& w = it->second;
    emit_result(w, true, sweep_use::close, out);
    if (s_.kind == window_kind::session) {
      closed_sessions_[key] = w.end;
      expiry_.emplace(w.end + 2 * s_.gap + s_.lateness + 1, key);
      dirty_sessions_.insert(key);
    }
    erase_window(key);
  }
  drop_expired_content();
}

// Drops panes, buffered records and closed-session marks that no open or
// future window can use any more.
void window_instance::drop_expired_content() {
  if (watermark_ == core::min_time) return;
  const core::millis wm = watermark_;
  while (!slot_expiry_.empty() && slot_expiry_.begin()->first <= wm) {
    auto node = slot_expiry_.extract(slot_expiry_.begin());
    const std::string& gj = node.value().second;
    auto git = groups_.find(gj);
    if (git == groups_.end()) continue;
    group_content& g = git->second;
    while (!g.slots.empty() && slot_expiry(g.slots.front().time) <= wm) {
      if (!g.slots.front().dirty) g.dirty.push_back(g.slots.front().time);
      g.slots.pop_front();
    }
    list_group(g, gj);
    if (!g.slots.empty()) {
      node.value().first = slot_expiry(g.slots.front().time);
      slot_expiry_.insert(std::move(node));
    }
  }
  // Past last + 2 * gap + lateness, a record within gap of a closed
  // session is late by its own session: its mark can go.
  while (!expiry_.empty() && expiry_.begin()->first <= wm) {
    const std::string& key = expiry_.begin()->second;
    closed_sessions_.erase(key);
    dirty_sessions_.insert(key);
    expiry_.erase(expiry_.begin());
  }
}

void window_instance::on_tick(core::millis now, emitter& out) {
  publish_open();
  if (s_.emit != emit_mode::changes) return;
  if (next_publish_ == core::min_time) next_publish_ = now + s_.changes_every;
  if (now < next_publish_) return;
  next_publish_ = now + s_.changes_every;
  mark_changes();
  // In close order, then key order: deterministic.
  for (const auto& [at, key] : closes_) {
    auto it = windows_.find(key);
    if (it == windows_.end() || !it->second.changed) continue;
    emit_result(it->second, false, sweep_use::publish, out);
    dirty_windows_.insert(key);
  }
}

// Stored forms (host byte order: local state, not a wire format).
//   window:  revision u32, flags u32, start i64, end i64, group JSON, [accumulators]
//   pane:    start i64, accumulators
//   records: count u32, then per record time i64 and arguments as JSON
//   session mark: last i64
std::string window_instance::encode_accumulators(const accumulators& acc) const {
  std::string out;
  for (const auto& a : acc) {
    std::string one;
    a->encode(one);
    put_bytes(out, one);
  }
  return out;
}

bool window_instance::decode_accumulators(std::string_view& in, accumulators& acc) const {
  acc = fresh();
  for (auto& a : acc) {
    std::string_view one;
    if (!get_bytes(in, one) || !a->decode(one)) return false;
  }
  return true;
}

std::string window_instance::encode_window(const window_entry& w) const {
  std::string out;
  put_u32(out, w.revision);
  put_u32(out, (w.fired ? 1u : 0u) | (w.changed ? 2u : 0u));
  put_i64(out, w.start);
  put_i64(out, w.end);
  put_bytes(out, w.group_json);
  if (!w.acc.empty()) out += encode_accumulators(w.acc);
  return out;
}

void window_instance::checkpoint(state::write_batch& batch) {
  publish_open();
  if (s_.emit == emit_mode::changes) mark_changes();
  // The groups whose state changed (with a bounded cache).
  std::vector<std::string> touched;
  if (bounded()) {
    touched = std::move(unmarked_);
    unmarked_.clear();
    for (const auto& k : dirty_windows_) touched.push_back(k.substr(0, k.size() - 8));
    for (const auto& k : dirty_sessions_) touched.push_back(k.substr(0, k.size() - 8));
    touched.insert(touched.end(), dirty_groups_.begin(), dirty_groups_.end());
  }
  std::string full;
  auto write = [&](char tag, const std::string& key, const std::string* value) {
    full.assign(ctx_.key_prefix).push_back(tag);
    full += key;
    if (value)
      batch.put(*ctx_.store, full, *value);
    else
      batch.erase(*ctx_.store, full);
  };
  for (const auto& k : dirty_windows_) {
    auto it = windows_.find(k);
    std::string v;
    if (it != windows_.end()) v = encode_window(it->second);
    write('w', k, it != windows_.end() ? &v : nullptr);
  }
  const char slot_tag = s_.kind == window_kind::hopping ? 'p' : 'r';
  for (const auto& gj : dirty_groups_) {
    auto git = groups_.find(gj);
    if (git == groups_.end()) continue;
    group_content& g = git->second;
    g.listed = false;
    for (core::millis t : g.dirty) {
      auto it = lower_bound_near(g.slots, t, slot_time, false);
      const bool present = it != g.slots.end() && it->time == t;
      if (present && !it->dirty) continue;  // listed twice, written already
      std::string v;
      if (present) {
        it->dirty = false;
        if (s_.kind == window_kind::hopping) {
          put_i64(v, it->time);
          v += encode_accumulators(it->acc);
        } else {
          put_u32(v, static_cast<std::uint32_t>(it->records.size()));
          for (const auto& r : it->records) {
            put_i64(v, r.time);
            put_bytes(v, core::to_json(core::value{r.args}));
          }
        }
      }
      write(slot_tag, entry_key(gj, t), present ? &v : nullptr);
    }
    g.dirty.clear();
    if (g.schedule_dirty) {
      std::string v;
      if (g.scheduled) {
        put_i64(v, g.next_start);
        v += core::to_json(core::value{g.group});
      }
      write('h', gj, g.scheduled ? &v : nullptr);
      g.schedule_dirty = false;
    }
    for (core::millis start : g.dirty_windows) {
      auto it = lower_bound_near(
          g.window_starts, start, [](core::millis x) { return x; }, false);
      const bool present = it != g.window_starts.end() && *it == start;
      std::string v;
      if (present) {
        window_entry w;
        w.start = start;
        w.end = start + s_.size;
        w.group_json = gj;
        v = encode_window(w);
      }
      write('w', entry_key(gj, start), present ? &v : nullptr);
    }
    g.dirty_windows.clear();
    if (g.slots.empty() && !g.scheduled && g.window_starts.empty()) groups_.erase(git);
  }
  for (const auto& k : dirty_sessions_) {
    auto it = closed_sessions_.find(k);
    std::string v;
    if (it != closed_sessions_.end()) put_i64(v, it->second);
    write('c', k, it != closed_sessions_.end() ? &v : nullptr);
  }
  dirty_groups_.clear();
  dirty_windows_.clear();
  dirty_sessions_.clear();
  for (const auto& k : stale_marks_) batch.erase(*ctx_.store, ctx_.key_prefix + k);
  stale_marks_.clear();
  if (bounded()) checkpoint_cache(touched, batch);
}

// Applies one stored entry (key without the partition prefix and tag) to
// the in-memory state. `count`: a window it opens adds to open_windows_
// (restore; a group read back after eviction is counted already).
bool window_instance::apply_stored(char tag, std::string key, std::string_view v, bool count) {
  // Slots arrive in key order: by group, then by time.
  auto slot_of = [&](const std::string& k) -> content_slot& {
    group_content& g = groups_.try_emplace(k.substr(0, k.size() - 8)).first->second;
    const core::millis t = key_time(k);
    auto it = std::lower_bound(g.slots.begin(), g.slots.end(), t,
                               [](const content_slot& c, core::millis x) { return c.time < x; });
    if (it == g.slots.end() || it->time != t)
      it = g.slots.insert(it, content_slot{t, {}, {}, false});
    return *it;
  };
  switch (tag) {
    case 'w': {
      window_entry w;
      std::uint32_t flags;
      std::string_view gj;
      if (key.size() < 8 || !get_u32(v, w.revision) || !get_u32(v, flags) || !get_i64(v, w.start) ||
          !get_i64(v, w.end) || !get_bytes(v, gj)) {
        return false;
      }
      auto group = core::parse_json(gj);
      if (!group || !group->is_array()) return false;
      w.group = group->as_array();
      w.group_json = std::string(gj);
      w.fired = flags & 1u;
      w.changed = flags & 2u;
      if (s_.kind == window_kind::tumbling || s_.kind == window_kind::session) {
        if (!decode_accumulators(v, w.acc)) return false;
      }
      if (lazy_sliding()) {
        group_content& g = groups_.try_emplace(w.group_json).first->second;
        auto at = std::lower_bound(g.window_starts.begin(), g.window_starts.end(), w.start);
        if (at == g.window_starts.end() || *at != w.start) {
          g.window_starts.insert(at, w.start);
          if (count) ++open_windows_;
        }
        g.group = std::move(w.group);
        return true;
      }
      closes_.emplace(close_at(w), key);
      if (s_.emit == emit_mode::on_watermark && !w.fired) fires_.emplace(fire_at(w), key);
      if (windows_.emplace(std::move(key), std::move(w)).second && count) ++open_windows_;
      return true;
    }
    case 'p': {
      core::millis start;
      accumulators acc;
      if (key.size() < 8 || !get_i64(v, start) || !decode_accumulators(v, acc)) return false;
      slot_of(key).acc = std::move(acc);
      return true;
    }
    case 'r': {
      std::uint32_t n;
      if (key.size() < 8 || !get_u32(v, n)) return false;
      std::vector<buffered_record> list;
      for (std::uint32_t i = 0; i < n; ++i) {
        buffered_record r;
        std::string_view args;
        if (!get_i64(v, r.time) || !get_bytes(v, args)) return false;
        auto parsed = core::parse_json(args);
        if (!parsed || !parsed->is_array()) return false;
        r.args = std::move(parsed->as_array());
        list.push_back(std::move(r));
      }
      slot_of(key).records = std::move(list);
      return true;
    }
    case 'h': {
      core::millis next_start;
      if (!get_i64(v, next_start)) return false;
      auto group = core::parse_json(v);
      if (!group || !group->is_array()) return false;
      group_content& g = groups_.try_emplace(key).first->second;
      g.group = std::move(group->as_array());
      g.next_start = next_start;
      g.scheduled = true;
      group_closes_.emplace(hop_close(next_start), key);
      return true;
    }
    case 'c': {
      core::millis last;
      if (key.size() < 8 || !get_i64(v, last)) return false;
      expiry_.emplace(last + 2 * s_.gap + s_.lateness + 1, key);
      closed_sessions_.emplace(std::move(key), last);
      return true;
    }
    default:
      return false;
  }
}

// The timers of a group's content that restore derives instead of storing.
void window_instance::index_content(const std::string& gj, const group_content& g) {
  if (!g.slots.empty()) slot_expiry_.emplace(slot_expiry(g.slots.front().time), gj);
  if (!g.window_starts.empty()) group_closes_.emplace(slide_close(g.window_starts.front()), gj);
}

core::status window_instance::restore() {
  const std::string& prefix = ctx_.key_prefix;
  if (bounded()) {
    // State checkpointed with a bounded cache carries its marks: nothing is
    // read now; groups are read back when a record or a timer needs them.
    auto meta = ctx_.store->get(prefix + meta_tag);
    if (!meta) return std::move(meta).err();
    if (*meta) {
      std::string_view v = **meta;
      std::uint32_t version;
      std::int64_t open;
      if (!get_u32(v, version) || version != 1 || !get_i64(v, open)) {
        return core::error{core::errc::state, "corrupt window state in step " + def_.name()};
      }
      open_windows_ = marked_open_ = open;
      // Every group in the store has a `t` mark, the first one its timer:
      // the marks (not the state) are read to know them.
      next_stored_timer_ = core::max_time;
      auto scanned =
          ctx_.store->scan(prefix + timer_tag, [&](std::string_view k, std::string_view) {
            if (k.size() < prefix.size() + 9) return true;
            if (stored_.empty()) {
              next_stored_timer_ = state::read_i64_ordered(k.substr(prefix.size() + 1, 8));
            }
            stored_.add(k.substr(prefix.size() + 9));
            return true;
          });
      if (!scanned.ok()) return scanned;
      // Emit changes: groups with changes not yet published stay in memory
      // (on_tick publishes from memory), so they come back at once.
      std::vector<std::string> unpublished;
      scanned =
          ctx_.store->scan(prefix + unpublished_tag, [&](std::string_view k, std::string_view) {
            unpublished.emplace_back(k.substr(prefix.size() + 1));
            return true;
          });
      if (!scanned.ok()) return scanned;
      for (const auto& gj : unpublished) {
        auto loaded = load_group(gj);
        if (!loaded) return std::move(loaded).err();
        if (*loaded) cache_.at(gj).unpublished = true;
      }
      open_at_checkpoint_ = open_windows_;  // restored, not opened since
      publish_open();
      return {};
    }
  }
  bool ok = true;
  auto scanned = ctx_.store->scan(prefix, [&](std::string_view k, std::string_view v) {
    k.remove_prefix(prefix.size());
    if (!k.empty() && (k[0] == meta_tag || k[0] == timer_tag || k[0] == unpublished_tag)) {
      // Marks of a bounded cache: with one, none are expected here; without
      // one they go at the first checkpoint, as they would go stale.
      if (!bounded()) stale_marks_.emplace_back(k);
      return true;
    }
    if (k.size() < 2) return ok = false;
    return ok = apply_stored(k[0], std::string(k.substr(1)), v, true);
  });
  if (!scanned.ok()) return scanned;
  if (!ok) return core::error{core::errc::state, "corrupt window state in step " + def_.name()};
  for (const auto& [gj, g] : groups_) {
    index_content(gj, g);
    if (lazy_hopping()) open_windows_ += hopping_windows(g);
  }
  if (bounded()) {
    // Everything is in memory: each group is cached, and its marks are
    // written at the first checkpoint, which then evicts what is over the
    // share.
    for (const auto& [key, w] : windows_) unmarked_.push_back(w.group_json);
    for (const auto& [gj, g] : groups_) unmarked_.push_back(gj);
    for (const auto& [key, last] : closed_sessions_)
      unmarked_.push_back(key.substr(0, key.size() - 8));
    std::sort(unmarked_.begin(), unmarked_.end());
    unmarked_.erase(std::unique(unmarked_.begin(), unmarked_.end()), unmarked_.end());
    for (const auto& gj : unmarked_) add_cached(gj);
  }
  open_at_checkpoint_ = open_windows_;  // restored, not opened since
  publish_open();
  return {};
}

// The window state cache (with a bounded budget; src/ops/README.md).

window_instance::cached_group& window_instance::add_cached(const std::string& gj) {
  auto [it, created] = cache_.try_emplace(gj);
  if (created) {
    lru_.push_front(&it->first);
    it->second.lru = lru_.begin();
    // Measured when a checkpoint writes it (or a read brings it back); until
    // then a group counts at the average size the last checkpoint saw.
    it->second.bytes = static_cast<std::size_t>(group_average_);
    account(group_average_);
  }
  return it->second;
}

// The estimate of what the task holds now: the groups as last measured (or
// read back), new groups at the last checkpoint's average, plus the windows
// opened since in groups that were there already or read back (a group's
// own growth is measured at the next checkpoint). Over the share, or over
// what the last checkpoint left plus a quarter of the share (groups that
// cannot leave, `emit: {changes: T}`), a checkpoint lets the changed groups
// become clean and leave.
bool window_instance::wants_checkpoint() const noexcept {
  if (!bounded()) return false;
  const std::int64_t windows =
      std::max<std::int64_t>(open_windows_ - open_at_checkpoint_ - new_groups_, 0);
  const std::int64_t estimate = cached_bytes_ + windows * window_average_;
  const auto share = static_cast<std::int64_t>(budget_->share());
  return estimate > std::max(share, bytes_at_checkpoint_ + share / 4);
}

core::status window_instance::use_group(const std::string& gj) {
  auto it = cache_.find(gj);
  if (it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return {};
  }
  if (!stored_.empty() && stored_.may_contain(gj)) {
    auto loaded = load_group(gj);
    if (!loaded) return std::move(loaded).err();
    if (*loaded) return {};
  }
  add_cached(gj);
  ++new_groups_;  // its windows are in its average size
  return {};
}

core::result<bool> window_instance::load_group(const std::string& gj) {
  const std::string& prefix = ctx_.key_prefix;
  auto corrupt = [&] {
    return core::error{core::errc::state, "corrupt window state in step " + def_.name()};
  };
  bool ok = true;
  std::size_t found = 0;
  auto read = [&](char tag) -> core::status {
    const std::string p = prefix + tag + gj;
    return ctx_.store->scan(p, [&](std::string_view k, std::string_view v) {
      if (k.size() != p.size() + 8) return true;  // not this group's
      ++found;
      return ok = apply_stored(tag, std::string(k.substr(prefix.size() + 1)), v, false);
    });
  };
  std::string tags = "w";
  if (s_.kind == window_kind::session) tags += 'c';
  if (s_.kind == window_kind::hopping) tags += 'p';
  if (s_.kind == window_kind::sliding) tags += 'r';
  for (char tag : tags) {
    if (auto st = read(tag); !st) return st.err();
  }
  if (lazy_hopping()) {
    auto h = ctx_.store->get(prefix + 'h' + gj);
    if (!h) return std::move(h).err();
    if (*h) {
      ++found;
      ok = ok && apply_stored('h', gj, **h, false);
    }
  }
  if (!ok) return corrupt();
  if (found == 0) return false;
  if (auto git = groups_.find(gj); git != groups_.end()) index_content(gj, git->second);
  cached_group& c = add_cached(gj);
  // The state is as the checkpoint that wrote the mark left it.
  c.marked = earliest_timer(gj);
  const auto bytes = static_cast<std::int64_t>(group_bytes(gj));
  account(bytes - static_cast<std::int64_t>(c.bytes));
  c.bytes = static_cast<std::size_t>(bytes);
  return true;
}

void window_instance::load_due(core::millis wm) {
  if (stored_.empty() || next_stored_timer_ > wm) return;
  const std::string& prefix = ctx_.key_prefix;
  std::vector<std::string> due;
  core::millis next = core::max_time;
  auto scanned = ctx_.store->scan(prefix + timer_tag, [&](std::string_view k, std::string_view) {
    k.remove_prefix(prefix.size() + 1);
    if (k.size() < 9) return true;
    const core::millis t = state::read_i64_ordered(k.substr(0, 8));
    if (t > wm) {
      next = t;
      return false;
    }
    // Marks of cached groups may be behind their state until the next
    // checkpoint: the state in memory decides.
    std::string gj(k.substr(8));
    if (!cache_.contains(gj)) due.push_back(std::move(gj));
    return true;
  });
  if (!scanned.ok()) {
    core::log::error("cannot read window timers",
                     {{"step", def_.name()}, {"error", scanned.err().message}});
    return;  // tried again at the next watermark
  }
  for (const auto& gj : due) {
    if (cache_.contains(gj)) continue;
    if (auto loaded = load_group(gj); !loaded) {
      core::log::error("cannot read window state",
                       {{"step", def_.name()}, {"error", loaded.err().message}});
      next = std::min(next, wm);
    }
  }
  next_stored_timer_ = next;
}

template <class Fn>
void window_instance::for_group_windows(const std::string& gj, Fn&& fn) {
  for (auto it = windows_.lower_bound(entry_key(gj, core::min_time)); it != windows_.end();) {
    if (it->first.compare(0, gj.size(), gj) != 0 || it->first.size() != gj.size() + 8) break;
    it = fn(it);
  }
}

std::optional<core::millis> window_instance::earliest_timer(const std::string& gj) {
  std::optional<core::millis> t;
  auto take = [&](core::millis x) {
    if (!t || x < *t) t = x;
  };
  for_group_windows(gj, [&](auto it) {
    take(close_at(it->second));
    if (s_.emit == emit_mode::on_watermark && !it->second.fired) take(fire_at(it->second));
    return std::next(it);
  });
  if (auto git = groups_.find(gj); git != groups_.end()) {
    const group_content& g = git->second;
    if (!g.slots.empty()) take(slot_expiry(g.slots.front().time));
    if (lazy_hopping() && g.scheduled) take(hop_close(g.next_start));
    if (lazy_sliding() && !g.window_starts.empty()) take(slide_close(g.window_starts.front()));
  }
  for (auto it = closed_sessions_.lower_bound(entry_key(gj, core::min_time));
       it != closed_sessions_.end() && it->first.compare(0, gj.size(), gj) == 0 &&
       it->first.size() == gj.size() + 8;
       ++it) {
    take(it->second + 2 * s_.gap + s_.lateness + 1);
  }
  return t;
}

std::size_t window_instance::accumulator_bytes(const accumulators& acc) {
  std::size_t n = 0;
  for (const auto& a : acc) {
    scratch_.clear();
    a->encode(scratch_);
    n += accumulator_overhead + scratch_.size();
  }
  return n;
}

std::size_t window_instance::group_bytes(const std::string& gj) {
  std::size_t n = group_overhead + 2 * gj.size();
  for_group_windows(gj, [&](auto it) {
    n += window_overhead + 3 * it->first.size() + accumulator_bytes(it->second.acc);
    return std::next(it);
  });
  if (auto git = groups_.find(gj); git != groups_.end()) {
    const group_content& g = git->second;
    n += content_overhead + 8 * g.window_starts.size();
    for (const auto& slot : g.slots) {
      n += slot_overhead + accumulator_bytes(slot.acc);
      for (const auto& r : slot.records) n += record_overhead + value_overhead * r.args.size();
    }
  }
  for (auto it = closed_sessions_.lower_bound(entry_key(gj, core::min_time));
       it != closed_sessions_.end() && it->first.compare(0, gj.size(), gj) == 0 &&
       it->first.size() == gj.size() + 8;
       ++it) {
    n += session_mark_overhead + 2 * it->first.size();
  }
  return n;
}

bool window_instance::pinned(const std::string& gj) {
  // A changed window waits in memory for its publication (on_tick walks the
  // windows in memory only).
  if (s_.emit != emit_mode::changes) return false;
  bool changed = false;
  for_group_windows(gj, [&](auto it) {
    changed = changed || it->second.changed;
    return std::next(it);
  });
  return changed;
}

void window_instance::evict(const std::string& gj) {
  auto c = cache_.find(gj);
  for_group_windows(gj, [&](auto it) {
    closes_.erase({close_at(it->second), it->first});
    fires_.erase({fire_at(it->second), it->first});
    return windows_.erase(it);
  });
  if (auto git = groups_.find(gj); git != groups_.end()) {
    const group_content& g = git->second;
    if (!g.slots.empty()) slot_expiry_.erase({slot_expiry(g.slots.front().time), gj});
    if (lazy_hopping() && g.scheduled) group_closes_.erase({hop_close(g.next_start), gj});
    if (lazy_sliding() && !g.window_starts.empty()) {
      group_closes_.erase({slide_close(g.window_starts.front()), gj});
    }
    groups_.erase(git);
  }
  for (auto it = closed_sessions_.lower_bound(entry_key(gj, core::min_time));
       it != closed_sessions_.end() && it->first.compare(0, gj.size(), gj) == 0 &&
       it->first.size() == gj.size() + 8;) {
    expiry_.erase({it->second + 2 * s_.gap + s_.lateness + 1, it->first});
    it = closed_sessions_.erase(it);
  }
  if (c == cache_.end()) return;
  if (c->second.marked) {
    stored_.add(gj);
    next_stored_timer_ = std::min(next_stored_timer_, *c->second.marked);
  }
  account(-static_cast<std::int64_t>(c->second.bytes));
  lru_.erase(c->second.lru);
  cache_.erase(c);
}

// At a checkpoint: brings the marks of the groups changed since the last one
// up to date in `batch`, then evicts the least recently used groups beyond
// the share. Every group in memory is clean then: what changed is in batch.
void window_instance::checkpoint_cache(std::vector<std::string>& touched,
                                       state::write_batch& batch) {
  const std::string& prefix = ctx_.key_prefix;
  std::string key;
  auto timer_key = [&](core::millis t, const std::string& gj) {
    key.assign(prefix).push_back(timer_tag);
    state::append_i64_ordered(key, t);
    key += gj;
    return key;
  };
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const auto& gj : touched) {
    const std::optional<core::millis> t = earliest_timer(gj);
    cached_group& c = add_cached(gj);
    if (c.marked != t) {
      if (c.marked) batch.erase(*ctx_.store, timer_key(*c.marked, gj));
      if (t) batch.put(*ctx_.store, timer_key(*t, gj), {});
      c.marked = t;
    }
    if (const bool p = t && pinned(gj); p != c.unpublished) {
      key.assign(prefix).push_back(unpublished_tag);
      key += gj;
      if (p) {
        batch.put(*ctx_.store, key, {});
      } else {
        batch.erase(*ctx_.store, key);
      }
      c.unpublished = p;
    }
    if (!t) {  // nothing left of the group
      account(-static_cast<std::int64_t>(c.bytes));
      lru_.erase(c.lru);
      cache_.erase(gj);
      continue;
    }
    const auto bytes = static_cast<std::int64_t>(group_bytes(gj));
    account(bytes - static_cast<std::int64_t>(c.bytes));
    c.bytes = static_cast<std::size_t>(bytes);
  }
  if (open_windows_ != marked_open_) {
    std::string v;
    put_u32(v, 1);
    put_i64(v, open_windows_);
    batch.put(*ctx_.store, prefix + meta_tag, v);
    marked_open_ = open_windows_;
  }
  // Down to three quarters of the share: the quarter left is room for the
  // groups the next interval adds (wants_checkpoint).
  const auto share = static_cast<std::int64_t>(budget_->share());
  const std::int64_t target = share - share / 4;
  const std::int64_t before = cached_bytes_;
  for (std::size_t tries = cache_.size(); cached_bytes_ > target && !lru_.empty() && tries > 0;
       --tries) {
    const std::string gj = *lru_.back();
    if (pinned(gj)) {
      lru_.splice(lru_.begin(), lru_, std::prev(lru_.end()));
      continue;
    }
    evict(gj);
  }
#ifdef __GLIBC__
  // Dropped groups leave free chunks all over the heap, which glibc keeps:
  // return them, or resident memory stays at its high-water mark.
  if (before - cached_bytes_ > (std::int64_t{8} << 20)) malloc_trim(0);
#endif
  new_groups_ = 0;
  open_at_checkpoint_ = open_windows_;
  bytes_at_checkpoint_ = cached_bytes_;
  if (!cache_.empty()) {
    group_average_ = std::max<std::int64_t>(
        cached_bytes_ / static_cast<std::int64_t>(cache_.size()), group_overhead);
  }
  // Windows in memory, one by one (tumbling, session); hopping and sliding
  // windows share panes and records, a few slots each.
  window_average_ = windows_.empty() ? std::int64_t{slot_overhead}
                                     : cached_bytes_ / static_cast<std::int64_t>(windows_.size());
}

std::int64_t window_instance::hopping_windows(const group_content& g) const noexcept {
  if (!g.scheduled) return 0;
  std::int64_t n = 0;
  core::millis next = g.next_start;  // the first start not counted yet
  for (const auto& pane : g.slots) {
    const core::millis lo = std::max(next, first_window_containing(pane.time));
    const core::millis hi = core::floor_div(pane.time, s_.advance) * s_.advance;
    if (hi < lo) continue;
    n += (hi - lo) / s_.advance + 1;
    next = hi + s_.advance;
  }
  return n;
}

std::optional<emit_mode> parse_emit(const config::node& n, window_settings& s,
                                    config::diagnostics& diag) {
  if (n.is_scalar() && n.scalar == "final") return emit_mode::final;
  if (n.is_scalar() && n.scalar == "on_watermark") return emit_mode::on_watermark;
  if (n.is_map()) {
    config::map_reader r(n, diag, "emit");
    if (const config::node* every = r.required("changes")) {
      if (auto ms = config::read_duration(*every, diag, "emit.changes")) {
        if (*ms <= 0) diag.error(every->at, "emit.changes must be a positive duration");
        s.changes_every = *ms;
      }
    }
    r.finish();
    return emit_mode::changes;
  }
  diag.error(n.at, "emit must be final, on_watermark or {changes: DURATION}");
  return std::nullopt;
}

}  // namespace

std::unique_ptr<step> build_window(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag) {
  check_step_keys(spec, {}, diag);
  const std::size_t problems_before = diag.list().size();
  config::map_reader r(*spec.body, diag, "window step");
  if (!r.valid()) return nullptr;
  window_settings s;

  const config::node* group_node = r.required("group_by");
  if (group_node) {
    for (const config::node* g : config::read_string_list(*group_node, diag, "group_by")) {
      auto e = compile_expression(*g, diag, "group_by");
      if (!e) continue;
      auto path = e->path_name();
      if (!path) {
        diag.error(g->at, "group_by takes field paths such as 'card_id' or 'device.id'");
        continue;
      }
      s.group_names.push_back(*path);
      s.group_by.push_back(std::move(*e));
    }
  }

  int kinds = 0;
  if (const config::node* n = r.optional("tumbling")) {
    ++kinds;
    s.kind = window_kind::tumbling;
    if (auto ms = config::read_duration(*n, diag, "tumbling")) {
      if (*ms <= 0) diag.error(n->at, "tumbling window size must be positive");
      s.size = *ms;
    }
  }
  if (const config::node* n = r.optional("hopping")) {
    ++kinds;
    s.kind = window_kind::hopping;
    config::map_reader h(*n, diag, "hopping");
    if (h.valid()) {
      const config::node* size = h.required("size");
      const config::node* adv = h.required("advance");
      std::optional<core::millis> size_ms, adv_ms;
      if (size) size_ms = config::read_duration(*size, diag, "hopping.size");
      if (adv) adv_ms = config::read_duration(*adv, diag, "hopping.advance");
      if (size_ms && adv_ms) {
        if (*size_ms <= 0 || *adv_ms <= 0) {
          diag.error(n->at, "hopping size and advance must be positive");
        } else if (*adv_ms > *size_ms) {
          diag.error(
              adv->at,
              "hopping.advance must not exceed hopping.size (records would fall between windows)");
        } else {
          s.size = *size_ms;
          s.advance = *adv_ms;
          s.pane = std::gcd(*size_ms, *adv_ms);
        }
      }
      h.finish();
    }
  }
  if (const config::node* n = r.optional("sliding")) {
    ++kinds;
    s.kind = window_kind::sliding;
    if (auto ms = config::read_duration(*n, diag, "sliding")) {
      if (*ms <= 0) diag.error(n->at, "sliding time difference must be positive");
      s.size = *ms;
    }
  }
  if (const config::node* n = r.optional("session")) {
    ++kinds;
    s.kind = window_kind::session;
    config::map_reader sr(*n, diag, "session");
    if (sr.valid()) {
      if (const config::node* gap = sr.required("gap")) {
        if (auto ms = config::read_duration(*gap, diag, "session.gap")) {
          if (*ms <= 0) diag.error(gap->at, "session.gap must be positive");
          s.gap = *ms;
        }
      }
      sr.finish();
    }
  }
  if (kinds == 0) {
    diag.error(spec.body->at,
               "window step needs a window kind: tumbling: SIZE, hopping: {size, advance}, "
               "sliding: DIFFERENCE or session: {gap}");
  } else if (kinds > 1) {
    diag.error(spec.body->at, "window step takes exactly one window kind");
  }
  if (const config::node* l = r.optional("allowed_lateness")) {
    if (auto ms = config::read_duration(*l, diag, "allowed_lateness")) s.lateness = *ms;
  }
  if (const config::node* agg = r.required("aggregate")) {
    if (!agg->is_map() || agg->entries.empty()) {
      diag.error(agg->at,
                 "aggregate must be a map of output field to aggregate, such as {n: count()}");
    } else {
      for (const auto& e : agg->entries) {
        const std::string& name = e.key.scalar;
        if (std::find(s.group_names.begin(), s.group_names.end(), name) != s.group_names.end() ||
            name == "window_start" || name == "window_end" || name == "revision" ||
            name == "final") {
          diag.error(e.key.at, "aggregate '" + name + "' clashes with a field of the result");
          continue;
        }
        if (auto a = parse_aggregate(e, diag)) {
          s.aggregates.push_back(std::move(a));
          s.aggregate_texts.push_back(name + ": " + e.val.scalar);
        }
      }
    }
  }
  if (const config::node* emit = r.optional("emit")) {
    if (auto m = parse_emit(*emit, s, diag)) s.emit = *m;
  }
  if (const config::node* late = r.optional("late")) {
    config::map_reader lr(*late, diag, "late");
    if (lr.valid()) {
      if (const config::node* topic = lr.required("topic")) {
        if (auto t = config::read_string(*topic, diag, "late.topic")) s.late_topic = *t;
      }
      lr.finish();
    }
  }
  r.finish();

  if (diag.list().size() != problems_before) return nullptr;
  auto labels = metrics::labels{{"pipeline", ctx.pipeline.name}, {"step", spec.name}};
  auto& late = ctx.metrics.add_counter(
      "weir_late_records_total",
      "Records that arrived after every window they belong to had closed.", labels);
  auto& emitted =
      ctx.metrics.add_counter("weir_windows_emitted_total", "Window results emitted.", labels);
  auto& open = ctx.metrics.add_gauge(
      "weir_open_windows", "Windows (sessions) open now in the step, every task of the process.",
      labels);
  return std::make_unique<window_step>(spec.name, std::move(s), late, emitted, open);
}

}  // namespace weir::ops

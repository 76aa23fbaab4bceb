#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "ops/compile.h"
#include "ops/steps.h"
#include "weir/core/json.h"

namespace weir::ops {
namespace {

enum class aggregate_kind : std::uint8_t { count, sum, min, max, avg };

struct aggregate_def {
  std::string name;  // output field
  aggregate_kind kind;
  std::optional<expr::expression> arg;  // none for count()
};

// Partial aggregate of one window and group: enough for every kind above.
// `count` counts the records (count()) or the non-null arguments (others).
struct accumulator {
  std::uint64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
};

// One open window of one group.
struct window_entry {
  core::millis start = 0;
  core::value::array_type group;  // the group-by values, in declaration order
  std::vector<accumulator> acc;   // one per aggregate
};

// A tumbling window aggregation (DESIGN.md section 3): records go to the
// window [k*size, (k+1)*size) of their event time; a window closes, emitting
// its one result, once the watermark reaches end + allowed_lateness; records
// for closed windows are late and counted.
class window_step final : public step {
 public:
  struct settings {
    std::vector<expr::expression> group_by;
    std::vector<std::string> group_names;
    core::millis size = 0;
    core::millis lateness = 0;
    std::vector<aggregate_def> aggregates;
  };

  window_step(std::string name, settings s, metrics::counter& late, metrics::counter& emitted)
      : step(std::move(name)), s_(std::move(s)), late_(late), emitted_(emitted) {}

  bool stateful() const noexcept override { return true; }
  std::unique_ptr<step_instance> instantiate(const task_context& ctx) const override {
    return std::make_unique<instance>(*this, ctx);
  }

 private:
  // Open windows of one task, keyed by (start, group) so that keys sort by
  // time in the store. Only the owning task's thread touches it.
  class instance final : public step_instance {
   public:
    instance(const window_step& def, const task_context& ctx) : def_(def), ctx_(ctx) {}

    core::status process(event&& e, emitter& out) override;
    void on_watermark(core::millis wm, emitter& out) override;
    core::status restore() override;
    void checkpoint(state::write_batch& batch) override;

   private:
    std::string encode_entry(const window_entry& w) const;
    core::status decode_entry(std::string_view key, std::string_view bytes);
    void emit_result(const window_entry& w, emitter& out);

    const window_step& def_;
    task_context ctx_;
    core::millis watermark_ = core::min_time;
    std::unordered_map<std::string, window_entry> windows_;
    std::map<core::millis, std::vector<std::string>> by_end_;  // window end -> keys
    std::unordered_set<std::string> dirty_;    // changed since the last checkpoint
    std::unordered_set<std::string> removed_;  // closed since the last checkpoint
    std::vector<double> args_;                 // scratch: evaluated arguments
    std::string key_;                          // scratch: window key
  };

  settings s_;
  metrics::counter& late_;
  metrics::counter& emitted_;
};

core::status window_step::instance::process(event&& e, emitter&) {
  const auto& s = def_.s_;
  const core::millis start = core::floor_div(e.time, s.size) * s.size;
  const core::millis end = start + s.size;
  if (watermark_ != core::min_time && watermark_ >= end + s.lateness) {
    def_.late_.inc();
    return {};
  }
  // Evaluate everything before touching state, so an error leaves it as it was.
  expr::scope scope{&e.value, e.source};
  core::value::array_type group;
  group.reserve(s.group_by.size());
  for (const auto& g : s.group_by) {
    auto v = g.eval(scope);
    if (!v) return std::move(v).err();
    group.push_back(std::move(*v));
  }
  args_.assign(s.aggregates.size(), std::numeric_limits<double>::quiet_NaN());
  for (std::size_t i = 0; i < s.aggregates.size(); ++i) {
    const auto& a = s.aggregates[i];
    if (!a.arg) continue;
    auto v = a.arg->eval(scope);
    if (!v) return std::move(v).err();
    if (v->is_null()) continue;
    if (!v->is_number()) {
      return core::error{core::errc::type_error,
                         a.name + ": " + a.arg->source() + " must be a number, found " +
                             core::kind_name(v->type())};
    }
    args_[i] = v->as_number();
  }
  key_.clear();
  state::append_i64_ordered(key_, start);
  core::write_json(core::value{group}, key_);
  auto [it, created] = windows_.try_emplace(key_);
  window_entry& w = it->second;
  if (created) {
    w.start = start;
    w.group = std::move(group);
    w.acc.resize(s.aggregates.size());
    by_end_[end].push_back(key_);
  }
  for (std::size_t i = 0; i < s.aggregates.size(); ++i) {
    auto& acc = w.acc[i];
    if (s.aggregates[i].kind == aggregate_kind::count) {
      ++acc.count;
      continue;
    }
    double x = args_[i];
    if (std::isnan(x)) continue;
    ++acc.count;
    acc.sum += x;
    acc.min = std::min(acc.min, x);
    acc.max = std::max(acc.max, x);
  }
  dirty_.insert(key_);
  return {};
}

void window_step::instance::on_watermark(core::millis wm, emitter& out) {
  watermark_ = wm;
  const core::millis lateness = def_.s_.lateness;
  while (!by_end_.empty()) {
    auto first = by_end_.begin();
    if (wm < first->first + lateness) break;
    // Results of one window end go out in group-key order: deterministic.
    auto keys = std::move(first->second);
    by_end_.erase(first);
    std::sort(keys.begin(), keys.end());
    for (const auto& k : keys) {
      auto it = windows_.find(k);
      if (it == windows_.end()) continue;
      emit_result(it->second, out);
      windows_.erase(it);
      dirty_.erase(k);
      removed_.insert(k);
    }
  }
}

void window_step::instance::emit_result(const window_entry& w, emitter& out) {
  const auto& s = def_.s_;
  core::value::object_type obj;
  obj.reserve(s.group_names.size() + 2 + s.aggregates.size());
  for (std::size_t i = 0; i < s.group_names.size(); ++i) {
    obj.push_back({s.group_names[i], w.group[i]});
  }
  const core::millis end = w.start + s.size;
  obj.push_back({"window_start", core::value{w.start}});
  obj.push_back({"window_end", core::value{end}});
  for (std::size_t i = 0; i < s.aggregates.size(); ++i) {
    const auto& a = s.aggregates[i];
    const auto& acc = w.acc[i];
    core::value v;
    switch (a.kind) {
      case aggregate_kind::count: v = core::value{static_cast<double>(acc.count)}; break;
      case aggregate_kind::sum: if (acc.count) v = core::value{acc.sum}; break;
      case aggregate_kind::min: if (acc.count) v = core::value{acc.min}; break;
      case aggregate_kind::max: if (acc.count) v = core::value{acc.max}; break;
      case aggregate_kind::avg:
        if (acc.count) v = core::value{acc.sum / static_cast<double>(acc.count)};
        break;
    }
    obj.push_back({a.name, std::move(v)});
  }
  event result;
  // The default Kafka key is the group key: the value itself for one field
  // (a string without quotes), a JSON array for several.
  if (w.group.size() == 1 && w.group[0].is_string()) {
    result.key = w.group[0].as_string();
  } else if (w.group.size() == 1) {
    result.key = core::to_json(w.group[0]);
  } else if (!w.group.empty()) {
    result.key = core::to_json(core::value{w.group});
  }
  result.value = core::value{std::move(obj)};
  result.time = end - 1;
  def_.emitted_.inc();
  out.emit(std::move(result));
}

// Stored form: u32 length + group JSON, then per aggregate count, sum, min,
// max as 8 bytes each (host byte order: local state, not a wire format).
std::string window_step::instance::encode_entry(const window_entry& w) const {
  std::string out;
  std::string group = core::to_json(core::value{w.group});
  state::append_u32(out, static_cast<std::uint32_t>(group.size()));
  out += group;
  for (const auto& a : w.acc) {
    char buf[32];
    std::memcpy(buf, &a.count, 8);
    std::memcpy(buf + 8, &a.sum, 8);
    std::memcpy(buf + 16, &a.min, 8);
    std::memcpy(buf + 24, &a.max, 8);
    out.append(buf, sizeof buf);
  }
  return out;
}

core::status window_step::instance::decode_entry(std::string_view key, std::string_view bytes) {
  auto corrupt = [&] {
    return core::error{core::errc::state, "corrupt window state in " + def_.name()};
  };
  if (key.size() < 8 || bytes.size() < 4) return corrupt();
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  if (bytes.size() != 4 + n + 32 * def_.s_.aggregates.size()) return corrupt();
  auto group = core::parse_json(bytes.substr(4, n));
  if (!group || !group->is_array()) return corrupt();
  window_entry w;
  w.start = state::read_i64_ordered(key.substr(0, 8));
  w.group = std::move(group->as_array());
  const char* p = bytes.data() + 4 + n;
  for (std::size_t i = 0; i < def_.s_.aggregates.size(); ++i, p += 32) {
    accumulator a;
    std::memcpy(&a.count, p, 8);
    std::memcpy(&a.sum, p + 8, 8);
    std::memcpy(&a.min, p + 16, 8);
    std::memcpy(&a.max, p + 24, 8);
    w.acc.push_back(a);
  }
  std::string k(key);
  by_end_[w.start + def_.s_.size].push_back(k);
  windows_.emplace(std::move(k), std::move(w));
  return {};
}

core::status window_step::instance::restore() {
  core::status failed;
  auto scanned = ctx_.store->scan(ctx_.key_prefix, [&](std::string_view k, std::string_view v) {
    failed = decode_entry(k.substr(ctx_.key_prefix.size()), v);
    return failed.ok();
  });
  if (!scanned.ok()) return scanned;
  return failed;
}

void window_step::instance::checkpoint(state::write_batch& batch) {
  std::string full;
  for (const auto& k : removed_) {
    full.assign(ctx_.key_prefix).append(k);
    batch.erase(*ctx_.store, full);
  }
  for (const auto& k : dirty_) {
    auto it = windows_.find(k);
    if (it == windows_.end()) continue;
    full.assign(ctx_.key_prefix).append(k);
    batch.put(*ctx_.store, full, encode_entry(it->second));
  }
  removed_.clear();
  dirty_.clear();
}

std::optional<aggregate_def> parse_aggregate(const config::node::entry& e,
                                             config::diagnostics& diag) {
  const config::node& n = e.val;
  if (!n.is_scalar() || n.scalar.empty()) {
    diag.error(n.at, "aggregate '" + e.key.scalar + "' must be a call such as count() or sum(x)");
    return std::nullopt;
  }
  auto parsed = expr::compile_call(n.scalar);
  if (auto* err = std::get_if<expr::syntax_error>(&parsed)) {
    diag.error(n.mark_at(err->offset), "aggregate '" + e.key.scalar + "': " + err->message);
    return std::nullopt;
  }
  auto& c = std::get<expr::call>(parsed);
  static const std::pair<std::string_view, aggregate_kind> known[] = {
      {"count", aggregate_kind::count}, {"sum", aggregate_kind::sum},
      {"min", aggregate_kind::min},     {"max", aggregate_kind::max},
      {"avg", aggregate_kind::avg}};
  for (const auto& [name, kind] : known) {
    if (c.name != name) continue;
    aggregate_def def{e.key.scalar, kind, std::nullopt};
    std::size_t want = kind == aggregate_kind::count ? 0 : 1;
    if (c.args.size() != want) {
      diag.error(n.at, "aggregate '" + e.key.scalar + "': " + c.name + "() takes " +
                           (want ? "one argument" : "no arguments"));
      return std::nullopt;
    }
    if (want) {
      auto t = c.args[0].static_type();
      if (t != expr::type::any && t != expr::type::number && t != expr::type::null) {
        diag.error(n.mark_at(c.arg_offsets[0]),
                   "aggregate '" + e.key.scalar + "': " + c.name + "() needs a number");
        return std::nullopt;
      }
      def.arg = std::move(c.args[0]);
    }
    return def;
  }
  diag.error(n.at, "aggregate '" + e.key.scalar + "': unknown aggregate '" + c.name +
                       "' (known: count, sum, min, max, avg)");
  return std::nullopt;
}

}  // namespace

std::unique_ptr<step> build_window(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag) {
  check_step_keys(spec, {}, diag);
  const std::size_t problems_before = diag.list().size();
  config::map_reader r(*spec.body, diag, "window step");
  if (!r.valid()) return nullptr;
  window_step::settings s;

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

  const config::node* tumbling = r.optional("tumbling");
  for (const char* other : {"hopping", "sliding", "session"}) {
    if (const config::node* n = r.optional(other)) {
      diag.error(n->at, std::string(other) + " windows are not supported yet (supported: tumbling)");
    }
  }
  if (tumbling) {
    if (auto ms = config::read_duration(*tumbling, diag, "tumbling")) {
      if (*ms <= 0) diag.error(tumbling->at, "tumbling window size must be positive");
      s.size = *ms;
    }
  } else if (!spec.body->get("hopping") && !spec.body->get("sliding") && !spec.body->get("session")) {
    diag.error(spec.body->at, "window step needs a window kind: 'tumbling: SIZE'");
  }
  if (const config::node* l = r.optional("allowed_lateness")) {
    if (auto ms = config::read_duration(*l, diag, "allowed_lateness")) s.lateness = *ms;
  }
  if (const config::node* agg = r.required("aggregate")) {
    if (!agg->is_map() || agg->entries.empty()) {
      diag.error(agg->at, "aggregate must be a map of output field to aggregate, such as {n: count()}");
    } else {
      for (const auto& e : agg->entries) {
        if (std::find(s.group_names.begin(), s.group_names.end(), e.key.scalar) != s.group_names.end() ||
            e.key.scalar == "window_start" || e.key.scalar == "window_end") {
          diag.error(e.key.at, "aggregate '" + e.key.scalar + "' clashes with a field of the result");
          continue;
        }
        if (auto a = parse_aggregate(e, diag)) s.aggregates.push_back(std::move(*a));
      }
    }
  }
  if (const config::node* emit = r.optional("emit")) {
    if (!emit->is_scalar() || emit->scalar != "final") {
      diag.error(emit->at, "emit: only 'final' is supported yet");
    }
  }
  if (const config::node* late = r.optional("late")) {
    diag.error(late->at, "late: a side topic for late records is not supported yet; late records are counted and dropped");
  }
  r.finish();

  // Until grouping can repartition, a group must live in one partition.
  const auto& promised = ctx.pipeline.source.partitioned_by;
  bool covered = !promised.empty() && std::all_of(promised.begin(), promised.end(), [&](const auto& p) {
    return std::find(s.group_names.begin(), s.group_names.end(), p) != s.group_names.end();
  });
  if (group_node && !covered && ctx.source_partitions.value_or(2) > 1) {
    diag.error(group_node->at,
               "group_by is not covered by source.partitioned_by, so one group's records may be "
               "spread over several partitions; weir cannot repartition yet. Declare "
               "source.partitioned_by with fields that are all in group_by (a promise that equal "
               "values share a partition), or read a single-partition topic");
  }

  if (diag.list().size() != problems_before) return nullptr;
  auto labels = metrics::labels{{"pipeline", ctx.pipeline.name}, {"step", spec.name}};
  auto& late = ctx.metrics.add_counter("weir_late_records_total",
                                       "Records that arrived after every window they belong to had closed.",
                                       labels);
  auto& emitted = ctx.metrics.add_counter("weir_windows_emitted_total",
                                          "Window results emitted.", labels);
  return std::make_unique<window_step>(spec.name, std::move(s), late, emitted);
}

}  // namespace weir::ops

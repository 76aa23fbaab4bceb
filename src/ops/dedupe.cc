#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "ops/compile.h"
#include "ops/steps.h"
#include "weir/core/json.h"

namespace weir::ops {
namespace {

// `dedupe: {key: EXPR, within: DURATION}`: keeps the first record of each key
// value and drops the records with that key that follow it within `within`
// of event time. A kept record at t0 opens the span [t0, t0 + within): a
// later record with the key and an event time before t0 + within is a
// duplicate (dropped and counted), one at or after it is kept and opens a new
// span. The key is forgotten once the watermark reaches t0 + within. A null
// key passes. Deduplication is per input partition.
class dedupe_step final : public step {
 public:
  dedupe_step(std::string name, expr::expression key, core::millis within,
              metrics::counter& dropped)
      : step(std::move(name)), key_(std::move(key)), within_(within), dropped_(dropped) {}

  bool stateful() const noexcept override { return true; }
  std::unique_ptr<step_instance> instantiate(const task_context& ctx) const override;
  std::string explain() const override {
    const std::string w = core::format_duration(within_);
    return "dedupe " + name() + ": key " + key_.source() + ", within " + w +
           " (per input partition)\n" +
           "  keeps:     the first record per key; drops later ones with time < first + " + w +
           "\n" + "  forgets:   a key at watermark >= first + " + w + "; null keys pass";
  }

  const expr::expression& key() const noexcept { return key_; }
  core::millis within() const noexcept { return within_; }
  metrics::counter& dropped_counter() const noexcept { return dropped_; }

 private:
  expr::expression key_;
  core::millis within_;
  metrics::counter& dropped_;
};

// The keys one task has seen, each with the event time of its kept record.
// Only the task's thread touches it. Invariant: `expiries_` holds exactly
// (first + within, key) for every entry of `firsts_`.
class dedupe_instance final : public step_instance {
 public:
  dedupe_instance(const dedupe_step& def, const task_context& ctx) : def_(def), ctx_(ctx) {}

  core::status process(event&& e, emitter& out) override {
    auto k = def_.key().eval_ref(expr::scope{&e.value, e.source}, scratch_);
    if (!k) return std::move(k).err();
    if ((*k)->is_null()) {
      out.emit(std::move(e));
      return {};
    }
    std::string key = core::to_json(**k);
    auto it = firsts_.find(key);
    if (it != firsts_.end()) {
      if (e.time < it->second + def_.within()) {
        def_.dropped_counter().inc();
        return {};
      }
      expiries_.erase({it->second + def_.within(), key});
      it->second = e.time;
    } else {
      it = firsts_.emplace(key, e.time).first;
    }
    expiries_.emplace(e.time + def_.within(), key);
    dirty_.insert(std::move(key));
    out.emit(std::move(e));
    return {};
  }

  void on_watermark(core::millis wm, emitter&) override {
    while (!expiries_.empty() && expiries_.begin()->first <= wm) {
      auto node = expiries_.extract(expiries_.begin());
      firsts_.erase(node.value().second);
      dirty_.insert(std::move(node.value().second));
    }
  }

  // Stored form: the key's JSON after the partition prefix; the value is the
  // first time, 8 bytes in host order (local state, not a wire format).
  void checkpoint(state::write_batch& batch) override {
    std::string full;
    for (const auto& k : dirty_) {
      full.assign(ctx_.key_prefix).append(k);
      auto it = firsts_.find(k);
      if (it == firsts_.end()) {
        batch.erase(*ctx_.store, full);
        continue;
      }
      char b[8];
      std::memcpy(b, &it->second, 8);
      batch.put(*ctx_.store, full, std::string_view(b, 8));
    }
    dirty_.clear();
  }

  core::status restore() override {
    bool ok = true;
    auto scanned = ctx_.store->scan(ctx_.key_prefix, [&](std::string_view k, std::string_view v) {
      if (v.size() != 8) return ok = false;
      core::millis first;
      std::memcpy(&first, v.data(), 8);
      std::string key(k.substr(ctx_.key_prefix.size()));
      expiries_.emplace(first + def_.within(), key);
      firsts_.insert_or_assign(std::move(key), first);
      return true;
    });
    if (!scanned.ok()) return scanned;
    if (!ok) return core::error{core::errc::state, "corrupt dedupe state in step " + def_.name()};
    return {};
  }

 private:
  const dedupe_step& def_;
  task_context ctx_;
  std::unordered_map<std::string, core::millis> firsts_;     // key JSON -> time of the kept record
  std::set<std::pair<core::millis, std::string>> expiries_;  // (first + within, key JSON)
  std::unordered_set<std::string> dirty_;  // keys changed or forgotten since the last checkpoint
  core::value scratch_;                    // key evaluation
};

std::unique_ptr<step_instance> dedupe_step::instantiate(const task_context& ctx) const {
  return std::make_unique<dedupe_instance>(*this, ctx);
}

}  // namespace

std::unique_ptr<step> build_dedupe(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag) {
  check_step_keys(spec, {}, diag);
  const std::size_t problems_before = diag.list().size();
  config::map_reader r(*spec.body, diag, "dedupe step");
  if (!r.valid()) return nullptr;
  std::optional<expr::expression> key;
  std::optional<core::millis> within;
  if (const config::node* k = r.required("key")) {
    key = compile_expression(*k, diag, "dedupe.key", ctx.tables);
    // Duplicates are found within one partition, and no coverage by
    // source.partitioned_by is required: a key is often determined by a
    // promised field that it does not contain (a payment id belongs to one
    // card), and retries of one producer share a record key and partition.
  }
  if (const config::node* w = r.required("within")) {
    within = config::read_duration(*w, diag, "dedupe.within");
    if (within && *within <= 0) diag.error(w->at, "dedupe.within must be a positive duration");
  }
  r.finish();
  if (diag.list().size() != problems_before || !key || !within) return nullptr;
  auto& dropped = ctx.metrics.add_counter(
      "weir_deduplicated_records_total",
      "Records dropped by dedupe as duplicates of a kept record.",
      metrics::labels{{"pipeline", ctx.pipeline.name}, {"step", spec.name}});
  return std::make_unique<dedupe_step>(spec.name, std::move(*key), *within, dropped);
}

}  // namespace weir::ops

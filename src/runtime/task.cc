#include "weir/runtime/task.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include "weir/core/json.h"
#include "weir/core/log.h"

namespace weir::runtime {

namespace {
std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

error_reporter::error_reporter(const topology& t, record_sink* dead_letters)
    : topology_(t), dead_letters_(dead_letters) {
  if (t.spec.errors.dead_letter_topic) {
    dead_lettered_ = &t.probe.registry->add_counter(
        "weir_dead_letter_records_total", "Records written to the dead-letter topic.",
        {{"pipeline", t.spec.name}, {"topic", *t.spec.errors.dead_letter_topic}});
  }
}

namespace {
// The failed record as it was read, plus where and why it failed.
core::output_record dead_letter(const std::string& topic, const std::string& step,
                                const core::error& e, const core::record_view& r) {
  core::output_record out;
  out.topic = topic;
  if (r.key) out.key = std::string(*r.key);
  out.value = r.value ? std::string(*r.value) : std::string();
  out.timestamp_ms = r.timestamp_ms;
  for (const auto& h : r.headers) {
    out.headers.push_back(core::header{
        std::string(h.key), h.value ? std::optional<std::string>(*h.value) : std::nullopt});
  }
  out.headers.push_back({"weir.error.code", core::errc_name(e.code)});
  out.headers.push_back({"weir.error.message", e.message});
  out.headers.push_back({"weir.error.step", step});
  out.headers.push_back({"weir.source.topic", std::string(r.topic)});
  out.headers.push_back({"weir.source.partition", std::to_string(r.partition)});
  out.headers.push_back({"weir.source.offset", std::to_string(r.offset)});
  return out;
}
}  // namespace

void error_reporter::report(const std::string& step, const core::error& e,
                            const core::record_view* source) {
  const auto& policy = topology_.spec.errors;
  if (policy.policy == config::on_error::fail && failure_.ok()) {
    failure_ = core::error{e.code, "errors.on_error is fail: step " + step + ": " + e.message};
  }
  if (policy.policy == config::on_error::dead_letter && source && dead_letters_) {
    dead_letters_->write(dead_letter(*policy.dead_letter_topic, step, e, *source));
    if (dead_lettered_) dead_lettered_->inc();
  }
  entry* found = nullptr;
  for (auto& x : entries_) {
    if (x.code == e.code && x.step == step) found = &x;
  }
  if (!found) {
    auto& c = topology_.probe.registry->add_counter(
        "weir_record_errors_total", "Records that failed a step, by error code.",
        {{"pipeline", topology_.spec.name}, {"step", step}, {"error", core::errc_name(e.code)}});
    entries_.push_back(entry{step, e.code, &c});
    found = &entries_.back();
  }
  found->counter->inc();
  // At most one line per step and code every 10 s, saying how many were not logged.
  auto now = wall_ms();
  if (found->last_log_ms != 0 && now - found->last_log_ms < 10'000) {
    ++found->suppressed;
    return;
  }
  std::string where = source
                          ? std::string(source->topic) + "/" + std::to_string(source->partition) +
                                "@" + std::to_string(source->offset)
                          : "window result";
  const char* what = policy.policy == config::on_error::dead_letter && source
                         ? "record dead-lettered"
                     : policy.policy == config::on_error::fail ? "record failed the pipeline"
                                                               : "record skipped";
  core::log::warn(what, {{"pipeline", topology_.spec.name},
                         {"step", step},
                         {"error", core::errc_name(e.code)},
                         {"reason", e.message},
                         {"record", where},
                         {"not_logged_since_last", std::to_string(found->suppressed)}});
  found->last_log_ms = now;
  found->suppressed = 0;
}

task::task(const topology& t, const runtime::stage& st, std::int32_t partition, state::database& db,
           record_sink& sink, error_reporter& errors, const time::clock& clock)
    : topology_(t),
      stage_(st),
      partition_(partition),
      progress_id_{t.spec.name, st.input, partition},
      db_(db),
      sink_(sink),
      errors_(errors),
      clock_(clock),
      watermark_(t.spec.source.max_out_of_orderness, t.spec.source.idle_timeout, core::min_time,
                 clock.now()) {
  const std::size_t n = st.end_step - st.first_step;
  for (std::size_t i = 0; i <= n; ++i) links_.push_back(std::make_unique<link>(*this, i));
  step_in_.assign(n, 0);
  step_out_.assign(n, 0);
  if (st.repartitioned) upstream_.assign(static_cast<std::size_t>(t.partitions), core::min_time);
  if (st.repeated) applied_.assign(static_cast<std::size_t>(t.partitions), {-1, -1});
}

namespace {
constexpr std::string_view from_header = "weir.from";

// "<partition>:<offset>:<index>"
std::string position_text(std::int32_t partition, std::int64_t offset, std::int64_t index) {
  return std::to_string(partition) + ":" + std::to_string(offset) + ":" + std::to_string(index);
}

bool parse_position(std::string_view text, std::int64_t (&out)[3]) {
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    auto [next, ec] = std::from_chars(p, end, out[i]);
    if (ec != std::errc{}) return false;
    p = next;
    if (i < 2) {
      if (p == end || *p != ':') return false;
      ++p;
    }
  }
  return p == end;
}
}  // namespace

bool task::repeat(const core::record_view& r) {
  for (const auto& h : r.headers) {
    if (h.key != from_header || !h.value) continue;
    std::int64_t x[3];
    if (!parse_position(*h.value, x) || x[0] < 0 ||
        x[0] >= static_cast<std::int64_t>(applied_.size())) {
      return false;
    }
    auto& last = applied_[static_cast<std::size_t>(x[0])];
    const upstream_position at{x[1], x[2]};
    if (at <= last) return true;
    last = at;
    applied_dirty_ = true;
    return false;
  }
  return false;
}

void task::publish_metrics() {
  const auto& probe = topology_.probe;
  for (std::size_t i = 0; i < step_in_.size(); ++i) {
    const std::size_t step = stage_.first_step + i;
    if (step_in_[i] && step < probe.step_in.size()) probe.step_in[step]->inc(step_in_[i]);
    if (step_out_[i] && step < probe.step_out.size()) probe.step_out[step]->inc(step_out_[i]);
    step_in_[i] = 0;
    step_out_[i] = 0;
  }
}

core::result<std::optional<std::int64_t>> task::restore() {
  std::optional<std::int64_t> start;
  auto pr = db_.read_progress(progress_id_);
  if (!pr) return std::move(pr).err();
  core::millis wm = core::min_time;
  if (*pr) {
    start = (*pr)->next_offset;
    next_offset_ = (*pr)->next_offset;
    wm = (*pr)->watermark;
  }
  watermark_ = time::watermark_tracker(topology_.spec.source.max_out_of_orderness,
                                       topology_.spec.source.idle_timeout, wm, clock_.now());
  const std::string prefix = state::partition_prefix(partition_);
  if (stage_.repeated) {
    auto s = db_.open_store(stage_.input + ".applied");
    if (!s) return std::move(s).err();
    applied_store_ = *s;
    auto st = applied_store_->scan(prefix, [&](std::string_view key, std::string_view value) {
      std::int64_t x[3];
      std::int64_t u = 0;
      const std::string_view id = key.substr(prefix.size());
      auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), u);
      if (ec == std::errc{} && end == id.data() + id.size() && parse_position(value, x) && u >= 0 &&
          u < static_cast<std::int64_t>(applied_.size())) {
        applied_[static_cast<std::size_t>(u)] = {x[1], x[2]};
      }
      return true;
    });
    if (!st) return st.err();
  }
  for (std::size_t i = stage_.first_step; i < stage_.end_step; ++i) {
    const auto& st = topology_.steps[i];
    ops::task_context ctx{partition_, prefix, nullptr, &sink_};
    if (st->stateful()) {
      auto s = db_.open_store(topology_.spec.name + "." + st->name());
      if (!s) return std::move(s).err();
      ctx.store = *s;
    }
    auto inst = st->instantiate(ctx);
    if (auto r = inst->restore(); !r) return r.err();
    steps_.push_back(std::move(inst));
  }
  if (wm != core::min_time) advance_watermark();
  return start;
}

core::result<core::millis> task::event_time(const core::value& v,
                                            const core::record_view& r) const {
  if (!topology_.event_time) return r.timestamp_ms;
  auto t = topology_.event_time->eval(expr::scope{&v, &r});
  if (!t) return std::move(t).err();
  const auto& spec = *topology_.spec.source.event_time;
  if (t->is_null()) {
    return core::error{core::errc::missing_field,
                       "event time field '" + spec.field + "' is missing"};
  }
  switch (spec.format) {
    case config::time_format::epoch_ms:
    case config::time_format::epoch_s: {
      if (!t->is_number() || !std::isfinite(t->as_number())) {
        return core::error{core::errc::invalid_time, "event time field '" + spec.field +
                                                         "' must be a number, found " +
                                                         core::kind_name(t->type())};
      }
      double x = t->as_number();
      if (spec.format == config::time_format::epoch_s) x *= 1000;
      if (std::fabs(x) > 9.2e18) {
        return core::error{core::errc::invalid_time, "event time out of range"};
      }
      return static_cast<core::millis>(std::floor(x));
    }
    case config::time_format::iso8601:
      if (!t->is_string()) {
        return core::error{core::errc::invalid_time, "event time field '" + spec.field +
                                                         "' must be an ISO 8601 string, found " +
                                                         core::kind_name(t->type())};
      }
      return core::parse_iso8601(t->as_string());
  }
  return core::error{core::errc::internal, "unknown time format"};
}

void task::process(const core::record_view& r) {
  next_offset_ = r.offset + 1;
  current_ = &r;
  // Cleared on every return: a record skipped as bad must not stay current
  // for what ticks and watermarks emit after it is gone.
  struct clear_current {
    const core::record_view*& current;
    ~clear_current() { current = nullptr; }
  } clear{current_};
  if (stage_.repartitioned) {
    // Written by weir: a watermark record has no value, a record a JSON
    // object whose timestamp is its event time.
    if (!r.value || r.value->empty()) {
      upstream_watermark(r);
      return;
    }
    if (stage_.repeated && repeat(r)) {
      if (!replaying(r.offset)) stage_.repeated->inc();
      return;
    }
  } else {
    topology_.probe.consumed->inc();
    topology_.probe.consumed_bytes->inc(r.value ? r.value->size() : 0);
  }
  if (!r.value) {
    errors_.report("source", core::error{core::errc::invalid_json, "record has no value"}, &r);
    return;
  }
  auto decoded = core::parse_json(*r.value);
  if (!decoded) {
    errors_.report("source", decoded.err(), &r);
    return;
  }
  if (!decoded->is_object()) {
    errors_.report("source",
                   core::error{core::errc::invalid_json,
                               std::string("record value must be a JSON object, found ") +
                                   core::kind_name(decoded->type())},
                   &r);
    return;
  }
  auto t =
      stage_.repartitioned ? core::result<core::millis>(r.timestamp_ms) : event_time(*decoded, r);
  if (!t) {
    errors_.report("source", t.err(), &r);
    return;
  }
  if (!stage_.repartitioned && watermark_.observe(*t, clock_.now())) advance_watermark();
  ops::event e;
  e.value = std::move(*decoded);
  if (r.key) e.key = std::string(*r.key);
  e.time = *t;
  e.source = &r;
  links_[0]->emit(std::move(e));
}

void task::advance_watermark_to(core::millis wm) {
  if (watermark_.raise_to(wm)) advance_watermark();
}

void task::tick() {
  const core::millis now = clock_.now();
  // Downstream of a repartition, idleness is the upstream tasks' to judge.
  if (!stage_.repartitioned && watermark_.idle_advance(now)) advance_watermark();
  for (std::size_t i = 0; i < steps_.size(); ++i) steps_[i]->on_tick(now, *links_[i + 1]);
  if (stage_.output) publish_watermark();
}

namespace {
constexpr std::string_view watermark_header = "weir.watermark";
constexpr std::string_view upstream_header = "weir.upstream";

std::optional<std::int64_t> header_number(const core::record_view& r, std::string_view name) {
  for (const auto& h : r.headers) {
    if (h.key != name || !h.value) continue;
    std::int64_t x = 0;
    auto [end, ec] = std::from_chars(h.value->data(), h.value->data() + h.value->size(), x);
    if (ec != std::errc{} || end != h.value->data() + h.value->size()) return std::nullopt;
    return x;
  }
  return std::nullopt;
}
}  // namespace

void task::publish_watermark() {
  const core::millis wm = watermark_.current();
  if (wm == published_ || wm == core::min_time) return;
  // At most every 200 ms (Flink's default watermark interval): each one is
  // a record per partition of the repartition topic.
  const core::millis now = clock_.now();
  if (published_ != core::min_time && now < next_publish_) return;
  next_publish_ = now + 200;
  published_ = wm;
  const std::string value = std::to_string(wm);
  const std::string from = std::to_string(partition_);
  for (std::int32_t p = 0; p < topology_.partitions; ++p) {
    core::output_record out;
    out.topic = *stage_.output;
    out.partition = p;
    out.timestamp_ms = wm;
    out.headers.push_back({std::string(watermark_header), value});
    out.headers.push_back({std::string(upstream_header), from});
    sink_.write(std::move(out));
  }
}

void task::upstream_watermark(const core::record_view& r) {
  auto wm = header_number(r, watermark_header);
  auto from = header_number(r, upstream_header);
  if (!wm || !from || *from < 0 || *from >= static_cast<std::int64_t>(upstream_.size())) {
    errors_.report("source",
                   core::error{core::errc::invalid_json,
                               "record without a value on a repartition topic is not a "
                               "watermark record of an upstream task"},
                   &r);
    return;
  }
  auto& up = upstream_[static_cast<std::size_t>(*from)];
  up = std::max(up, *wm);
  const core::millis lowest = *std::min_element(upstream_.begin(), upstream_.end());
  if (lowest != core::min_time && watermark_.raise_to(lowest)) advance_watermark();
}

void task::advance_watermark() {
  const core::millis wm = watermark_.current();
  for (std::size_t i = 0; i < steps_.size(); ++i) steps_[i]->on_watermark(wm, *links_[i + 1]);
}

void task::link::emit(ops::event&& e) {
  if (index_ > 0) ++task_.step_out_[index_ - 1];
  if (index_ == task_.steps_.size()) {
    task_.write_to_sink(std::move(e));
    return;
  }
  ++task_.step_in_[index_];
  const core::record_view* source = e.source;
  if (auto st = task_.steps_[index_]->process(std::move(e), *task_.links_[index_ + 1]); !st) {
    task_.errors_.report(task_.topology_.steps[task_.stage_.first_step + index_]->name(), st.err(),
                         source);
  }
}

void task::write_to_repartition(ops::event&& e) {
  auto key = stage_.keyed_by->group_key(e);
  if (!key) {
    errors_.report(stage_.keyed_by->name(), key.err(), e.source);
    return;
  }
  core::output_record out;
  out.topic = *stage_.output;
  out.partition = repartition_partition(*key, topology_.partitions);
  out.key = std::move(*key);
  core::write_json(e.value, out.value);
  out.timestamp_ms = e.time;
  if (topology_.spec.processing.delivery == config::guarantee::at_least_once && current_) {
    // Where the record comes from, so that the next stage recognises it if
    // a restart of this task writes it again (exactly_once needs none:
    // what an aborted transaction wrote is never read).
    written_ = written_.first == current_->offset
                   ? upstream_position{current_->offset, written_.second + 1}
                   : upstream_position{current_->offset, 0};
    out.headers.push_back(
        {std::string(from_header), position_text(partition_, written_.first, written_.second)});
  }
  if (!current_ || !replaying(current_->offset)) stage_.written->inc();
  sink_.write(std::move(out));
}

void task::write_to_sink(ops::event&& e) {
  if (stage_.output) {
    write_to_repartition(std::move(e));
    return;
  }
  const sink_route* route = nullptr;
  for (const auto& r : topology_.sinks) {
    if (!r.when) {
      route = &r;
      break;
    }
    auto match = r.when->test(expr::scope{&e.value, e.source});
    if (!match) {
      errors_.report("sink", match.err(), e.source);
      return;
    }
    if (*match) {
      route = &r;
      break;
    }
  }
  // What a replaying task writes is dropped by the sink: it was written
  // before, and counted then.
  const bool counted = !current_ || !replaying(current_->offset);
  if (!route) {
    if (counted) topology_.probe.unrouted->inc();
    return;
  }
  core::output_record out;
  out.topic = route->topic;
  if (route->key) {
    auto k = route->key->eval(expr::scope{&e.value, e.source});
    if (!k) {
      errors_.report("sink", k.err(), e.source);
      return;
    }
    if (k->is_string())
      out.key = k->as_string();
    else if (!k->is_null())
      out.key = core::to_json(*k);
  } else {
    out.key = std::move(e.key);
  }
  core::write_json(e.value, out.value);
  out.timestamp_ms = e.time;
  if (counted) {
    const auto& probe = topology_.probe;
    route->produced->inc();
    route->produced_bytes->inc(out.value.size());
    const core::millis now = clock_.now();
    // Clocks of other machines may run ahead: no negative latencies.
    auto seconds = [now](core::millis since) {
      return static_cast<double>(std::max<core::millis>(now - since, 0)) / 1000.0;
    };
    probe.latency_since_event_time->observe(seconds(e.time));
    if (current_) probe.latency_since_source_timestamp->observe(seconds(current_->timestamp_ms));
  }
  sink_.write(std::move(out));
}

bool task::wants_checkpoint() const noexcept {
  return std::any_of(steps_.begin(), steps_.end(),
                     [](const auto& s) { return s->wants_checkpoint(); });
}

void task::checkpoint(state::write_batch& batch) {
  for (auto& s : steps_) s->checkpoint(batch);
  if (applied_store_ && applied_dirty_) {
    const std::string prefix = state::partition_prefix(partition_);
    for (std::size_t u = 0; u < applied_.size(); ++u) {
      if (applied_[u].first < 0) continue;
      batch.put(*applied_store_, prefix + std::to_string(u),
                position_text(static_cast<std::int32_t>(u), applied_[u].first, applied_[u].second));
    }
    applied_dirty_ = false;
  }
  if (next_offset_ >= 0) batch.put_progress(progress_id_, {next_offset_, watermark_.current()});
}

}  // namespace weir::runtime

#include "weir/runtime/topology.h"

#include <algorithm>
#include <cctype>

#include "weir/core/json.h"
#include "weir/core/log.h"
#include "weir/ops/field_check.h"

namespace weir::runtime {
namespace {

std::optional<expr::expression> compile_at(const std::string& text, config::mark at,
                                           config::diagnostics& diag, const std::string& what) {
  auto compiled = expr::expression::compile(text);
  if (auto* err = std::get_if<expr::syntax_error>(&compiled)) {
    diag.error(at, what + ": " + err->message);
    return std::nullopt;
  }
  return std::get<expr::expression>(std::move(compiled));
}

// True when records with equal `fields` are sure to share a partition of
// an input partitioned by `partitioned_by`: every promised field is among
// them.
bool covered(const std::vector<std::string>& partitioned_by,
             const std::vector<std::string>& fields) {
  return !partitioned_by.empty() &&
         std::all_of(partitioned_by.begin(), partitioned_by.end(), [&](const auto& p) {
           return std::find(fields.begin(), fields.end(), p) != fields.end();
         });
}

// Splits the steps where a window's groups are not kept in one partition.
void split_stages(topology& t, std::optional<int> source_partitions) {
  const auto& s = t.spec;
  t.partitions = source_partitions.value_or(1);
  stage first;
  first.input = s.source.topics.front();
  t.stages.push_back(first);
  // With one partition (or when unknown), every group is in it.
  if (t.partitions > 1) {
    for (std::size_t i : regrouping_steps(t)) {
      auto& before = t.stages.back();
      before.end_step = i;
      before.output = repartition_topic(s.name, t.steps[i]->name());
      before.keyed_by = t.steps[i].get();
      stage next;
      next.input = *before.output;
      next.first_step = i;
      next.repartitioned = true;
      t.stages.push_back(std::move(next));
    }
  }
  t.stages.back().end_step = t.steps.size();
  for (auto& st : t.stages) {
    for (std::size_t i = st.first_step; i < st.end_step; ++i)
      st.stateful = st.stateful || t.steps[i]->stateful();
  }
}

}  // namespace

std::vector<std::size_t> regrouping_steps(const topology& t) {
  std::vector<std::size_t> out;
  std::vector<std::string> partitioning = t.spec.source.partitioned_by;
  for (std::size_t i = 0; i < t.steps.size(); ++i) {
    const auto* fields = t.steps[i]->group_fields();
    if (!fields || covered(partitioning, *fields)) continue;
    out.push_back(i);
    partitioning = *fields;
  }
  return out;
}

std::string repartition_topic(const std::string& pipeline, const std::string& step_id) {
  return pipeline + "." + step_id + ".repartition";
}

std::int32_t repartition_partition(std::string_view key, int partitions) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<std::int32_t>(h % static_cast<std::uint64_t>(std::max(partitions, 1)));
}

std::unique_ptr<topology> build_topology(config::pipeline_spec spec,
                                         std::optional<int> source_partitions,
                                         metrics::registry& metrics, config::diagnostics& diag) {
  auto t = std::make_unique<topology>();
  t->spec = std::move(spec);
  const auto& s = t->spec;
  if (s.source.event_time) {
    const std::string& field = s.source.event_time->field;
    // A top-level name that is not an identifier (`@timestamp`) is taken as
    // written; anything else is a field path.
    bool plain = field.find_first_of(".[ ") == std::string::npos &&
                 !(std::isalpha(static_cast<unsigned char>(field[0])) || field[0] == '_');
    t->event_time = compile_at(plain ? "$value[" + core::to_json(core::value{field}) + "]" : field,
                               s.source.event_time->field_at, diag, "event_time.field");
    if (t->event_time && !t->event_time->path_name()) {
      diag.error(s.source.event_time->field_at, "event_time.field must be a field path");
    }
  }
  t->tables = std::make_unique<tables::table_set>(s.tables);
  ops::build_context ctx{t->spec, metrics, t->tables.get()};
  for (const auto& step_spec : s.steps) {
    if (auto st = ops::build_step(step_spec, ctx, diag)) t->steps.push_back(std::move(st));
  }
  for (std::size_t i = 0; i < s.sinks.size(); ++i) {
    const auto& sink = s.sinks[i];
    const std::string what = s.routed ? "sinks[" + std::to_string(i + 1) + "]" : "sink";
    sink_route route;
    route.topic = sink.topic;
    auto compile_node = [&](const config::node& n,
                            const std::string& name) -> std::optional<expr::expression> {
      auto compiled = expr::expression::compile(n.scalar, t->tables.get());
      if (auto* err = std::get_if<expr::syntax_error>(&compiled)) {
        diag.error(n.mark_at(err->offset), what + "." + name + ": " + err->message);
        return std::nullopt;
      }
      return std::get<expr::expression>(std::move(compiled));
    };
    if (sink.key) route.key = compile_node(*sink.key, "key");
    if (sink.when) {
      route.when = compile_node(*sink.when, "when");
      if (route.when) {
        auto ty = route.when->static_type();
        if (ty != expr::type::any && ty != expr::type::boolean && ty != expr::type::null) {
          diag.error(sink.when->at, what + ".when must be a condition (true or false)");
        }
      }
    }
    t->sinks.push_back(std::move(route));
  }
  // Fields read where they cannot exist, once everything else is well-formed.
  if (diag.ok()) ops::check_field_uses(t->spec, diag);
  if (!diag.ok()) return nullptr;
  split_stages(*t, source_partitions);

  metrics::labels p{{"pipeline", s.name}};
  auto with_topic = [&](const std::string& topic) {
    auto l = p;
    l.emplace_back("topic", topic);
    return l;
  };
  const std::string& in = s.source.topics.front();
  t->probe.consumed = &metrics.add_counter("weir_records_consumed_total",
                                           "Records read from source topics.", with_topic(in));
  t->probe.consumed_bytes =
      &metrics.add_counter("weir_consumed_bytes_total",
                           "Bytes of record values read from source topics.", with_topic(in));
  for (auto& route : t->sinks) {
    route.produced = &metrics.add_counter(
        "weir_records_produced_total", "Records written to sink topics.", with_topic(route.topic));
    route.produced_bytes = &metrics.add_counter("weir_produced_bytes_total",
                                                "Bytes of record values written to sink topics.",
                                                with_topic(route.topic));
  }
  if (s.may_drop_unrouted()) {
    t->probe.unrouted =
        &metrics.add_counter("weir_unrouted_records_total",
                             "Records dropped because they matched the 'when' of no sink.", p);
  }
  for (auto& st : t->stages) {
    if (st.repartitioned && s.processing.delivery == config::guarantee::at_least_once) {
      st.repeated = &metrics.add_counter(
          "weir_repartition_repeats_total",
          "Records read again from a repartition topic after an upstream restart, and skipped.",
          with_topic(st.input));
    }
    if (!st.output) continue;
    st.written = &metrics.add_counter(
        "weir_repartitioned_records_total",
        "Records written to a repartition topic, for the step after it to group them.",
        with_topic(*st.output));
  }
  t->probe.checkpoint_seconds = &metrics.add_histogram(
      "weir_checkpoint_duration_seconds",
      "Time to flush outputs, write the state checkpoint and commit offsets.", p,
      metrics::duration_buckets());
  t->probe.checkpoint_failures =
      &metrics.add_counter("weir_checkpoint_failures_total", "Checkpoints that failed.", p);
  t->probe.memory_checkpoints = &metrics.add_counter(
      "weir_memory_checkpoints_total",
      "Checkpoints taken before the commit interval because window state changed since the "
      "last one filled its share of --memory-limit.",
      p);
  for (const auto& st : t->steps) {
    auto l = p;
    l.emplace_back("step", st->name());
    t->probe.step_in.push_back(&metrics.add_counter(
        "weir_step_records_in_total", "Records (or window results) that entered a step.", l));
    t->probe.step_out.push_back(&metrics.add_counter(
        "weir_step_records_out_total", "Records (or window results) a step passed on.", l));
  }
  // From 1 ms to one day: window results are as late as their window is long.
  std::vector<double> latency_buckets = metrics::duration_buckets();
  for (double b : {300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0}) latency_buckets.push_back(b);
  auto since = [&](const char* from) {
    auto l = p;
    l.emplace_back("since", from);
    return &metrics.add_histogram(
        "weir_output_latency_seconds",
        "Time from a result's event time, or from the Kafka timestamp of the input that made "
        "it, to its produce.",
        l, latency_buckets);
  };
  t->probe.latency_since_event_time = since("event_time");
  t->probe.latency_since_source_timestamp = since("source_timestamp");
  t->probe.registry = &metrics;
  return t;
}

}  // namespace weir::runtime

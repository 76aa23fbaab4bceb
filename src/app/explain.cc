#include <algorithm>
#include <cstdio>

#include "app/commands.h"
#include "app/load.h"
#include "weir/config/test_spec.h"
#include "weir/runtime/changelog.h"

namespace weir::app {

// Prints the pipeline as the worker will run it (DESIGN.md section 2.1).
int explain(const std::string& file) {
  metrics::registry scratch;
  auto loaded = load(file, {}, scratch);
  if (!loaded.topology) {
    for (const auto& p : loaded.problems) std::printf("%s\n", p.c_str());
    return 1;
  }
  const auto& t = *loaded.topology;
  const auto& s = t.spec;
  std::string out;
  out += "pipeline " + s.name + (s.description.empty() ? "" : ": " + s.description) + "\n";
  out += "  consumer group: " + s.name + "\n";
  out += "  source: topic " + s.source.topics.front() + ", JSON records";
  if (!s.source.partitioned_by.empty()) {
    std::string keys;
    for (const auto& k : s.source.partitioned_by) keys += (keys.empty() ? "" : ", ") + k;
    out += ", partitioned by [" + keys + "]";
  }
  out += "\n  time:\n";
  out += "    event time: " +
         (s.source.event_time
              ? "field " + s.source.event_time->field + " (" +
                    (s.source.event_time->format == config::time_format::epoch_ms  ? "epoch_ms"
                     : s.source.event_time->format == config::time_format::epoch_s ? "epoch_s"
                                                                                   : "iso8601") +
                    ")"
              : std::string("the Kafka record timestamp")) +
         "\n";
  out += "    watermark:  per partition, max event time - " +
         core::format_duration(s.source.max_out_of_orderness) + " (never backwards, checkpointed)" +
         (runtime::regrouping_steps(t).empty()
              ? std::string()
              : "; behind a repartition, the lowest of the source partitions' watermarks") +
         "\n";
  out += "    idleness:   " +
         (s.source.idle_timeout > 0 ? "after " + core::format_duration(s.source.idle_timeout) +
                                          " of silence the watermark follows the wall clock"
                                    : std::string("off")) +
         "\n";
  if (!s.tables.empty()) out += "  tables:\n";
  for (const auto& tb : s.tables) {
    if (tb.source == config::table_source::topic) {
      out += "    " + tb.name + ": topic " + tb.topic + " read whole by every process, keyed by " +
             (tb.key ? "field " + *tb.key : std::string("the record key")) + "; state " + s.name +
             ".table." + tb.name + " (rows and offsets), bootstrapped before processing\n";
    } else {
      out += "    " + tb.name + ": file " + tb.path +
             (tb.file_format == config::table_file_format::csv ? " (CSV)" : " (JSON Lines)") +
             " keyed by " + tb.key.value_or("") + ", reloaded when it changes\n";
    }
  }
  out += "  steps:\n";
  const auto regrouping = runtime::regrouping_steps(t);
  auto regroups = [&](std::size_t i) {
    return std::find(regrouping.begin(), regrouping.end(), i) != regrouping.end();
  };
  for (std::size_t i = 0; i < t.steps.size(); ++i) {
    const auto& st = t.steps[i];
    if (regroups(i)) {
      out += "    -- repartition by the group key of " + st->name() + " through " +
             runtime::repartition_topic(s.name, st->name()) +
             " (its group_by is not covered by the partitioning before it; not needed when " +
             s.source.topics.front() + " has one partition)\n";
    }
    std::string text = st->explain();
    for (std::size_t at = 0; (at = text.find('\n', at)) != std::string::npos; at += 5)
      text.insert(at + 1, "    ");
    out += "    " + text + "\n";
    if (st->stateful())
      out += "      state:     " + s.name + "." + st->name() +
             " (RocksDB column family, keys by partition)\n";
  }
  auto key_text = [](const config::sink_spec& sink) {
    return sink.key ? sink.key->scalar
                    : std::string("the record's key (window results: the group key)");
  };
  if (!s.routed) {
    out += "  sink: topic " + s.sinks.front().topic + ", key " + key_text(s.sinks.front()) + "\n";
  } else {
    out += "  sinks: each record to the first whose condition is true";
    out += s.may_drop_unrouted()
               ? "; a record matching none is dropped (weir_unrouted_records_total)\n"
               : "\n";
    for (std::size_t i = 0; i < s.sinks.size(); ++i) {
      const auto& sink = s.sinks[i];
      out += "    " + std::to_string(i + 1) + ". " +
             (sink.when ? "when " + sink.when->scalar : std::string("otherwise")) + ": topic " +
             sink.topic + ", key " + key_text(sink) + "\n";
    }
  }
  out += "  errors: ";
  switch (s.errors.policy) {
    case config::on_error::dead_letter:
      out += "dead-letter to " + *s.errors.dead_letter_topic;
      break;
    case config::on_error::skip:
      out += "skip (counted and logged)";
      break;
    case config::on_error::fail:
      out += "fail (the worker stops)";
      break;
  }
  out += "\n";
  const auto logs = runtime::changelogs(t);
  if (logs.empty() && regrouping.empty()) {
    out += "  internal topics: none (no stateful step)\n";
  } else {
    out += "  internal topics (created by weir run when missing):\n";
    for (const auto& c : logs) {
      out += "    " + c.topic + ": changelog of " + c.store +
             ", compacted, one partition per "
             "partition of " +
             s.source.topics.front() + "\n";
    }
    for (std::size_t i : regrouping) {
      out += "    " + runtime::repartition_topic(s.name, t.steps[i]->name()) +
             ": records keyed by the group key of " + t.steps[i]->name() +
             " and the upstream watermarks, one partition per partition of " +
             s.source.topics.front() +
             ", records deleted once read (only when it has several partitions)\n";
    }
  }
  if (s.processing.delivery == config::guarantee::exactly_once) {
    out +=
        "  delivery: exactly_once; every " + core::format_duration(s.processing.commit_interval) +
        ": one Kafka transaction with the outputs, changelog records and input offsets, then the "
        "local state batch; local state behind the group's offsets is restored from the "
        "changelogs\n";
  } else {
    out += "  delivery: at_least_once; checkpoint every " +
           core::format_duration(s.processing.commit_interval) +
           ": flush outputs and changelog records, write state + offsets + watermarks in one "
           "RocksDB batch, commit offsets\n";
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace weir::app

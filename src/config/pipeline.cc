#include "weir/config/pipeline.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace weir::config {
namespace {

// Pipeline names become consumer-group ids, topic names and directory names.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 200) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

void read_source(const node& n, diagnostics& d, source_spec& out) {
  out.at = n.at;
  map_reader r(n, d, "source");
  if (!r.valid()) return;
  const node* topic = r.optional("topic");
  const node* topics = r.optional("topics");
  if (topic && topics) {
    d.error(topics->at, "source takes either 'topic' or 'topics', not both");
  } else if (topic) {
    if (auto s = read_string(*topic, d, "source.topic")) out.topics.push_back(*s);
  } else if (topics) {
    for (const node* t : read_string_list(*topics, d, "source.topics"))
      out.topics.push_back(t->scalar);
    if (out.topics.size() > 1) {
      d.error(topics->at,
              "several source topics (co-partitioned input) are not supported yet; "
              "use one topic");
    }
  } else {
    d.error(n.at, "source needs 'topic'");
  }
  if (const node* f = r.optional("format")) {
    if (auto s = read_string(*f, d, "source.format"); s && *s != "json") {
      d.error(f->at, "source.format '" + *s + "' is not supported (supported: json)");
    }
  }
  if (const node* p = r.optional("partitioned_by")) {
    for (const node* field : read_string_list(*p, d, "source.partitioned_by")) {
      out.partitioned_by.push_back(field->scalar);
    }
  }
  if (const node* et = r.optional("event_time")) {
    map_reader er(*et, d, "source.event_time");
    if (er.valid()) {
      event_time_spec spec;
      if (const node* field = er.required("field")) {
        if (auto s = read_string(*field, d, "event_time.field")) {
          spec.field = *s;
          spec.field_at = field->at;
        }
      }
      if (const node* fmt = er.optional("format")) {
        if (auto s = read_string(*fmt, d, "event_time.format")) {
          if (*s == "epoch_ms")
            spec.format = time_format::epoch_ms;
          else if (*s == "epoch_s")
            spec.format = time_format::epoch_s;
          else if (*s == "iso8601")
            spec.format = time_format::iso8601;
          else
            d.error(fmt->at,
                    "event_time.format must be epoch_ms, epoch_s or iso8601, found '" + *s + "'");
        }
      }
      er.finish();
      out.event_time = spec;
    }
  }
  if (const node* wm = r.optional("watermark")) {
    map_reader wr(*wm, d, "source.watermark");
    if (wr.valid()) {
      if (const node* ooo = wr.optional("max_out_of_orderness")) {
        if (auto ms = read_duration(*ooo, d, "watermark.max_out_of_orderness")) {
          out.max_out_of_orderness = *ms;
        }
      }
      if (const node* idle = wr.optional("idle_timeout")) {
        if (idle->is_scalar() && idle->scalar == "off" && !idle->quoted) {
          out.idle_timeout = 0;
        } else if (auto ms = read_duration(*idle, d, "watermark.idle_timeout")) {
          if (*ms <= 0)
            d.error(idle->at, "watermark.idle_timeout must be positive, or off");
          else
            out.idle_timeout = *ms;
        }
      }
      wr.finish();
    }
  }
  r.finish();
}

void read_steps(const node& n, diagnostics& d, std::vector<step_spec>& out) {
  if (!n.is_sequence()) {
    d.error(n.at, "steps must be a list, found " + std::string(n.kind_description()));
    return;
  }
  int position = 0;
  for (const auto& item : n.items) {
    ++position;
    if (!item.is_map()) {
      d.error(item.at, "a step must be a map such as '- filter: ...', found " +
                           std::string(item.kind_description()));
      continue;
    }
    step_spec s;
    s.at = item.at;
    s.entry = &item;
    for (const auto& e : item.entries) {
      if (e.key.scalar == "id") {
        if (auto id = read_string(e.val, d, "step id")) {
          if (!valid_name(*id)) {
            d.error(e.val.at,
                    "step id '" + *id + "' may only hold letters, digits, '-', '_' and '.'");
          }
          s.id = *id;
        }
      } else if (s.kind.empty()) {
        s.kind = e.key.scalar;
        s.body = &e.val;
      }
      // Further keys (such as `drop:` beside `map:`) belong to the step kind
      // and are checked by its parser in ops/, which reads `entry`.
    }
    if (s.kind.empty()) {
      d.error(item.at, "step has no kind (filter, window, ...)");
      continue;
    }
    s.name = s.id ? *s.id : s.kind + "-" + std::to_string(position);
    for (const auto& other : out) {
      if (s.id && other.id == s.id) d.error(item.at, "duplicate step id '" + *s.id + "'");
    }
    out.push_back(std::move(s));
  }
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void read_table(const node::entry& e, diagnostics& d, const std::string& pipeline_file,
                std::vector<table_spec>& out) {
  table_spec t;
  t.name = e.key.scalar;
  t.at = e.key.at;
  if (!valid_name(t.name)) {
    d.error(e.key.at,
            "table name '" + t.name + "' may only hold letters, digits, '-', '_' and '.'");
  }
  for (const auto& other : out) {
    if (other.name == t.name) d.error(e.key.at, "duplicate table '" + t.name + "'");
  }
  const std::string what = "table '" + t.name + "'";
  map_reader r(e.val, d, what);
  if (!r.valid()) return;
  const node* topic = r.optional("topic");
  const node* file = r.optional("file");
  const node* key = r.optional("key");
  const node* format = r.optional("format");
  r.finish();
  if (topic && file) {
    d.error(file->at, what + " takes either 'topic' or 'file', not both");
    return;
  }
  if (!topic && !file) {
    d.error(e.val.at, what + " needs 'topic' (a compacted topic) or 'file' (CSV or JSON Lines)");
    return;
  }
  if (key) {
    if (auto s = read_string(*key, d, what + " key")) {
      t.key = *s;
      t.key_at = key->at;
    }
  }
  std::optional<std::string> fmt;
  if (format) fmt = read_string(*format, d, what + " format");
  if (topic) {
    t.source = table_source::topic;
    if (auto s = read_string(*topic, d, what + " topic")) t.topic = *s;
    if (fmt && *fmt != "json") {
      d.error(format->at,
              what + ": format '" + *fmt + "' is not supported for a topic (supported: json)");
    }
  } else {
    t.source = table_source::file;
    if (auto s = read_string(*file, d, what + " file")) {
      t.file = *s;
      std::filesystem::path p(*s);
      if (p.is_relative()) p = std::filesystem::path(pipeline_file).parent_path() / p;
      t.path = p.lexically_normal().string();
    }
    if (fmt) {
      if (*fmt == "csv") {
        t.file_format = table_file_format::csv;
      } else if (*fmt == "jsonl") {
        t.file_format = table_file_format::jsonl;
      } else {
        d.error(format->at, what + ": format must be csv or jsonl, found '" + *fmt + "'");
      }
    } else if (ends_with(t.file, ".csv")) {
      t.file_format = table_file_format::csv;
    } else if (ends_with(t.file, ".jsonl") || ends_with(t.file, ".ndjson")) {
      t.file_format = table_file_format::jsonl;
    } else if (!t.file.empty()) {
      d.error(file->at, what + ": file must end in .csv or .jsonl, or give format: csv or jsonl");
    }
    if (!key) d.error(e.val.at, what + " needs 'key': the column (or field) that keys its rows");
  }
  out.push_back(std::move(t));
}

void read_tables(const node& n, diagnostics& d, const std::string& pipeline_file,
                 std::vector<table_spec>& out) {
  if (!n.is_map()) {
    d.error(n.at,
            "tables must be a map of table names to {topic: ...} or {file: ..., key: ...}, "
            "found " +
                std::string(n.kind_description()));
    return;
  }
  for (const auto& e : n.entries) read_table(e, d, pipeline_file, out);
}

// `sink:` — one sink taking every record.
void read_sink(const node& n, diagnostics& d, std::vector<sink_spec>& out) {
  sink_spec sink;
  sink.at = n.at;
  map_reader r(n, d, "sink");
  if (!r.valid()) return;
  if (const node* t = r.required("topic")) {
    if (auto s = read_string(*t, d, "sink.topic")) sink.topic = *s;
  }
  if (const node* k = r.optional("key")) {
    if (read_string(*k, d, "sink.key")) sink.key = k;
  }
  if (const node* w = n.get("when")) {
    d.error(w->at,
            "sink.when: a condition routes records between several sinks; write 'sinks:' as a "
            "list of {topic, key, when}, or filter records with a 'filter' step");
    r.optional("when");
  }
  r.finish();
  out.push_back(std::move(sink));
}

// `sinks:` — a list of {topic, key?, when?}; each record goes to the first
// sink whose `when` is true, and a sink without `when` must be the last.
void read_sinks(const node& n, diagnostics& d, std::vector<sink_spec>& out) {
  if (!n.is_sequence() || n.items.empty()) {
    d.error(n.at, "sinks must be a non-empty list of {topic, key, when}, found " +
                      std::string(n.is_sequence() ? "an empty list" : n.kind_description()));
    return;
  }
  for (std::size_t i = 0; i < n.items.size(); ++i) {
    const node& item = n.items[i];
    const std::string what = "sinks[" + std::to_string(i + 1) + "]";
    sink_spec sink;
    sink.at = item.at;
    map_reader r(item, d, what);
    if (!r.valid()) continue;
    if (const node* t = r.required("topic")) {
      if (auto s = read_string(*t, d, what + ".topic")) sink.topic = *s;
    }
    if (const node* k = r.optional("key")) {
      if (read_string(*k, d, what + ".key")) sink.key = k;
    }
    if (const node* w = r.optional("when")) {
      if (read_string(*w, d, what + ".when")) sink.when = w;
    }
    r.finish();
    if (!item.get("when") && i + 1 < n.items.size()) {
      d.error(item.at, what +
                           " has no 'when', so it takes every record and the sinks after it "
                           "would never get one; only the last sink may omit 'when'");
    }
    out.push_back(std::move(sink));
  }
}

void read_processing(const node& n, diagnostics& d, processing_spec& out) {
  map_reader r(n, d, "processing");
  if (!r.valid()) return;
  if (const node* ci = r.optional("commit_interval")) {
    if (auto ms = read_duration(*ci, d, "processing.commit_interval")) {
      if (*ms < 10)
        d.error(ci->at, "processing.commit_interval must be at least 10ms");
      else
        out.commit_interval = *ms;
    }
  }
  if (const node* g = r.optional("guarantee")) {
    if (auto s = read_string(*g, d, "processing.guarantee")) {
      if (*s == "at_least_once") {
        out.delivery = guarantee::at_least_once;
      } else if (*s == "exactly_once") {
        out.delivery = guarantee::exactly_once;
      } else {
        d.error(g->at,
                "processing.guarantee must be at_least_once or exactly_once, found '" + *s + "'");
      }
    }
  }
  r.finish();
}

void read_errors(const node& n, diagnostics& d, errors_spec& out) {
  map_reader r(n, d, "errors");
  if (!r.valid()) return;
  if (const node* t = r.optional("dead_letter_topic")) {
    if (auto s = read_string(*t, d, "errors.dead_letter_topic")) {
      out.dead_letter_topic = *s;
      out.policy = on_error::dead_letter;
    }
  }
  if (const node* p = r.optional("on_error")) {
    if (auto s = read_string(*p, d, "errors.on_error")) {
      if (*s == "dead_letter") {
        out.policy = on_error::dead_letter;
        if (!out.dead_letter_topic) {
          d.error(p->at, "errors.on_error dead_letter needs errors.dead_letter_topic");
        }
      } else if (*s == "skip") {
        out.policy = on_error::skip;
      } else if (*s == "fail") {
        out.policy = on_error::fail;
      } else {
        d.error(p->at, "errors.on_error must be dead_letter, skip or fail, found '" + *s + "'");
      }
    }
  }
  r.finish();
}

}  // namespace

std::optional<pipeline_spec> load_pipeline_text(const std::string& text, diagnostics& d) {
  auto root = parse_yaml(text, d);
  if (!root) return std::nullopt;
  pipeline_spec spec;
  spec.file = d.file();
  spec.root = root;
  map_reader r(*root, d, "a pipeline file");
  if (!r.valid()) return spec;
  if (const node* name = r.required("pipeline")) {
    if (auto s = read_string(*name, d, "pipeline")) {
      if (!valid_name(*s)) {
        d.error(name->at,
                "pipeline name '" + *s + "' may only hold letters, digits, '-', '_' and '.'");
      }
      spec.name = *s;
      spec.name_at = name->at;
    }
  }
  if (const node* desc = r.optional("description")) {
    if (auto s = read_string(*desc, d, "description")) spec.description = *s;
  }
  if (const node* src = r.required("source")) read_source(*src, d, spec.source);
  if (const node* tables = r.optional("tables")) read_tables(*tables, d, spec.file, spec.tables);
  if (const node* steps = r.optional("steps")) read_steps(*steps, d, spec.steps);
  const node* sink = r.optional("sink");
  const node* sinks = r.optional("sinks");
  if (sink && sinks) {
    d.error(sinks->at,
            "a pipeline takes either 'sink' (one output) or 'sinks' (records routed by "
            "'when'), not both");
  } else if (sink) {
    read_sink(*sink, d, spec.sinks);
  } else if (sinks) {
    spec.routed = true;
    read_sinks(*sinks, d, spec.sinks);
  } else {
    d.error(root->at, "a pipeline file needs 'sink' (or 'sinks')");
  }
  if (const node* proc = r.optional("processing")) read_processing(*proc, d, spec.processing);
  if (const node* errors = r.optional("errors")) read_errors(*errors, d, spec.errors);
  // Checked by parse_tests (config/test_spec.h) when `weir test` runs them.
  spec.tests = r.optional("tests");
  r.finish();
  return spec;
}

const table_spec* pipeline_spec::find_table(std::string_view name) const noexcept {
  for (const auto& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::vector<std::string> pipeline_spec::sink_topics() const {
  std::vector<std::string> out;
  for (const auto& s : sinks) {
    if (std::find(out.begin(), out.end(), s.topic) == out.end()) out.push_back(s.topic);
  }
  return out;
}

std::optional<pipeline_spec> load_pipeline(const std::string& path, diagnostics& d) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    d.error(mark{}, "cannot read the file");
    return std::nullopt;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return load_pipeline_text(buf.str(), d);
}

}  // namespace weir::config

#include "weir/config/test_spec.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "weir/core/json.h"

namespace weir::config {
namespace {

// YAML 1.2 core-schema numbers: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool looks_numeric(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - from;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t whole = digits();
  std::size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

std::optional<double> parse_number(std::string_view s) {
  if (!looks_numeric(s)) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

// A point in time: integer epoch milliseconds, a duration from the epoch
// (`30m`), or an ISO 8601 timestamp.
std::optional<core::millis> read_time(const node& n, diagnostics& d, std::string_view what) {
  if (n.is_scalar() && !n.quoted) {
    long long v = 0;
    auto [p, ec] = std::from_chars(n.scalar.data(), n.scalar.data() + n.scalar.size(), v);
    if (ec == std::errc() && p == n.scalar.data() + n.scalar.size()) return v;
  }
  if (n.is_scalar()) {
    if (auto dur = core::parse_duration(n.scalar)) return *dur;
    if (auto t = core::parse_iso8601(n.scalar)) return *t;
  }
  d.error(n.at, std::string(what) +
                    " must be epoch milliseconds, a duration from the epoch such as 30m, or an "
                    "ISO 8601 time");
  return std::nullopt;
}

std::optional<std::vector<core::header>> read_headers(const node& n, diagnostics& d) {
  if (!n.is_map()) {
    d.error(n.at,
            std::string("headers must be a map of names to values, found ") + n.kind_description());
    return std::nullopt;
  }
  std::vector<core::header> out;
  bool ok = true;
  for (const auto& e : n.entries) {
    if (e.val.is_null()) {
      out.push_back(core::header{e.key.scalar, std::nullopt});
    } else if (e.val.is_scalar()) {
      out.push_back(core::header{e.key.scalar, e.val.scalar});
    } else {
      d.error(e.val.at, "header '" + e.key.scalar + "' must be a string or null, found " +
                            e.val.kind_description());
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

const node* read_list(const node* n, diagnostics& d, std::string_view what) {
  if (!n) return nullptr;
  if (!n->is_sequence()) {
    d.error(n->at, std::string(what) + " must be a list, found " + n->kind_description());
    return nullptr;
  }
  return n;
}

std::optional<test_input> read_input(const node& n, diagnostics& d) {
  map_reader r(n, d, "an input record");
  if (!r.valid()) return std::nullopt;
  test_input in;
  in.at = n.at;
  bool ok = true;
  if (const node* k = r.optional("key")) {
    // A scalar is the key's text as written; a list or map its JSON form.
    if (k->is_scalar()) {
      in.key = k->scalar;
    } else if (!k->is_null()) {
      in.key = core::to_json(to_value(*k));
    }
  }
  const node* value = r.optional("value");
  bool raw = false;
  if (const node* rw = r.optional("raw")) {
    auto b = read_bool(*rw, d, "raw");
    raw = b.value_or(false);
    ok = ok && b;
    if (raw && !value) {
      d.error(rw->at, "raw: true needs a 'value' holding the record's bytes");
      ok = false;
    }
  }
  if (value) {
    if (!raw) {
      in.value = core::to_json(to_value(*value));
    } else if (value->is_scalar()) {
      in.value = value->scalar;
    } else if (value->is_null()) {
      in.value = std::string();
    } else {
      d.error(value->at, std::string("with raw: true, value must be a string, found ") +
                             value->kind_description());
      ok = false;
    }
  }
  if (const node* ts = r.optional("timestamp")) {
    auto t = read_time(*ts, d, "timestamp");
    in.timestamp = t.value_or(0);
    ok = ok && t;
  }
  if (const node* p = r.optional("partition")) {
    auto v = read_int(*p, d, "partition", 0, 1'000'000);
    in.partition = static_cast<std::int32_t>(v.value_or(0));
    ok = ok && v;
  }
  if (const node* h = r.optional("headers")) {
    auto hs = read_headers(*h, d);
    if (hs) in.headers = std::move(*hs);
    ok = ok && hs;
  }
  r.finish();
  if (!ok) return std::nullopt;
  return in;
}

// `sink_topics` is set for `expect` (whose entries may name a topic) and
// null for the late and dead-letter lists.
std::optional<test_expectation> read_expectation(const node& n, diagnostics& d,
                                                 const std::vector<std::string>* sink_topics) {
  map_reader r(n, d, "an expected record");
  if (!r.valid()) return std::nullopt;
  test_expectation out;
  out.at = n.at;
  bool ok = true;
  const node* v = r.required("value");
  if (v) out.value = to_value(*v);
  ok = ok && v;
  if (const node* k = r.optional("key")) out.key = to_value(*k);
  if (const node* ts = r.optional("timestamp")) {
    out.timestamp = read_time(*ts, d, "timestamp");
    ok = ok && out.timestamp;
  }
  if (const node* h = r.optional("headers")) {
    out.headers = read_headers(*h, d);
    ok = ok && out.headers;
  }
  if (const node* raw = r.optional("raw")) {
    auto b = read_bool(*raw, d, "raw");
    ok = ok && b;
    if (b && *b) {
      if (v && !v->is_scalar()) {
        d.error(v->at, "with raw: true, value must be the record's bytes as a string");
        ok = false;
      }
      out.raw = true;
    }
  }
  if (sink_topics) {
    std::string known;
    for (const auto& t : *sink_topics) known += (known.empty() ? "" : ", ") + t;
    if (const node* t = r.optional("topic")) {
      if (auto s = read_string(*t, d, "topic")) {
        out.topic = *s;
        if (std::find(sink_topics->begin(), sink_topics->end(), *s) == sink_topics->end()) {
          d.error(t->at, "topic '" + *s + "' is not a sink topic (sinks: " + known + ")");
          ok = false;
        }
      } else {
        ok = false;
      }
    } else if (sink_topics->size() == 1) {
      out.topic = sink_topics->front();
    } else if (sink_topics->size() > 1) {
      d.error(n.at, "the pipeline writes to several sink topics (" + known +
                        "): say which one this record goes to with 'topic:'");
      ok = false;
    }
  }
  r.finish();
  if (!ok) return std::nullopt;
  return out;
}

std::vector<test_expectation> read_expectations(
    const node& list, diagnostics& d, const std::vector<std::string>* sink_topics = nullptr) {
  std::vector<test_expectation> out;
  for (const auto& item : list.items) {
    if (auto e = read_expectation(item, d, sink_topics)) out.push_back(std::move(*e));
  }
  return out;
}

test_action read_feed(const node& list, diagnostics& d) {
  feed_records feed;
  for (const auto& item : list.items) {
    if (auto in = read_input(item, d)) feed.records.push_back(std::move(*in));
  }
  return test_action{list.at, std::move(feed)};
}

std::optional<test_action> read_advance_time(const node& n, diagnostics& d) {
  std::optional<test_action> out;
  if (auto ms = read_duration(n, d, "advance_time")) {
    out.emplace(test_action{n.at, advance_time{*ms}});
  }
  return out;
}

std::optional<test_action> read_advance_watermark(const node& n, diagnostics& d) {
  std::optional<test_action> out;
  if (auto t = read_time(n, d, "advance_watermark_to")) {
    out.emplace(test_action{n.at, advance_watermark_to{*t}});
  }
  return out;
}

// `tables: {NAME: [{key: K, value: {...}}, ...]}`: rows for declared tables.
std::optional<test_action> read_tables(const node& n, const pipeline_spec& spec, diagnostics& d) {
  if (!n.is_map()) {
    d.error(n.at, std::string("tables must be a map of table names to lists of rows "
                              "({key: k, value: {...}}), found ") +
                      n.kind_description());
    return std::nullopt;
  }
  set_table_rows out;
  bool ok = true;
  for (const auto& e : n.entries) {
    if (!spec.find_table(e.key.scalar)) {
      std::string known;
      for (const auto& t : spec.tables) known += (known.empty() ? "" : ", ") + t.name;
      d.error(e.key.at, "unknown table '" + e.key.scalar + "' (" +
                            (known.empty() ? std::string("no tables are declared in 'tables:'")
                                           : "declared: " + known) +
                            ")");
      ok = false;
      continue;
    }
    const node* list = read_list(&e.val, d, "rows of table '" + e.key.scalar + "'");
    if (!list) {
      ok = false;
      continue;
    }
    std::vector<table_row> rows;
    for (const auto& item : list->items) {
      map_reader r(item, d, "a table row");
      if (!r.valid()) {
        ok = false;
        continue;
      }
      table_row row;
      row.at = item.at;
      const node* k = r.required("key");
      const node* v = r.required("value");
      r.finish();
      if (!k || !v) {
        ok = false;
        continue;
      }
      if (!k->is_scalar() || k->scalar.empty()) {
        d.error(k->at, "a table row's key must be a non-empty scalar");
        ok = false;
        continue;
      }
      row.key = k->scalar;
      if (v->is_map()) {
        row.value = to_value(*v);
      } else if (!v->is_null()) {
        d.error(v->at, std::string("a table row's value must be a map, or null to remove the "
                                   "row, found ") +
                           v->kind_description());
        ok = false;
        continue;
      }
      rows.push_back(std::move(row));
    }
    out.tables.emplace_back(e.key.scalar, std::move(rows));
  }
  if (!ok) return std::nullopt;
  return test_action{n.at, std::move(out)};
}

// One item of the sequenced form: exactly one of input, advance_time,
// advance_watermark_to, tables.
std::optional<test_action> read_step(const node& n, const pipeline_spec& spec, diagnostics& d) {
  map_reader r(n, d, "a test step");
  if (!r.valid()) return std::nullopt;
  const node* input = r.optional("input");
  const node* time = r.optional("advance_time");
  const node* wm = r.optional("advance_watermark_to");
  const node* tables = r.optional("tables");
  r.finish();
  int given = (input ? 1 : 0) + (time ? 1 : 0) + (wm ? 1 : 0) + (tables ? 1 : 0);
  if (given > 1 || (given == 0 && n.entries.empty())) {
    d.error(n.at,
            "a test step takes exactly one of input, advance_time, advance_watermark_to, tables");
  }
  if (given != 1) return std::nullopt;  // with no known key, finish() reported the unknown ones
  if (tables) return read_tables(*tables, spec, d);
  if (input) {
    if (const node* list = read_list(input, d, "input")) return read_feed(*list, d);
    return std::nullopt;
  }
  if (time) return read_advance_time(*time, d);
  return read_advance_watermark(*wm, d);
}

std::optional<test_case> read_case(const node& n, const pipeline_spec& spec, diagnostics& d,
                                   mark& name_at) {
  map_reader r(n, d, "a test");
  if (!r.valid()) return std::nullopt;
  test_case c;
  c.at = n.at;
  if (const node* name = r.required("name")) {
    if (auto s = read_string(*name, d, "test name")) c.name = *s;
    name_at = name->at;
  }
  const node* input = r.optional("input");
  const node* time = r.optional("advance_time");
  const node* wm = r.optional("advance_watermark_to");
  const node* steps = r.optional("steps");
  // Rows the tables hold before the case's first record.
  if (const node* tables = r.optional("tables")) {
    if (auto a = read_tables(*tables, spec, d)) c.actions.push_back(std::move(*a));
  }
  const node* expect = r.required("expect");
  const node* expect_late = r.optional("expect_late");
  const node* expect_dead = r.optional("expect_dead_letter");
  r.finish();

  if (steps && (input || time || wm)) {
    d.error(steps->at,
            "a test takes either 'steps' or 'input', 'advance_time' and "
            "'advance_watermark_to', not both");
  } else if (steps) {
    if (const node* list = read_list(steps, d, "steps")) {
      for (const auto& item : list->items) {
        if (auto a = read_step(item, spec, d)) c.actions.push_back(std::move(*a));
      }
    }
  } else {
    if (const node* list = read_list(input, d, "input")) c.actions.push_back(read_feed(*list, d));
    if (time) {
      if (auto a = read_advance_time(*time, d)) c.actions.push_back(std::move(*a));
    }
    if (wm) {
      if (auto a = read_advance_watermark(*wm, d)) c.actions.push_back(std::move(*a));
    }
  }
  if (const node* list = read_list(expect, d, "expect")) {
    const auto topics = spec.sink_topics();
    c.expect = read_expectations(*list, d, &topics);
  }
  if (const node* list = read_list(expect_late, d, "expect_late")) {
    c.expect_late = read_expectations(*list, d);
    c.expect_late_at = list->at;
    if (late_topics(spec).empty()) {
      d.error(list->at,
              "expect_late needs a step that writes late records to a topic "
              "(late: {topic: ...})");
    }
  }
  if (const node* list = read_list(expect_dead, d, "expect_dead_letter")) {
    c.expect_dead_letter = read_expectations(*list, d);
    if (!spec.errors.dead_letter_topic) {
      d.error(list->at, "expect_dead_letter needs errors.dead_letter_topic");
    }
  }
  return c;
}

}  // namespace

core::value to_value(const node& n) {
  switch (n.type) {
    case node::kind::null:
      return core::value{};
    case node::kind::scalar:
      if (n.quoted) return core::value{n.scalar};
      if (n.scalar == "true") return core::value{true};
      if (n.scalar == "false") return core::value{false};
      if (n.scalar.empty() || n.scalar == "null" || n.scalar == "~") return core::value{};
      if (auto d = parse_number(n.scalar)) return core::value{*d};
      return core::value{n.scalar};
    case node::kind::sequence: {
      core::value::array_type a;
      a.reserve(n.items.size());
      for (const auto& item : n.items) a.push_back(to_value(item));
      return core::value{std::move(a)};
    }
    case node::kind::map: {
      core::value::object_type o;
      o.reserve(n.entries.size());
      for (const auto& e : n.entries) o.push_back({e.key.scalar, to_value(e.val)});
      return core::value{std::move(o)};
    }
  }
  return core::value{};
}

std::vector<std::string> late_topics(const pipeline_spec& spec) {
  std::vector<std::string> out;
  for (const auto& step : spec.steps) {
    if (!step.body || !step.body->is_map()) continue;
    const node* late = step.body->get("late");
    if (!late || !late->is_map()) continue;
    const node* topic = late->get("topic");
    if (!topic || !topic->is_scalar() || topic->scalar.empty()) continue;
    if (std::find(out.begin(), out.end(), topic->scalar) == out.end()) out.push_back(topic->scalar);
  }
  return out;
}

std::vector<test_case> parse_tests(const pipeline_spec& spec, diagnostics& d) {
  std::vector<test_case> out;
  if (!spec.tests || spec.tests->is_null()) return out;
  const node* list = read_list(spec.tests, d, "tests");
  if (!list) return out;
  std::vector<std::pair<std::string, mark>> names;
  for (const auto& item : list->items) {
    mark name_at;
    auto c = read_case(item, spec, d, name_at);
    if (!c) continue;
    if (!c->name.empty()) {
      auto first = std::find_if(names.begin(), names.end(),
                                [&](const auto& x) { return x.first == c->name; });
      if (first != names.end()) {
        d.error(name_at, "duplicate test name '" + c->name + "' (first at line " +
                             std::to_string(first->second.line) + ")");
      } else {
        names.emplace_back(c->name, name_at);
      }
    }
    out.push_back(std::move(*c));
  }
  return out;
}

}  // namespace weir::config

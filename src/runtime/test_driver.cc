#include "weir/runtime/test_driver.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <variant>

#include "weir/core/json.h"
#include "weir/runtime/task.h"
#include "weir/state/database.h"
#include "weir/time/clock.h"

namespace weir::runtime {
namespace {

// Keeps what the tasks of one case write, in write order, whatever the topic.
class collecting_sink final : public record_sink {
 public:
  void write(core::output_record&& r) override { records.push_back(std::move(r)); }
  std::vector<core::output_record> records;
};

// Reads weir_record_errors_total of `pipeline` from the registry's text form:
// the error reporter counts there and keeps no other account.
std::map<std::pair<std::string, std::string>, std::uint64_t> record_errors(
    const metrics::registry& registry, const std::string& pipeline) {
  std::map<std::pair<std::string, std::string>, std::uint64_t> out;
  const std::string text = registry.render();
  constexpr std::string_view metric = "weir_record_errors_total{";
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    if (!line.starts_with(metric)) continue;
    std::map<std::string, std::string> labels;
    std::size_t i = metric.size();
    while (i < line.size() && line[i] != '}') {
      std::size_t eq = line.find('=', i);
      if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') break;
      std::string name(line.substr(i, eq - i));
      std::string val;
      std::size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          ++j;
          val.push_back(line[j] == 'n' ? '\n' : line[j]);
        } else {
          val.push_back(line[j]);
        }
      }
      labels[name] = val;
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size() || labels["pipeline"] != pipeline) continue;
    std::string count(line.substr(i + 1));
    double v = std::strtod(count.c_str(), nullptr);
    out[{labels["step"], labels["error"]}] += static_cast<std::uint64_t>(v);
  }
  return out;
}

std::optional<core::value> parse_value(const std::string& bytes) {
  auto v = core::parse_json(bytes);
  if (!v) return std::nullopt;
  return std::move(*v);
}

bool key_matches(const core::value& expected, const std::optional<std::string>& actual) {
  if (expected.is_null()) return !actual;
  if (!actual) return false;
  if (expected.is_string()) return expected.as_string() == *actual;
  auto parsed = parse_value(*actual);
  return parsed && json_equal(expected, *parsed);
}

// Every expected header is in `actual`, in the same order among themselves.
bool headers_match(const std::vector<core::header>& expected,
                   const std::vector<core::header>& actual) {
  std::size_t j = 0;
  for (const auto& h : expected) {
    while (j < actual.size() && (actual[j].key != h.key || actual[j].value != h.value)) ++j;
    if (j == actual.size()) return false;
    ++j;
  }
  return true;
}

bool matches(const config::test_expectation& e, const core::output_record& r) {
  if (e.raw) {
    if (!e.value.is_string() || e.value.as_string() != r.value) return false;
  } else {
    auto v = parse_value(r.value);
    if (!v || !json_equal(e.value, *v)) return false;
  }
  if (e.key && !key_matches(*e.key, r.key)) return false;
  if (e.timestamp && *e.timestamp != r.timestamp_ms) return false;
  if (e.headers && !headers_match(*e.headers, r.headers)) return false;
  return true;
}

core::value headers_value(const std::vector<core::header>& hs) {
  core::value::object_type o;
  for (const auto& h : hs) {
    o.push_back({h.key, h.value ? core::value{*h.value} : core::value{}});
  }
  return core::value{std::move(o)};
}

// One line per record, fields in a fixed order: key, timestamp, headers, value.
std::string describe(const config::test_expectation& e) {
  core::value::object_type o;
  if (e.key) o.push_back({"key", *e.key});
  if (e.timestamp) o.push_back({"timestamp", core::value{*e.timestamp}});
  if (e.headers) o.push_back({"headers", headers_value(*e.headers)});
  o.push_back({"value", e.value});
  return core::to_json(core::value{std::move(o)});
}

// A written record; with `like`, only the fields that expectation compares.
std::string describe(const core::output_record& r, const config::test_expectation* like) {
  core::value::object_type o;
  if (!like || like->key) o.push_back({"key", r.key ? core::value{*r.key} : core::value{}});
  if (!like || like->timestamp) o.push_back({"timestamp", core::value{r.timestamp_ms}});
  if (like ? like->headers.has_value() : !r.headers.empty()) {
    o.push_back({"headers", headers_value(r.headers)});
  }
  auto v = parse_value(r.value);
  // Bytes that are not JSON show as a string, so the line stays one JSON object.
  o.push_back({"value", v ? std::move(*v) : core::value{r.value}});
  return core::to_json(core::value{std::move(o)});
}

// Aligns expected and written records on their longest common subsequence,
// then pairs the unmatched ones that sit between the same matches: those
// differ at the same position (`~`), the rest are only expected (`-`) or only
// written (`+`). Returns the lines, or an empty string when all match.
std::string diff(const std::vector<config::test_expectation>& expected,
                 const std::vector<const core::output_record*>& actual) {
  const std::size_t n = expected.size();
  const std::size_t m = actual.size();
  std::vector<std::vector<char>> eq(n, std::vector<char>(m, 0));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < m; ++j) eq[i][j] = matches(expected[i], *actual[j]) ? 1 : 0;
  }
  // lcs[i][j]: length of the common subsequence of expected[i..] and actual[j..].
  std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      lcs[i][j] = eq[i][j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  if (lcs[0][0] == n && n == m) return {};

  std::string out;
  std::vector<std::size_t> only_expected;
  std::vector<std::size_t> only_actual;
  auto flush = [&] {
    std::size_t paired = std::min(only_expected.size(), only_actual.size());
    for (std::size_t k = 0; k < paired; ++k) {
      const auto& e = expected[only_expected[k]];
      out += "~ " + describe(e) + "\n";
      out += "~ " + describe(*actual[only_actual[k]], &e) + "\n";
    }
    for (std::size_t k = paired; k < only_expected.size(); ++k) {
      out += "- " + describe(expected[only_expected[k]]) + "\n";
    }
    for (std::size_t k = paired; k < only_actual.size(); ++k) {
      out += "+ " + describe(*actual[only_actual[k]], nullptr) + "\n";
    }
    only_expected.clear();
    only_actual.clear();
  };
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && eq[i][j] && lcs[i][j] == lcs[i + 1][j + 1] + 1) {
      flush();
      out += "  " + describe(expected[i]) + "\n";
      ++i;
      ++j;
    } else if (j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) {
      only_expected.push_back(i++);
    } else {
      only_actual.push_back(j++);
    }
  }
  flush();
  return out;
}

std::string section(const std::string& title, std::size_t expected, std::size_t written,
                    const std::string& lines) {
  std::string out = title + ": expected " + std::to_string(expected) + " record" +
                    (expected == 1 ? "" : "s") + ", written " + std::to_string(written) + "\n";
  out += "  (- expected only, + written only, ~ differs: expected, then written)\n";
  std::size_t pos = 0;
  while (pos < lines.size()) {
    std::size_t eol = lines.find('\n', pos);
    out += "  " + lines.substr(pos, eol - pos) + "\n";
    pos = eol + 1;
  }
  return out;
}

}  // namespace

bool json_equal(const core::value& a, const core::value& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case core::value::kind::null:
      return true;
    case core::value::kind::boolean:
      return a.as_bool() == b.as_bool();
    case core::value::kind::number:
      return a.as_number() == b.as_number();
    case core::value::kind::string:
      return a.as_string() == b.as_string();
    case core::value::kind::array: {
      const auto& x = a.as_array();
      const auto& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!json_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case core::value::kind::object: {
      const auto& x = a.as_object();
      if (x.size() != b.as_object().size()) return false;
      for (const auto& m : x) {
        const core::value* other = b.find(m.key);
        if (!other || !json_equal(m.val, *other)) return false;
      }
      return true;
    }
  }
  return false;
}

test_driver::test_driver(const topology& t)
    : topology_(t), late_topics_(config::late_topics(t.spec)) {}

case_result test_driver::run(const config::test_case& c) const {
  case_result result;
  const std::string& pipeline = topology_.spec.name;
  const auto errors_before = record_errors(*topology_.probe.registry, pipeline);
  std::string trouble;  // a failure of the run itself, not of the expectations

  {
    // Each case starts with empty tables; its `tables:` fill them.
    topology_.tables->clear();
    auto db = state::open_memory();
    time::manual_clock clock(0);
    collecting_sink sink;
    error_reporter errors(topology_, &sink);
    std::map<std::int32_t, std::unique_ptr<task>> tasks;  // by partition: ticks go in order
    std::map<std::int32_t, std::int64_t> next_offset;
    const std::string& topic = topology_.spec.source.topics.front();

    auto task_for = [&](std::int32_t partition) -> task* {
      if (auto it = tasks.find(partition); it != tasks.end()) return it->second.get();
      auto t = std::make_unique<task>(topology_, topology_.stages.front(), partition, *db, sink,
                                      errors, clock);
      if (auto start = t->restore(); !start) {
        trouble =
            "restoring partition " + std::to_string(partition) + " failed: " + start.err().message;
        return nullptr;
      }
      return tasks.emplace(partition, std::move(t)).first->second.get();
    };

    // On several partitions `weir run` regroups such a window's records
    // through a repartition topic, which a case does not model: a case
    // reading several partitions would give what `weir run` does not.
    if (const auto regrouping = regrouping_steps(topology_); !regrouping.empty()) {
      std::set<std::int32_t> partitions;
      for (const auto& action : c.actions) {
        if (const auto* feed = std::get_if<config::feed_records>(&action.what)) {
          for (const auto& in : feed->records) partitions.insert(in.partition);
        }
      }
      if (partitions.size() > 1) {
        trouble = "the inputs are in " + std::to_string(partitions.size()) +
                  " partitions, and step " + topology_.steps[regrouping.front()]->name() +
                  " groups across partitions (weir run repartitions its records by group "
                  "key): give every input the same partition";
      }
    }

    try {
      for (const auto& action : c.actions) {
        if (!trouble.empty()) break;
        if (const auto* feed = std::get_if<config::feed_records>(&action.what)) {
          for (const auto& in : feed->records) {
            task* t = task_for(in.partition);
            if (!t) break;
            core::record_view r;
            r.topic = topic;
            r.partition = in.partition;
            r.offset = next_offset[in.partition]++;
            r.timestamp_ms = in.timestamp;
            if (in.key) r.key = *in.key;
            if (in.value) r.value = *in.value;
            for (const auto& h : in.headers) {
              r.headers.push_back(core::header_view{
                  h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
            }
            t->process(r);
            if (auto st = errors.take_failure(); !st) {
              trouble = "the pipeline failed (as `weir run` would stop): " + st.err().message;
              break;
            }
          }
        } else if (const auto* wait = std::get_if<config::advance_time>(&action.what)) {
          clock.advance(wait->by);
          for (auto& [partition, t] : tasks) t->tick();
        } else if (const auto* rows = std::get_if<config::set_table_rows>(&action.what)) {
          for (const auto& [name, list] : rows->tables) {
            tables::table* t = topology_.tables->get(name);
            if (!t) continue;  // parse_tests reported it
            for (const auto& row : list) t->put(row.key, row.value ? &*row.value : nullptr);
          }
        } else if (const auto* wm = std::get_if<config::advance_watermark_to>(&action.what)) {
          if (tasks.empty() && !task_for(0)) break;
          for (auto& [partition, t] : tasks) t->advance_watermark_to(wm->to);
        }
      }
    } catch (const std::exception& e) {
      // Nothing may throw out of a task; say so rather than stop every test.
      trouble = std::string("exception from the pipeline: ") + e.what();
    }
    result.written = std::move(sink.records);
  }

  for (const auto& [key, count] : record_errors(*topology_.probe.registry, pipeline)) {
    auto before = errors_before.find(key);
    std::uint64_t was = before == errors_before.end() ? 0 : before->second;
    if (count > was) result.errors.push_back({key.first, key.second, count - was});
  }

  // Each sink topic is compared on its own: Kafka orders records within a
  // topic (partition), not across topics.
  const auto sink_topics = topology_.spec.sink_topics();
  std::vector<std::vector<const core::output_record*>> sink_records(sink_topics.size());
  std::vector<const core::output_record*> late_records;
  std::vector<const core::output_record*> dead_records;
  const auto& dlq = topology_.spec.errors.dead_letter_topic;
  for (const auto& r : result.written) {
    auto sink = std::find(sink_topics.begin(), sink_topics.end(), r.topic);
    if (sink != sink_topics.end()) {
      sink_records[static_cast<std::size_t>(sink - sink_topics.begin())].push_back(&r);
    } else if (dlq && r.topic == *dlq) {
      dead_records.push_back(&r);
    } else if (std::find(late_topics_.begin(), late_topics_.end(), r.topic) != late_topics_.end()) {
      late_records.push_back(&r);
    }
  }

  std::string report;
  if (!trouble.empty()) report += trouble + "\n";
  for (std::size_t i = 0; i < sink_topics.size(); ++i) {
    std::vector<config::test_expectation> expected;
    for (const auto& e : c.expect) {
      if (e.topic == sink_topics[i]) expected.push_back(e);
    }
    if (auto d = diff(expected, sink_records[i]); !d.empty()) {
      report += section("sink topic " + sink_topics[i], expected.size(), sink_records[i].size(), d);
    }
  }
  if (c.expect_late) {
    if (auto d = diff(*c.expect_late, late_records); !d.empty()) {
      std::string topics;
      for (const auto& t : late_topics_) topics += (topics.empty() ? "" : ", ") + t;
      report += section("late topic " + topics, c.expect_late->size(), late_records.size(), d);
    }
  }
  if (c.expect_dead_letter) {
    if (auto d = diff(*c.expect_dead_letter, dead_records); !d.empty()) {
      report += section("dead-letter topic " + *dlq, c.expect_dead_letter->size(),
                        dead_records.size(), d);
    }
  }
  if (!report.empty() && !result.errors.empty()) {
    report += "record errors:";
    for (const auto& e : result.errors) {
      report += " " + e.step + " " + e.code + " x" + std::to_string(e.count) + ";";
    }
    report.back() = '\n';
  }
  result.passed = report.empty();
  result.report = std::move(report);
  return result;
}

}  // namespace weir::runtime

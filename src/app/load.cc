#include "app/load.h"

#include <algorithm>

#include "weir/config/test_spec.h"

namespace weir::app {

loaded_pipeline load(const std::string& file,
                     const std::function<std::optional<int>(const std::string&)>& partitions,
                     metrics::registry& metrics) {
  loaded_pipeline out;
  config::diagnostics diag(file);
  auto spec = config::load_pipeline(file, diag);
  // The inline tests are part of the file: their problems are the file's.
  if (spec) (void)config::parse_tests(*spec, diag);
  if (spec && diag.ok()) {
    std::optional<int> count;
    if (partitions && !spec->source.topics.empty()) count = partitions(spec->source.topics.front());
    out.topology = runtime::build_topology(std::move(*spec), count, metrics, diag);
  } else if (spec) {
    // Report step problems too, so that one run shows everything.
    metrics::registry scratch;
    (void)runtime::build_topology(std::move(*spec), std::nullopt, scratch, diag);
  }
  auto list = diag.list();
  std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
    return a.at.line != b.at.line ? a.at.line < b.at.line : a.at.column < b.at.column;
  });
  for (const auto& d : list) out.problems.push_back(d.format());
  if (!out.problems.empty()) out.topology.reset();
  return out;
}

}  // namespace weir::app

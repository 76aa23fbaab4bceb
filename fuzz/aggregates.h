#pragma once

#include <memory>
#include <string>
#include <vector>

#include "weir/config/pipeline.h"
#include "weir/ops/aggregate.h"

namespace weir::fuzz {

// Every aggregate kind, as a window step would declare it. The accumulator
// target's first input byte picks one of these, so the order is part of the
// seed corpus format: append, never reorder.
inline const std::vector<std::string>& aggregate_texts() {
  static const std::vector<std::string> texts = {"count()",
                                                 "count(x)",
                                                 "sum(x)",
                                                 "avg(x)",
                                                 "min(x)",
                                                 "max(x)",
                                                 "first(x)",
                                                 "last(x)",
                                                 "count_distinct(x)",
                                                 "percentile(x, 0.9)",
                                                 "top_k(x, 5)",
                                                 "collect(x, 4)"};
  return texts;
}

// Parses `aggregate: {agg: TEXT}` through ops::parse_aggregate; nullptr if the
// text does not declare a valid aggregate.
inline std::unique_ptr<ops::aggregate> make_aggregate(const std::string& text) {
  config::diagnostics diag("aggregate.yaml");
  auto root = config::parse_yaml("aggregate:\n  agg: " + text + "\n", diag);
  if (!root || !diag.ok()) return nullptr;
  const config::node* map = root->get("aggregate");
  if (!map || map->entries.size() != 1) return nullptr;
  auto agg = ops::parse_aggregate(map->entries[0], diag);
  return diag.ok() ? std::move(agg) : nullptr;
}

}  // namespace weir::fuzz

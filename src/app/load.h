#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/metrics/registry.h"
#include "weir/runtime/topology.h"

namespace weir::app {

struct loaded_pipeline {
  std::unique_ptr<runtime::topology> topology;
  std::vector<std::string> problems;  // FILE:LINE:COL: message, in file order
};

// Loads, validates and compiles one pipeline file. `partitions` tells the
// source topic's partition count from its name, when a broker is at hand.
loaded_pipeline load(const std::string& file,
                     const std::function<std::optional<int>(const std::string&)>& partitions,
                     metrics::registry& metrics);

}  // namespace weir::app

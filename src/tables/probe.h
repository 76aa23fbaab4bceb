#pragma once

#include <string>

#include "weir/metrics/registry.h"

namespace weir::tables {

// The metrics of one table, registered once when its pipeline starts.
struct table_probe {
  metrics::gauge* rows = nullptr;
  metrics::counter* updates = nullptr;
  metrics::counter* invalid_records = nullptr;  // topic records skipped
  metrics::counter* reload_failures = nullptr;  // file reloads that kept the old rows

  // Registers the series of table `table` of `pipeline` (one place for
  // their names and help texts).
  static table_probe make(metrics::registry& r, const std::string& pipeline,
                          const std::string& table);
};

}  // namespace weir::tables

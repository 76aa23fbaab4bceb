#pragma once

#include <optional>
#include <string>
#include <vector>

#include "weir/core/json.h"
#include "weir/ops/step.h"

namespace weir::test {

// Records what a step emits: values as JSON text, keys and times, in order.
struct collect final : ops::emitter {
  std::vector<std::string> values;
  std::vector<std::optional<std::string>> keys;
  std::vector<core::millis> times;
  void emit(ops::event&& e) override {
    values.push_back(core::to_json(e.value));
    keys.push_back(e.key);
    times.push_back(e.time);
  }
};

// Records what a step writes sideways (late records).
struct side_collect final : ops::side_output {
  std::vector<core::output_record> records;
  void write(core::output_record&& r) override { records.push_back(std::move(r)); }
};

}  // namespace weir::test

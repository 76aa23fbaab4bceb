#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weir/config/test_spec.h"
#include "weir/core/record.h"
#include "weir/core/value.h"
#include "weir/runtime/topology.h"

namespace weir::runtime {

// Record errors of one step and code during a test case.
struct record_error_count {
  std::string step;
  std::string code;  // core::errc_name
  std::uint64_t count = 0;
};

struct case_result {
  bool passed = false;
  std::vector<core::output_record> written;  // every record the tasks wrote, in order
  std::vector<record_error_count> errors;
  // Why the case failed, several lines (diffs of expected and written records,
  // record errors); empty when it passed.
  std::string report;
};

// Runs the inline test cases of one pipeline (`weir test`) through the same
// tasks and steps as `weir run`, without Kafka: each case gets a fresh
// in-memory state database, a manual clock starting at 0 and one task per
// partition it feeds; time moves only when the case says so. Borrows the
// topology, which must outlive it, and reads record errors from the
// topology's metrics registry. The topology's tables are in memory: each case
// empties them and fills them from its `tables:`. Used by one thread.
class test_driver {
 public:
  explicit test_driver(const topology& t);

  case_result run(const config::test_case& c) const;

 private:
  const topology& topology_;
  std::vector<std::string> late_topics_;
};

// JSON equality: numbers by value (5 == 5.0), objects regardless of key order,
// arrays in order.
bool json_equal(const core::value& a, const core::value& b);

}  // namespace weir::runtime

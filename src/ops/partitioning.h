#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "weir/config/diagnostics.h"
#include "weir/ops/step.h"

namespace weir::ops {

// Until weir can repartition, records that a step must bring together (one
// group of a window, one key of a dedupe) have to share an input partition:
// `source.partitioned_by` must promise it with fields that are all among
// `fields` (what the step's key is computed from), or the source must have a
// single partition. Otherwise reports, at `at`, the error that says so;
// `what` names the key ("group_by", "dedupe.key") and `records` what may be
// spread ("one group's records", "one key's records").
void check_covered_by_partitioning(const build_context& ctx, config::mark at, std::string_view what,
                                   std::string_view records, const std::vector<std::string>& fields,
                                   config::diagnostics& diag);

}  // namespace weir::ops

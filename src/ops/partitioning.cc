#include "ops/partitioning.h"

#include <algorithm>

namespace weir::ops {

void check_covered_by_partitioning(const build_context& ctx, config::mark at, std::string_view what,
                                   std::string_view records, const std::vector<std::string>& fields,
                                   config::diagnostics& diag) {
  const auto& promised = ctx.pipeline.source.partitioned_by;
  bool covered =
      !promised.empty() && std::all_of(promised.begin(), promised.end(), [&](const auto& p) {
        return std::find(fields.begin(), fields.end(), p) != fields.end();
      });
  if (covered || ctx.source_partitions.value_or(2) <= 1) return;
  const std::string w(what);
  diag.error(at, w + " is not covered by source.partitioned_by, so " + std::string(records) +
                     " may be spread over several partitions; weir cannot repartition yet. "
                     "Declare source.partitioned_by with fields that are all in " +
                     w +
                     " (a promise that equal values share a partition), or read a "
                     "single-partition topic");
}

}  // namespace weir::ops

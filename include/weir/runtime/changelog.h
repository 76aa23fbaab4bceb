#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weir/core/result.h"
#include "weir/kafka/client.h"
#include "weir/metrics/registry.h"
#include "weir/runtime/topology.h"
#include "weir/state/database.h"

namespace weir::runtime {

// The changelog topic of each stateful step of a pipeline:
// `<pipeline>.<step id>.changelog`, logging the store `<pipeline>.<step id>`.
struct changelog {
  std::string store;
  std::string topic;
};
std::vector<changelog> changelogs(const topology& t);

// Topic configuration of a changelog topic (docs/operations.md).
std::vector<std::pair<std::string, std::string>> changelog_topic_config();

// Creates the pipeline's missing changelog topics with `partitions`
// partitions (the source topic's) and checks the existing ones.
core::status ensure_changelog_topics(const topology& t, const kafka::client_settings& s,
                                     int partitions);

struct changelog_restore {
  bool found = false;  // the changelog held records of the partition
  // Where the restored state stands; nullopt when no progress record was
  // found (the partition's state is then empty).
  std::optional<state::progress> progress;
  std::uint64_t records = 0;  // records read
};

// Replaces the local state of each of `partitions` (every store of `t`)
// with what its changelog partitions hold: drops the partition's entries,
// reads its changelog partitions from their beginning to their end
// (read_committed; every partition at once), applies the entries in batches
// and writes the progress record last. Leaves the local state of a partition
// alone when the changelogs hold nothing for it. One result per partition,
// in order.
core::result<std::vector<changelog_restore>> restore_from_changelog(
    const topology& t, state::database& db, kafka::partition_reader& reader,
    const std::vector<std::int32_t>& partitions, metrics::counter* restored);

// True when every changelog partition of `partition` is empty.
core::result<bool> changelog_empty(const topology& t, kafka::partition_reader& reader,
                                   std::int32_t partition);

}  // namespace weir::runtime

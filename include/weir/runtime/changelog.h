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
// Those of the steps of stage `only` when given.
std::vector<changelog> changelogs(const topology& t, const stage* only = nullptr);

// Topic configuration of a changelog topic (docs/operations.md).
std::vector<std::pair<std::string, std::string>> changelog_topic_config();
// Topic configuration of a repartition topic.
std::vector<std::pair<std::string, std::string>> repartition_topic_config();

// Creates the pipeline's missing changelog and repartition topics with
// `partitions` partitions (the source topic's) and checks the existing ones.
core::status ensure_internal_topics(const topology& t, const kafka::client_settings& s,
                                    int partitions);

struct changelog_restore {
  bool found = false;  // the changelog held records of the partition
  // Where the restored state stands; nullopt when no progress record was
  // found (the partition's state is then empty).
  std::optional<state::progress> progress;
  std::uint64_t records = 0;  // records read
};

// Replaces the local state of each of `partitions` of stage `st` (every
// store of its steps)
// with what its changelog partitions hold: drops the partition's entries,
// reads its changelog partitions from their beginning to their end
// (read_committed; every partition at once), applies the entries in batches
// and writes the progress record last. Leaves the local state of a partition
// alone when the changelogs hold nothing for it. One result per partition,
// in order.
core::result<std::vector<changelog_restore>> restore_from_changelog(
    const topology& t, const stage& st, state::database& db, kafka::partition_reader& reader,
    const std::vector<std::int32_t>& partitions, metrics::counter* restored);

// True when every changelog partition of `partition` of stage `st` is empty.
core::result<bool> changelog_empty(const topology& t, const stage& st,
                                   kafka::partition_reader& reader, std::int32_t partition);

}  // namespace weir::runtime

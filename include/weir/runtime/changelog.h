#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
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
// store of its steps) with what its changelog partitions hold: drops the
// partition's entries, reads its changelog partitions from their beginning
// to their end (read_committed; every partition at once), applies the
// entries in batches and writes the progress record last. Leaves the local
// state of a partition alone when the changelogs hold nothing for it. The
// worker advances it a little at a time between polls of its consumer, so
// that a large state does not stop it from serving the group.
class changelog_restore_job {
 public:
  // Drops the local state of the partitions the changelogs hold anything of
  // and starts reading those changelog partitions.
  static core::result<std::unique_ptr<changelog_restore_job>> start(
      const topology& t, const stage& st, state::database& db, kafka::partition_reader& reader,
      std::vector<std::int32_t> partitions, metrics::counter* restored);
  // Stops reading. A job left unfinished has written no progress record:
  // the partitions trail the group's offsets and are restored again.
  ~changelog_restore_job();
  changelog_restore_job(const changelog_restore_job&) = delete;
  changelog_restore_job& operator=(const changelog_restore_job&) = delete;

  // Reads and applies records for at most about `budget`; true once every
  // partition is restored and its progress written.
  core::result<bool> step(std::chrono::milliseconds budget);
  const std::vector<std::int32_t>& partitions() const noexcept { return partitions_; }
  // One per partition, in order; complete once step() returned true.
  const std::vector<changelog_restore>& results() const noexcept { return out_; }

 private:
  struct reading;
  changelog_restore_job(const topology& t, const stage& st, state::database& db,
                        kafka::partition_reader& reader, std::vector<std::int32_t> partitions,
                        metrics::counter* restored);
  core::status begin();
  core::status finish();

  const topology& topology_;
  const stage& stage_;
  state::database& db_;
  kafka::partition_reader& reader_;
  std::vector<std::int32_t> partitions_;
  metrics::counter* restored_;
  std::vector<changelog_restore> out_;
  std::vector<reading> reads_;
  std::size_t left_ = 0;
  bool reading_ = false;  // the reader is assigned the changelog partitions
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_read_;
};

// True when every changelog partition of `partition` of stage `st` is empty.
core::result<bool> changelog_empty(const topology& t, const stage& st,
                                   kafka::partition_reader& reader, std::int32_t partition);

}  // namespace weir::runtime

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/core/result.h"
#include "weir/state/database.h"

namespace weir::state {

// Changelog topics: each store `<pipeline>.<step id>` logs its checkpointed
// changes to the compacted topic `<pipeline>.<step id>.changelog`, partition
// for partition with the input. A record is a store entry (key = store key,
// value = its bytes; no value = deleted) or the partition's progress at the
// checkpoint the entries before it belong to (key progress_key()).
std::string changelog_topic(std::string_view store_name);

// The key of progress records. Store keys begin with partition_prefix (a
// partition number below 2^31), so they never begin with 0xff.
std::string changelog_progress_key();

struct changelog_record {
  enum class kind : std::uint8_t { put, erase, progress } what = kind::put;
  std::string key;
  std::string value;  // put: the entry's bytes; progress: encode_progress
};

// The changelog record of one write_batch op (its value is absent for erase).
changelog_record to_changelog(const write_batch::op& op);
// A progress record.
changelog_record progress_record(const progress& pr);
// Reads a consumed changelog record; an error for a progress record that
// cannot be decoded.
core::result<changelog_record> from_changelog(std::string_view key,
                                              std::optional<std::string_view> value);

// Applies one partition's changelog records, in log order, to one store.
// Entries are written in batches once a progress record follows them; the
// entries after the last progress record (a checkpoint whose records were
// not all delivered, under at_least_once) are discarded when they are at
// most `pending_limit`, so the store matches the progress it reports. The
// caller drops the partition's entries from the store first.
class changelog_applier {
 public:
  changelog_applier(database& db, const store& s, std::size_t batch_ops = 10000,
                    std::size_t pending_limit = 200000);
  core::status add(std::string_view key, std::optional<std::string_view> value);
  // Writes what remains complete; returns the number of trailing entries
  // discarded.
  core::result<std::size_t> finish();
  // The last progress record read, if any.
  const std::optional<progress>& last_progress() const noexcept { return progress_; }
  // Records read (entries and progress).
  std::uint64_t records() const noexcept { return records_; }

 private:
  core::status write_pending();

  database& db_;
  const store& store_;
  std::size_t batch_ops_;
  std::size_t pending_limit_;
  std::vector<changelog_record> pending_;
  std::optional<progress> progress_;
  std::uint64_t records_ = 0;
};

}  // namespace weir::state

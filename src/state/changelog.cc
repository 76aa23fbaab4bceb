#include "weir/state/changelog.h"

#include "state/codec.h"

namespace weir::state {

std::string changelog_topic(std::string_view store_name) {
  return std::string(store_name) + ".changelog";
}

std::string changelog_progress_key() {
  return std::string("\xff", 1) + "weir.progress";
}

changelog_record to_changelog(const write_batch::op& op) {
  changelog_record r;
  r.key = op.key;
  switch (op.what) {
    case write_batch::op::kind::put:
      r.what = changelog_record::kind::put;
      r.value = op.value;
      break;
    case write_batch::op::kind::erase:
      r.what = changelog_record::kind::erase;
      break;
    case write_batch::op::kind::progress: {
      // Progress ops carry their own key; the changelog has one progress key.
      r.what = changelog_record::kind::progress;
      r.key = changelog_progress_key();
      r.value = op.value;
      break;
    }
  }
  return r;
}

changelog_record progress_record(const progress& pr) {
  return changelog_record{changelog_record::kind::progress, changelog_progress_key(),
                          encode_progress(pr)};
}

core::result<changelog_record> from_changelog(std::string_view key,
                                              std::optional<std::string_view> value) {
  changelog_record r;
  r.key = std::string(key);
  if (key == changelog_progress_key()) {
    if (!value || !decode_progress(*value)) {
      return core::error{core::errc::internal, "changelog progress record cannot be decoded"};
    }
    r.what = changelog_record::kind::progress;
    r.value = std::string(*value);
    return r;
  }
  if (value) {
    r.what = changelog_record::kind::put;
    r.value = std::string(*value);
  } else {
    r.what = changelog_record::kind::erase;
  }
  return r;
}

changelog_applier::changelog_applier(database& db, const store& s, std::size_t batch_ops,
                                     std::size_t pending_limit)
    : db_(db), store_(s), batch_ops_(batch_ops), pending_limit_(pending_limit) {}

core::status changelog_applier::write_pending() {
  write_batch batch;
  for (auto& r : pending_) {
    if (r.what == changelog_record::kind::put)
      batch.put(store_, r.key, r.value);
    else
      batch.erase(store_, r.key);
    if (batch.size() >= batch_ops_) {
      if (auto st = db_.write(batch); !st) return st;
      batch = write_batch();
    }
  }
  pending_.clear();
  if (!batch.empty()) return db_.write(batch);
  return {};
}

core::status changelog_applier::add(std::string_view key, std::optional<std::string_view> value) {
  auto r = from_changelog(key, value);
  if (!r) return r.err();
  ++records_;
  if (r->what == changelog_record::kind::progress) {
    progress_ = decode_progress(r->value);
    return write_pending();
  }
  pending_.push_back(std::move(*r));
  // A compacted log keeps only the last progress record: long runs of
  // entries without one are old, complete checkpoints.
  if (pending_.size() > pending_limit_) return write_pending();
  return {};
}

core::result<std::size_t> changelog_applier::finish() {
  std::size_t dropped = pending_.size();
  pending_.clear();
  return dropped;
}

}  // namespace weir::state

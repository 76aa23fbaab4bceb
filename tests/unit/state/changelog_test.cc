#include <catch2/catch.hpp>

#include <map>

#include "weir/state/changelog.h"

using namespace weir::state;

namespace {

// A store's entries of partition 0, without the prefix.
std::map<std::string, std::string> entries(const store& s) {
  std::map<std::string, std::string> out;
  REQUIRE(s.scan(partition_prefix(0), [&](auto k, auto v) {
             out[std::string(k.substr(4))] = std::string(v);
             return true;
           }).ok());
  return out;
}

std::string k(const char* key) {
  return partition_prefix(0) + key;
}

}  // namespace

TEST_CASE("changelog topics are named after the store") {
  CHECK(changelog_topic("orders.per-user") == "orders.per-user.changelog");
}

TEST_CASE("write_batch ops become changelog records: puts, tombstones, progress") {
  auto db = open_memory();
  auto s = db->open_store("p.w");
  REQUIRE(s.ok());
  write_batch b;
  b.put(**s, k("a"), "1");
  b.erase(**s, k("b"));
  b.put_progress({"p", "in", 0}, {42, 1000});
  REQUIRE(b.ops().size() == 3);

  auto put = to_changelog(b.ops()[0]);
  CHECK(put.what == changelog_record::kind::put);
  CHECK(put.key == k("a"));
  CHECK(put.value == "1");
  auto erase = to_changelog(b.ops()[1]);
  CHECK(erase.what == changelog_record::kind::erase);
  CHECK(erase.key == k("b"));
  auto pr = to_changelog(b.ops()[2]);
  CHECK(pr.what == changelog_record::kind::progress);
  CHECK(pr.key == changelog_progress_key());
  CHECK(pr.value == progress_record({42, 1000}).value);
  // A store key begins with a partition number below 2^31: never the progress key.
  CHECK(static_cast<unsigned char>(changelog_progress_key()[0]) == 0xff);
  CHECK(static_cast<unsigned char>(partition_prefix(0x7fffffff)[0]) < 0xff);

  auto back = from_changelog(pr.key, std::string_view(pr.value));
  REQUIRE(back.ok());
  CHECK(back->what == changelog_record::kind::progress);
  auto tomb = from_changelog(k("b"), std::nullopt);
  REQUIRE(tomb.ok());
  CHECK(tomb->what == changelog_record::kind::erase);
  CHECK_FALSE(from_changelog(changelog_progress_key(), std::string_view("short")).ok());
  CHECK_FALSE(from_changelog(changelog_progress_key(), std::nullopt).ok());
}

TEST_CASE("restore applies entries up to the last progress record, later values win") {
  auto db = open_memory();
  auto s = db->open_store("p.w");
  REQUIRE(s.ok());
  changelog_applier a(*db, **s, /*batch_ops=*/2);
  auto prog1 = progress_record({10, 100}).value;
  auto prog2 = progress_record({20, 200}).value;
  REQUIRE(a.add(k("a"), std::string_view("1")).ok());
  REQUIRE(a.add(k("b"), std::string_view("2")).ok());
  REQUIRE(a.add(k("c"), std::string_view("3")).ok());
  REQUIRE(a.add(changelog_progress_key(), std::string_view(prog1)).ok());
  REQUIRE(a.add(k("a"), std::string_view("10")).ok());
  REQUIRE(a.add(k("b"), std::nullopt).ok());
  REQUIRE(a.add(changelog_progress_key(), std::string_view(prog2)).ok());
  // A checkpoint cut short (at_least_once, crash during the flush).
  REQUIRE(a.add(k("c"), std::string_view("lost")).ok());
  REQUIRE(a.add(k("d"), std::string_view("lost")).ok());
  auto dropped = a.finish();
  REQUIRE(dropped.ok());
  CHECK(*dropped == 2);
  CHECK(a.records() == 9);
  REQUIRE(a.last_progress());
  CHECK(a.last_progress()->next_offset == 20);
  CHECK(a.last_progress()->watermark == 200);
  CHECK(entries(**s) == std::map<std::string, std::string>{{"a", "10"}, {"c", "3"}});
}

TEST_CASE("restore of a compacted log: long runs without progress are written") {
  auto db = open_memory();
  auto s = db->open_store("p.w");
  REQUIRE(s.ok());
  changelog_applier a(*db, **s, /*batch_ops=*/3, /*pending_limit=*/4);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(a.add(k(std::to_string(i).c_str()), std::string_view("v")).ok());
  }
  auto pr = progress_record({7, 70}).value;
  REQUIRE(a.add(changelog_progress_key(), std::string_view(pr)).ok());
  REQUIRE(a.finish().ok());
  CHECK(entries(**s).size() == 10);
  CHECK(a.last_progress()->next_offset == 7);
}

TEST_CASE("restore of a log without progress keeps nothing") {
  auto db = open_memory();
  auto s = db->open_store("p.w");
  REQUIRE(s.ok());
  changelog_applier a(*db, **s);
  REQUIRE(a.add(k("a"), std::string_view("1")).ok());
  auto dropped = a.finish();
  REQUIRE(dropped.ok());
  CHECK(*dropped == 1);
  CHECK_FALSE(a.last_progress());
  CHECK(entries(**s).empty());
}

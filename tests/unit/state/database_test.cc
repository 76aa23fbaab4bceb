#include <catch2/catch.hpp>

#include <filesystem>

#include "weir/state/database.h"

using namespace weir::state;

namespace {
std::string temp_dir() {
  auto p = std::filesystem::temp_directory_path() /
           ("weir-state-test-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
  std::filesystem::remove_all(p);
  return p.string();
}

void exercise(database& db) {
  auto s = db.open_store("pipe.win");
  REQUIRE(s.ok());
  write_batch b;
  b.put(**s, partition_prefix(0) + "a", "1");
  b.put(**s, partition_prefix(0) + "b", "2");
  b.put(**s, partition_prefix(1) + "a", "3");
  b.put_progress({"pipe", "in", 0}, {42, 1000});
  REQUIRE(db.write(b).ok());

  std::vector<std::string> seen;
  REQUIRE((*s)->scan(partition_prefix(0),
                     [&](auto k, auto v) {
                       seen.push_back(std::string(k.substr(4)) + "=" + std::string(v));
                       return true;
                     })
              .ok());
  CHECK(seen == std::vector<std::string>{"a=1", "b=2"});
  auto pr = db.read_progress({"pipe", "in", 0});
  REQUIRE(pr.ok());
  REQUIRE(pr->has_value());
  CHECK((*pr)->next_offset == 42);
  CHECK((*pr)->watermark == 1000);
  CHECK_FALSE(db.read_progress({"pipe", "in", 1})->has_value());

  write_batch del;
  del.erase(**s, partition_prefix(0) + "a");
  REQUIRE(db.write(del).ok());
  CHECK_FALSE((*s)->get(partition_prefix(0) + "a")->has_value());
  REQUIRE(db.drop_partition(**s, partition_prefix(0)).ok());
  CHECK_FALSE((*s)->get(partition_prefix(0) + "b")->has_value());
  CHECK(*(*s)->get(partition_prefix(1) + "a") == std::optional<std::string>("3"));
}
}  // namespace

TEST_CASE("rocksdb database: batches, scans, progress, drop") {
  auto dir = temp_dir();
  auto db = open_rocksdb(dir);
  REQUIRE(db.ok());
  exercise(**db);
  std::filesystem::remove_all(dir);
}

TEST_CASE("rocksdb database keeps stores and progress across reopen") {
  auto dir = temp_dir();
  {
    auto db = open_rocksdb(dir);
    REQUIRE(db.ok());
    auto s = (*db)->open_store("p.w");
    write_batch b;
    b.put(**s, "k", "v");
    b.put_progress({"p", "t", 3}, {7, -5});
    REQUIRE((*db)->write(b).ok());
  }
  auto db = open_rocksdb(dir);
  REQUIRE(db.ok());
  auto s = (*db)->open_store("p.w");
  CHECK(*(*s)->get("k") == std::optional<std::string>("v"));
  auto pr = (*db)->read_progress({"p", "t", 3});
  CHECK((*pr)->next_offset == 7);
  CHECK((*pr)->watermark == -5);
  std::filesystem::remove_all(dir);
}

TEST_CASE("memory database has the same contract") {
  auto db = open_memory();
  exercise(*db);
}

TEST_CASE("ordered encoding sorts like the numbers") {
  std::string a, b, c;
  append_i64_ordered(a, -10);
  append_i64_ordered(b, 0);
  append_i64_ordered(c, 10);
  CHECK(a < b);
  CHECK(b < c);
  CHECK(read_i64_ordered(a) == -10);
  CHECK(read_i64_ordered(c) == 10);
}

#include <catch2/catch.hpp>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <thread>

#include "weir/state/database.h"

using namespace weir::state;

namespace {
constexpr std::size_t mib = std::size_t{1} << 20;

std::string temp_dir() {
  auto p = std::filesystem::temp_directory_path() /
           ("weir-memory-test-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
  std::filesystem::remove_all(p);
  return p.string();
}
}  // namespace

TEST_CASE("memtable size per store leaves room for many stores") {
  CHECK(write_buffer_size_for(0) == 1 * mib);
  CHECK(write_buffer_size_for(2 * mib) == 1 * mib);
  CHECK(write_buffer_size_for(16 * mib) == 4 * mib);
  CHECK(write_buffer_size_for(64 * mib) == 16 * mib);
  CHECK(write_buffer_size_for(1024 * mib) == 16 * mib);
}

TEST_CASE("rocksdb memtables of every store stay within the write-buffer budget") {
  auto dir = temp_dir();
  rocksdb_options limits;
  limits.block_cache_bytes = 16 * mib;
  limits.write_buffer_bytes = 4 * mib;
  auto db = open_rocksdb(dir, limits);
  REQUIRE(db.ok());
  CHECK((*db)->memory().memtable_bytes < 1 * mib);

  // Twenty stores, 32 MiB written in all: without the shared budget each
  // store would keep up to two full memtables.
  std::vector<store*> stores;
  for (int i = 0; i < 20; ++i) {
    auto s = (*db)->open_store("pipe.step-" + std::to_string(i));
    REQUIRE(s.ok());
    stores.push_back(*s);
  }
  const std::string value(1024, 'v');
  for (int round = 0; round < 16; ++round) {
    write_batch b;
    for (auto* s : stores) {
      for (int k = 0; k < 100; ++k) {
        b.put(*s, partition_prefix(0) + std::to_string(round) + "-" + std::to_string(k), value);
      }
    }
    REQUIRE((*db)->write(b).ok());
  }
  // The budget is soft: flushes run in the background, and every store keeps
  // one active memtable. Bound: the budget plus one memtable per store, far
  // below the 32 MiB written (two full memtables per store without it).
  const std::size_t bound =
      limits.write_buffer_bytes + stores.size() * write_buffer_size_for(limits.write_buffer_bytes);
  auto usage = (*db)->memory();
  for (int i = 0; i < 100 && usage.memtable_bytes > bound; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    usage = (*db)->memory();
  }
  CHECK(usage.memtable_bytes <= bound);
  // Memtables are charged to the shared block cache (which is not strict, so
  // it grows past its capacity when memtables overshoot their budget).
  CHECK(usage.block_cache_bytes > 0);

  // Everything written is still readable (from memtables or flushed files).
  auto v = stores.back()->get(partition_prefix(0) + "0-0");
  REQUIRE(v.ok());
  CHECK(v->value_or("") == value);
  db->reset();
  std::filesystem::remove_all(dir);
}

TEST_CASE("the in-memory database reports no engine memory") {
  auto db = open_memory();
  CHECK(db->memory().block_cache_bytes == 0);
  CHECK(db->memory().memtable_bytes == 0);
}

TEST_CASE("the state cache budget is shared evenly by the caches that joined it") {
  cache_budget none;
  CHECK_FALSE(none.bounded());
  cache_budget b(100 * mib);
  CHECK(b.share() == 100 * mib);
  b.join();
  b.join();
  b.join();
  b.join();
  CHECK(b.share() == 25 * mib);
  b.leave();
  b.leave();
  CHECK(b.share() == 50 * mib);
  b.add_used(300);
  b.add_used(-100);
  CHECK(b.used() == 200);
}

TEST_CASE("every store of a database hands out the database's cache budget") {
  auto mem = open_memory(8 * mib);
  auto s = mem->open_store("p.w");
  REQUIRE(s.ok());
  REQUIRE((*s)->cache() == &mem->cache());
  CHECK(mem->cache().limit() == 8 * mib);
  CHECK_FALSE(open_memory()->cache().bounded());

  auto dir = temp_dir();
  rocksdb_options limits;
  limits.state_cache_bytes = 16 * mib;
  auto db = open_rocksdb(dir, limits);
  REQUIRE(db.ok());
  auto r = (*db)->open_store("p.w");
  REQUIRE(r.ok());
  REQUIRE((*r)->cache() == &(*db)->cache());
  CHECK((*db)->cache().limit() == 16 * mib);
  db->reset();
  std::filesystem::remove_all(dir);
}

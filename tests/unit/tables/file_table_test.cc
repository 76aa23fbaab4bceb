#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "tables/file_watcher.h"
#include "weir/core/json.h"
#include "weir/metrics/registry.h"
#include "weir/tables/table_set.h"

using namespace weir;

namespace {

// A directory of its own under the system's temporary directory.
struct temp_dir {
  temp_dir() {
    path = std::filesystem::temp_directory_path() /
           ("weir-tables-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
  static inline int counter = 0;
};

// Replaces the file by rename, as a writer of a reference file should.
void write_file(const std::filesystem::path& p, const std::string& text) {
  auto tmp = p;
  tmp += ".tmp";
  std::ofstream(tmp, std::ios::binary) << text;
  std::filesystem::rename(tmp, p);
}

config::table_spec csv_spec(const std::filesystem::path& p) {
  config::table_spec s;
  s.name = "fx";
  s.source = config::table_source::file;
  s.file = p.filename().string();
  s.path = p.string();
  s.key = "currency";
  s.file_format = config::table_file_format::csv;
  return s;
}

std::string lookup(const tables::table& t, const std::string& key) {
  core::value scratch;
  auto r = t.find(key, scratch);
  REQUIRE(r);
  return *r ? core::to_json(**r) : "null";
}

double metric(const metrics::registry& r, const std::string& series) {
  const std::string text = r.render();
  auto at = text.find(series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 1));
}

}  // namespace

TEST_CASE("a file table reloads when its file changes and keeps its rows when a reload fails") {
  temp_dir dir;
  const auto file = dir.path / "fx.csv";
  write_file(file, "currency,rate\nUSD,0.9\n");
  metrics::registry reg;
  tables::table t(csv_spec(file));
  auto probe = tables::table_probe::make(reg, "p", "fx");
  tables::file_loader loader(t, "p", probe);
  REQUIRE(loader.load());
  CHECK(lookup(t, "USD") == R"({"currency":"USD","rate":0.9})");
  CHECK(!loader.check());  // unchanged

  write_file(file, "currency,rate\nUSD,0.95\nGBP,1.2\n");
  CHECK(loader.check());
  CHECK(lookup(t, "USD") == R"({"currency":"USD","rate":0.95})");
  CHECK(lookup(t, "GBP") == R"({"currency":"GBP","rate":1.2})");
  CHECK(metric(reg, R"(weir_table_rows{pipeline="p",table="fx"})") == 2);

  // A broken file: the old rows stay, the failure is counted once.
  write_file(file, "currency,rate\nUSD,0.97\nGBP,\"1.3\n");
  CHECK(!loader.check());
  CHECK(!loader.check());
  CHECK(lookup(t, "USD") == R"({"currency":"USD","rate":0.95})");
  CHECK(metric(reg, R"(weir_table_errors_total{pipeline="p",table="fx",error="reload_failed"})") ==
        1);
  CHECK(t.memory_rows() == 2);

  // A removed file keeps the rows too; its return is loaded.
  std::filesystem::remove(file);
  CHECK(!loader.check());
  CHECK(lookup(t, "GBP") == R"({"currency":"GBP","rate":1.2})");
  write_file(file, "currency,rate\nEUR,1\n");
  CHECK(loader.check());
  CHECK(lookup(t, "GBP") == "null");
  CHECK(lookup(t, "EUR") == R"({"currency":"EUR","rate":1})");
  CHECK(metric(reg, R"(weir_table_updates_total{pipeline="p",table="fx"})") == 2);
  CHECK(metric(reg, R"(weir_table_errors_total{pipeline="p",table="fx",error="reload_failed"})") ==
        2);
}

TEST_CASE("a missing or broken file at start is an error that names it") {
  temp_dir dir;
  const auto file = dir.path / "fx.csv";
  metrics::registry reg;
  tables::table t(csv_spec(file));
  tables::file_loader loader(t, "p", tables::table_probe::make(reg, "p", "fx"));
  auto st = loader.load();
  REQUIRE(!st);
  CHECK(st.err().message ==
        "table 'fx': file " + file.string() + " does not exist or cannot be read");
  write_file(file, "currency,rate\nUSD\n");
  st = loader.load();
  REQUIRE(!st);
  CHECK(st.err().message == "table 'fx': " + file.string() + ":2: expected 2 fields, found 1");
}

TEST_CASE("a started table set watches its files on its own thread") {
  temp_dir dir;
  const auto file = dir.path / "fx.csv";
  write_file(file, "currency,rate\nUSD,0.9\n");
  metrics::registry reg;
  tables::table_set set({csv_spec(file)});
  tables::run_settings rs;
  rs.pipeline = "p";
  rs.metrics = &reg;
  rs.file_poll_interval = std::chrono::milliseconds(10);
  REQUIRE(set.start(rs));
  CHECK(set.bootstrapping().empty());
  const auto* t = set.find_table("fx");
  REQUIRE(t);
  core::value scratch;
  write_file(file, "currency,rate\nUSD,0.5\n");
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {
    auto r = t->find("USD", scratch);
    seen = r && *r && (*r)->find("rate")->as_number() == 0.5;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(seen);
  set.stop();
}

TEST_CASE("tables in memory are filled and emptied row by row (weir test)") {
  config::table_spec s;
  s.name = "m";
  tables::table_set set({s});
  auto* t = set.get("m");
  REQUIRE(t);
  core::value row = *core::parse_json(R"({"category":"grocery"})");
  t->put("m1", &row);
  CHECK(lookup(*t, "m1") == R"({"category":"grocery"})");
  t->put("m1", nullptr);
  CHECK(lookup(*t, "m1") == "null");
  t->put("m2", &row);
  set.clear();
  CHECK(lookup(*t, "m2") == "null");
  CHECK(set.names() == "m");
  CHECK(set.find_table("x") == nullptr);
}

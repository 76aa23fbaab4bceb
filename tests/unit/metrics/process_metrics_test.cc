#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "weir/metrics/registry.h"

namespace {

// Sample name (with labels) to value, for the lines that are not comments.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.empty() || l[0] == '#') continue;
    const auto sp = l.rfind(' ');
    out[l.substr(0, sp)] = std::strtod(l.c_str() + sp + 1, nullptr);
  }
  return out;
}

}  // namespace

TEST_CASE("process metrics are present and plausible") {
  weir::metrics::registry r;
  weir::metrics::add_process_metrics(r, "1.2.3");
  // Burn a little CPU so the counter has something to show.
  volatile double x = 0;
  for (int i = 0; i < 5'000'000; ++i) x = x + i;

  const auto text = r.render();
  const auto s = samples(text);
  INFO(text);

  REQUIRE(s.count("process_resident_memory_bytes"));
  CHECK(s.at("process_resident_memory_bytes") > 1024 * 1024);
  REQUIRE(s.count("process_virtual_memory_bytes"));
  CHECK(s.at("process_virtual_memory_bytes") >= s.at("process_resident_memory_bytes"));

  REQUIRE(s.count("process_cpu_seconds_total"));
  CHECK(s.at("process_cpu_seconds_total") >= 0);
  CHECK(s.at("process_cpu_seconds_total") < 3600);
  CHECK(text.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);

  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  REQUIRE(s.count("process_start_time_seconds"));
  CHECK(s.at("process_start_time_seconds") <= now + 1);
  CHECK(s.at("process_start_time_seconds") > now - 3600);

  REQUIRE(s.count("process_open_fds"));
  CHECK(s.at("process_open_fds") >= 3);  // stdin, stdout, stderr
  REQUIRE(s.count("process_max_fds"));
  CHECK(s.at("process_max_fds") >= s.at("process_open_fds"));

  CHECK(s.count("weir_build_info{version=\"1.2.3\"}"));
  CHECK(s.at("weir_build_info{version=\"1.2.3\"}") == 1);
}

TEST_CASE("adding process metrics twice keeps one series each") {
  weir::metrics::registry r;
  weir::metrics::add_process_metrics(r, "1.2.3");
  weir::metrics::add_process_metrics(r, "1.2.3");
  const auto text = r.render();
  std::size_t n = 0;
  for (auto p = text.find("\nprocess_open_fds "); p != std::string::npos;
       p = text.find("\nprocess_open_fds ", p + 1)) {
    ++n;
  }
  CHECK(n == 1);
}

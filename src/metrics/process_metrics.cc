#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "weir/metrics/registry.h"

namespace weir::metrics {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// Fields of /proc/self/stat after the parenthesised command name, which may
// itself hold spaces and parentheses. Element 0 is field 3 (state) of proc(5).
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(std::move(f));
  return fields;
}

// Field `n` (1-based, as numbered in proc(5)) of /proc/self/stat.
double stat_field(const std::vector<std::string>& fields, std::size_t n) {
  if (n < 3 || n - 3 >= fields.size()) return nan;
  try {
    return std::stod(fields[n - 3]);
  } catch (...) {
    return nan;
  }
}

double clock_ticks() {
  const long t = sysconf(_SC_CLK_TCK);
  return t > 0 ? static_cast<double>(t) : 100.0;
}

// Page `i` of /proc/self/statm (0 = virtual size, 1 = resident), in bytes.
double statm_bytes(int i) {
  std::ifstream in("/proc/self/statm");
  double pages[2] = {nan, nan};
  if (!(in >> pages[0] >> pages[1])) return nan;
  return pages[i] * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double cpu_seconds() {
  const auto f = stat_fields();
  return (stat_field(f, 14) + stat_field(f, 15)) / clock_ticks();  // utime + stime
}

double open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return nan;
  double n = 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n > 0 ? n - 1 : 0;  // not counting the descriptor that listed them
}

double max_fds() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return nan;
  if (r.rlim_cur == RLIM_INFINITY) return std::numeric_limits<double>::infinity();
  return static_cast<double>(r.rlim_cur);
}

// Boot time plus the process start in ticks since boot; now if /proc says
// nothing usable.
double start_time_seconds() {
  double boot = nan;
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      in >> boot;
      break;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  const double since_boot = stat_field(stat_fields(), 22) / clock_ticks();
  if (!std::isnan(boot) && !std::isnan(since_boot)) return boot + since_boot;
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

void add_process_metrics(registry& r, const std::string& version) {
  r.add_callback_gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
                       [] { return statm_bytes(1); });
  r.add_callback_gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {},
                       [] { return statm_bytes(0); });
  r.add_callback_counter("process_cpu_seconds_total",
                         "Total user and system CPU time spent in seconds.", {}, cpu_seconds);
  r.add_gauge("process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.")
      .set(start_time_seconds());
  r.add_callback_gauge("process_open_fds", "Number of open file descriptors.", {}, open_fds);
  r.add_callback_gauge("process_max_fds", "Maximum number of open file descriptors.", {}, max_fds);
  r.add_gauge("weir_build_info", "Always 1; the version of weir as a label.",
              {{"version", version}})
      .set(1);
}

}  // namespace weir::metrics

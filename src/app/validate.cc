#include <algorithm>
#include <cstdio>

#include "app/commands.h"
#include "app/load.h"

namespace weir::app {

int validate(const std::vector<std::string>& files) {
  int failures = 0;
  for (const auto& file : files) {
    metrics::registry scratch;
    auto loaded = load(file, {}, scratch);
    if (loaded.problems.empty()) {
      std::printf("%s: ok\n", file.c_str());
    } else {
      for (const auto& p : loaded.problems) std::printf("%s\n", p.c_str());
      ++failures;
    }
  }
  std::fflush(stdout);
  return failures ? 1 : 0;
}

}  // namespace weir::app

#include <algorithm>
#include <cstdio>

#include "app/commands.h"
#include "app/load.h"
#include "weir/config/test_spec.h"
#include "weir/runtime/test_driver.h"

namespace weir::app {
namespace {

void print_indented(const std::string& text, const char* indent) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::printf("%s%.*s\n", indent, static_cast<int>(eol - pos), text.data() + pos);
    pos = eol + 1;
  }
}

}  // namespace

// Output contract (CI reads it): one `PASS file: name` or `FAIL file: name`
// line per case, `file: no tests` for a file without cases, and last a line
// `N passed, M failed`. A file that does not load, or whose tests have errors,
// prints its problems as FILE:LINE:COL: message and counts as one failure.
int test(const std::vector<std::string>& files) {
  int passed = 0;
  int failed = 0;
  for (const auto& file : files) {
    metrics::registry registry;  // per file: record errors are read from it
    auto loaded = load(file, {}, registry);
    if (!loaded.topology) {
      for (const auto& p : loaded.problems) std::printf("%s\n", p.c_str());
      std::printf("FAIL %s: the pipeline has errors, no test ran\n", file.c_str());
      ++failed;
      continue;
    }
    config::diagnostics diag(file);
    auto cases = config::parse_tests(loaded.topology->spec, diag);
    if (!diag.ok()) {
      auto list = diag.list();
      std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
        return a.at.line != b.at.line ? a.at.line < b.at.line : a.at.column < b.at.column;
      });
      for (const auto& d : list) std::printf("%s\n", d.format().c_str());
      std::printf("FAIL %s: the tests have errors, no test ran\n", file.c_str());
      ++failed;
      continue;
    }
    if (cases.empty()) {
      std::printf("%s: no tests\n", file.c_str());
      continue;
    }
    runtime::test_driver driver(*loaded.topology);
    for (const auto& c : cases) {
      auto r = driver.run(c);
      if (r.passed) {
        std::printf("PASS %s: %s\n", file.c_str(), c.name.c_str());
        ++passed;
      } else {
        std::printf("FAIL %s: %s\n", file.c_str(), c.name.c_str());
        print_indented(r.report, "    ");
        ++failed;
      }
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  std::fflush(stdout);
  return failed ? 1 : 0;
}

}  // namespace weir::app

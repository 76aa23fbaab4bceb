// Writes the accumulator target's seed corpus: for each aggregate kind
// (aggregates.h), the encoded state of an empty accumulator and of one that
// took a few records, each file prefixed with the kind's index byte.
// Usage: fuzz_accumulator_seeds DIR

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "aggregates.h"
#include "weir/core/json.h"

int main(int argc, char** argv) {
  using namespace weir;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const auto& texts = fuzz::aggregate_texts();
  const std::vector<core::value> values = {core::value{3.0},   core::value{1.5}, core::value{-2.0},
                                           core::value{1e300}, core::value{},    core::value{"x"},
                                           core::value{"é\n"}, core::value{3.0}, core::value{42.0}};
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto agg = fuzz::make_aggregate(texts[i]);
    if (!agg) {
      std::fprintf(stderr, "cannot build %s\n", texts[i].c_str());
      return 1;
    }
    for (int filled = 0; filled < 2; ++filled) {
      auto acc = agg->create();
      if (filled) {
        core::millis t = 0;
        for (const auto& v : values) {
          if (agg->check(v).ok()) acc->add(v, t++);
        }
      }
      std::string bytes(1, static_cast<char>(i));
      acc->encode(bytes);
      std::string name = texts[i].substr(0, texts[i].find('(')) + "-" + std::to_string(i) +
                         (filled ? "-filled" : "-empty");
      std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    }
  }
  return 0;
}

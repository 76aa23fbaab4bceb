// Fuzz target: record decoding (core/json). Parses the input as a record
// payload; whatever parses must survive a write/parse round trip unchanged:
// parse(write(parse(x))) == parse(x), and writing that again gives the same
// text. A violation aborts, so libFuzzer keeps the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "weir/core/json.h"

namespace {

[[noreturn]] void fail(const char* what, std::string_view input, const std::string& written) {
  std::fprintf(stderr, "json round trip: %s\n  input:   %.*s\n  written: %s\n", what,
               static_cast<int>(input.size() > 512 ? 512 : input.size()), input.data(),
               written.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weir;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto first = core::parse_json(text);
  if (!first.ok()) return 0;

  std::string written;
  core::write_json(*first, written);
  auto second = core::parse_json(written);
  if (!second.ok()) fail("written JSON does not parse", text, written);
  if (!(*second == *first)) fail("value changed", text, written);

  std::string rewritten = core::to_json(*second);
  if (rewritten != written)
    fail("written text is not stable", text, written + "\n  again:   " + rewritten);
  return 0;
}

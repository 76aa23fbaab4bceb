// Fuzz target: stored aggregate state (ops/aggregate). Window and session
// state read back from the state store holds encoded accumulators; this
// decodes fuzz input as one. The first byte picks the aggregate kind
// (aggregates.h), the rest is the state. Properties checked:
//   - decode never crashes; on false, the accumulator and the input view are
//     unchanged (it still encodes like a fresh one);
//   - on true, result() and encode work, the encoded bytes decode again to the
//     same result and re-encode identically, and the decoded state can still
//     take records and merges.
// A violated property aborts, so libFuzzer keeps the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aggregates.h"
#include "weir/core/json.h"

namespace {

using namespace weir;

[[noreturn]] void fail(const char* what, const std::string& aggregate) {
  std::fprintf(stderr, "accumulator state (%s): %s\n", aggregate.c_str(), what);
  std::abort();
}

struct built {
  std::string text;
  std::unique_ptr<ops::aggregate> agg;
};

std::vector<built> build_all() {
  std::vector<built> out;
  for (const auto& text : fuzz::aggregate_texts()) {
    auto agg = fuzz::make_aggregate(text);
    if (!agg) {
      std::fprintf(stderr, "accumulator fuzz target: cannot build %s\n", text.c_str());
      std::abort();
    }
    out.push_back({text, std::move(agg)});
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<built> aggregates = build_all();
  if (size == 0) return 0;
  const built& b = aggregates[data[0] % aggregates.size()];
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string fresh;
  b.agg->create()->encode(fresh);

  auto acc = b.agg->create();
  std::string_view in = bytes;
  if (!acc->decode(in)) {
    if (in.data() != bytes.data() || in.size() != bytes.size())
      fail("failed decode moved the input", b.text);
    std::string after;
    acc->encode(after);
    if (after != fresh) fail("failed decode changed the accumulator", b.text);
    return 0;
  }
  if (in.data() < bytes.data() || in.data() + in.size() != bytes.data() + bytes.size()) {
    fail("decode left the input view outside the input", b.text);
  }

  const std::string result = core::to_json(acc->result());
  std::string encoded;
  acc->encode(encoded);

  auto again = b.agg->create();
  std::string_view encoded_in = encoded;
  if (!again->decode(encoded_in)) fail("encoded state does not decode", b.text);
  if (!encoded_in.empty()) fail("decode of encoded state left bytes over", b.text);
  if (core::to_json(again->result()) != result)
    fail("result changed through encode/decode", b.text);
  std::string reencoded;
  again->encode(reencoded);
  if (reencoded != encoded) fail("encoding is not stable", b.text);

  // Decoded state must stay usable: records and merges after a restore.
  const core::value args[] = {core::value{}, core::value{2.5}, core::value{-7.0}, core::value{"s"}};
  core::millis t = -3;
  for (const auto& arg : args) {
    if (b.agg->check(arg).ok()) acc->add(arg, t++);
  }
  acc->merge(*again);
  again->merge(*acc);
  (void)core::to_json(acc->result());
  (void)core::to_json(again->result());
  std::string merged;
  again->encode(merged);
  return 0;
}

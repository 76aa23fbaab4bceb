// Fuzz target: pipeline files. Loads the input as a pipeline file (YAML
// reading, ${VAR} interpolation, the non-step sections), reads its inline
// tests, and builds the topology, so every step's parser in ops/ and every
// expression in the file is fuzzed too. Problems must come back as
// diagnostics; a crash, sanitizer report or uncaught exception is a bug.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "weir/config/pipeline.h"
#include "weir/config/test_spec.h"
#include "weir/core/json.h"
#include "weir/metrics/registry.h"
#include "weir/runtime/topology.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weir;
  const std::string text(reinterpret_cast<const char*>(data), size);
  config::diagnostics diag("fuzz.yaml");
  auto spec = config::load_pipeline_text(text, diag);
  if (!spec) return 0;

  if (spec->root) (void)core::to_json(config::to_value(*spec->root));
  (void)config::late_topics(*spec);
  // As `weir validate` and `weir run` do: the tests' problems are the file's,
  // and the topology is built with the same diagnostics (build_topology
  // relies on earlier problems being in `diag` to skip an invalid spec).
  auto cases = config::parse_tests(*spec, diag);
  // A registry per input: metric labels come from the file (the pipeline
  // name), so a shared one would grow with the corpus.
  metrics::registry registry;
  auto topology = runtime::build_topology(std::move(*spec), std::nullopt, registry, diag);
  for (const auto& d : diag.list()) (void)d.format();
  return 0;
}

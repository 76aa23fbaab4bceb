#pragma once

#include "weir/config/diagnostics.h"
#include "weir/config/pipeline.h"

namespace weir::ops {

// Reports every field that a step, a sink key or a sink condition reads
// where it cannot exist, with its position (`weir validate`). Only what is
// certain is reported: source records are schemaless JSON, so a field is
// known to be missing only after a `map` (or `explode ... as`) removed it,
// or after a `window`, whose results hold exactly the group fields,
// window_start, window_end, the aggregates and, when not emitting `final`,
// revision and final. Call once the steps and sinks compiled without
// problems: it reads their nodes and assumes they are well-formed.
void check_field_uses(const config::pipeline_spec& spec, config::diagnostics& diag);

}  // namespace weir::ops

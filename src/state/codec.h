#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "weir/state/database.h"

namespace weir::state {

// Progress records share one encoding between the store implementations.
std::string encode_progress_key(const partition_id& p);
std::string encode_progress(const progress& pr);
std::optional<progress> decode_progress(std::string_view v);

}  // namespace weir::state

#pragma once

#include <string>
#include <utility>
#include <vector>

#include "weir/core/result.h"

namespace weir::app {

using kafka_property = std::pair<std::string, std::string>;

// Turns --kafka-property arguments (KEY=VALUE) into librdkafka properties.
// A value may name where the real one is, so that secrets stay out of
// pipeline files, command lines and process listings:
//   env:NAME   the environment variable NAME (an error if it is unset)
//   file:PATH  the file's contents, without one trailing newline (an error if
//              it cannot be read)
// Any other value is taken as it is. Error messages name the key and, for
// env: and file:, the variable or path — never a value, which may be a secret.
core::result<std::vector<kafka_property>> resolve_kafka_properties(
    const std::vector<std::string>& arguments);

}  // namespace weir::app

#pragma once

#include <string>

// Payloads shared by the micro-benchmarks: a typical event of about 150 bytes,
// the shape of a payment or page-view record, with a nested object.
namespace weir::bench {

inline const std::string typical_event =
    R"({"event_id":"0f8fad5b-d9cb-469f","user":"user-004217","status":"approved",)"
    R"("amount":42.5,"fee":0.35,"currency":"EUR","country":"DE",)"
    R"("device":{"os":"ios","app":"4.2.1"},"ts":1714567890123})";

}  // namespace weir::bench

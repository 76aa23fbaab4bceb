#pragma once

#include <string>

// Payloads shared by the micro-benchmarks: a typical event of about 150 bytes,
// the shape of a payment or page-view record, with a nested object.
namespace weir::bench {

inline const std::string typical_event =
    R"({"id":"9f3c1a7e","user":"user-004217","status":"approved","amount":42.5,)"
    R"("fee":0.35,"currency":"EUR","device":{"os":"ios","app":"4.2.1"},"ts":1714567890123})";

}  // namespace weir::bench

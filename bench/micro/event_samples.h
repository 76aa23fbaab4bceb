#pragma once

#include <string>

// Payloads shared by the micro-benchmarks: a typical event of about 150 bytes,
// the shape of a payment or page-view record, with a nested object.
namespace weir::bench {

inline const std::string typical_event =
    R"({"id":"9f3c1a7e","user":"user-004217","status":"approved","amount":42.5,)"
    R"("fee":0.35,"currency":"EUR","device":{"os":"ios","app":"4.2.1"},"ts":1714567890123})";

// A Nexmark bid as the end-to-end benchmark loads it (bench/e2e/generator.cc,
// bench/WORKLOADS.md): integers, two short strings and two longer than the
// small-string buffer.
inline const std::string nexmark_bid =
    R"({"type":"bid","ts":1700000012345,"auction":1004567,"bidder":1000123,"price":23457,)"
    R"("channel":"Google","url":"https://www.nexmark.com/google/item.htm?query=1&channel_id=40917",)"
    R"("extra":"qwhfnbzkeuxotpdlrvcmgsaiyjqwhfnb"})";

}  // namespace weir::bench

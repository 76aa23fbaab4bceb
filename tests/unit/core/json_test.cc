#include <catch2/catch.hpp>

#include "weir/core/json.h"

using weir::core::parse_json;
using weir::core::to_json;
using weir::core::value;

TEST_CASE("json round-trips objects in key order") {
  auto v = parse_json(R"({"b":1,"a":[true,null,"x\n"],"c":{"d":2.5}})");
  REQUIRE(v.ok());
  CHECK(to_json(*v) == R"({"b":1,"a":[true,null,"x\n"],"c":{"d":2.5}})");
}

TEST_CASE("json numbers: integers without fraction, others shortest") {
  CHECK(to_json(value{3.0}) == "3");
  CHECK(to_json(value{-0.1}) == "-0.1");
  CHECK(to_json(value{1e300}) == "1e+300");
  CHECK(to_json(value{1700000000123.0}) == "1700000000123");
}

TEST_CASE("json errors carry invalid_json and the offset") {
  auto v = parse_json(R"({"a":)");
  REQUIRE_FALSE(v.ok());
  CHECK(v.err().code == weir::core::errc::invalid_json);
  CHECK(v.err().message.find("offset 5") != std::string::npos);
  auto trailing = parse_json(R"({"a":1} x)");
  REQUIRE_FALSE(trailing.ok());
  CHECK(trailing.err().message.find("after the JSON value") != std::string::npos);
}

TEST_CASE("json duplicate keys keep the last value") {
  auto v = parse_json(R"({"a":1,"a":2})");
  REQUIRE(v.ok());
  CHECK(to_json(*v) == R"({"a":2})");
}

TEST_CASE("json numbers are exact and finite") {
  CHECK(to_json(*parse_json("[0.1, 1e-7, 0e+300, -0, 9007199254740993]")) ==
        "[0.1,1e-07,0,0,9007199254740992]");
  auto big = parse_json("[1.7976931348625457e308]");
  REQUIRE_FALSE(big.ok());
  CHECK(big.err().message == "number out of range: 1.7976931348625457e308");
  CHECK_FALSE(parse_json("1e309").ok());
}

#include <catch2/catch.hpp>

#include "weir/core/time.h"

using namespace weir::core;

TEST_CASE("durations parse with units") {
  CHECK(*parse_duration("250ms") == 250);
  CHECK(*parse_duration("5s") == 5000);
  CHECK(*parse_duration("10m") == 600000);
  CHECK(*parse_duration("1h") == 3600000);
  CHECK(*parse_duration("2d") == 172800000);
  CHECK(*parse_duration("0") == 0);
  CHECK_FALSE(parse_duration("5").ok());
  CHECK_FALSE(parse_duration("5 s").ok());
  CHECK_FALSE(parse_duration("-5s").ok());
  CHECK_FALSE(parse_duration("abc").ok());
  CHECK(parse_duration("5x").err().message == "invalid duration '5x': unknown unit 'x'");
}

TEST_CASE("durations format in the largest exact unit") {
  CHECK(format_duration(90000) == "90s");
  CHECK(format_duration(120000) == "2m");
  CHECK(format_duration(1500) == "1500ms");
}

TEST_CASE("iso8601 parses and formats") {
  CHECK(*parse_iso8601("1970-01-01T00:00:00Z") == 0);
  CHECK(*parse_iso8601("2024-05-01T12:00:00.250Z") == 1714564800250);
  CHECK(*parse_iso8601("2024-05-01T14:00:00+02:00") == 1714564800000);
  CHECK(*parse_iso8601("1969-12-31T23:59:59Z") == -1000);
  CHECK(format_iso8601(1714564800250) == "2024-05-01T12:00:00.250Z");
  CHECK(format_iso8601(-1000) == "1969-12-31T23:59:59.000Z");
  CHECK_FALSE(parse_iso8601("2024-13-01T00:00:00Z").ok());
  CHECK_FALSE(parse_iso8601("yesterday").ok());
}

TEST_CASE("floor_div aligns negative times down") {
  CHECK(floor_div(-1, 10) == -1);
  CHECK(floor_div(-10, 10) == -1);
  CHECK(floor_div(9, 10) == 0);
}

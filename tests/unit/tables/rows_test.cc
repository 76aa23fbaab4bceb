#include <catch2/catch.hpp>

#include "weir/core/json.h"
#include "weir/tables/rows.h"

using namespace weir;
using weir::tables::parse_csv;
using weir::tables::parse_jsonl;

namespace {

std::string row_json(const tables::row_map& rows, const std::string& key) {
  auto it = rows.find(key);
  return it == rows.end() ? "missing" : core::to_json(it->second);
}

std::string error_of(const core::result<tables::row_map>& r) {
  return r ? "parsed" : r.err().message;
}

}  // namespace

TEST_CASE("CSV rows are objects in header order, numbers typed when they parse") {
  auto rows = parse_csv(
      "currency,rate,name,zip\n"
      "USD,0.92,US dollar,007\n"
      "GBP,1.17,\"Pound, sterling\",\"10\"\r\n"
      "\n"
      "JPY,-6e-3,,0\n",
      "currency", "fx.csv");
  REQUIRE(rows);
  CHECK(rows->size() == 3);
  CHECK(row_json(*rows, "USD") ==
        R"({"currency":"USD","rate":0.92,"name":"US dollar","zip":"007"})");
  CHECK(row_json(*rows, "GBP") ==
        R"({"currency":"GBP","rate":1.17,"name":"Pound, sterling","zip":"10"})");
  CHECK(row_json(*rows, "JPY") == R"({"currency":"JPY","rate":-0.006,"name":null,"zip":0})");
}

TEST_CASE("CSV quoting: doubled quotes, newlines in a field, numeric keys by their JSON text") {
  auto rows = parse_csv(
      "id,note\n"
      "1,\"say \"\"hi\"\"\"\n"
      "2,\"two\nlines\"\n"
      "3.50,plain\n",
      "id", "t.csv");
  REQUIRE(rows);
  CHECK(row_json(*rows, "1") == R"({"id":1,"note":"say \"hi\""})");
  CHECK(row_json(*rows, "2") == R"({"id":2,"note":"two\nlines"})");
  CHECK(row_json(*rows, "3.5") == R"({"id":3.5,"note":"plain"})");
}

TEST_CASE("a later CSV row with the same key replaces the earlier one") {
  auto rows = parse_csv("k,v\na,1\na,2\n", "k", "t.csv");
  REQUIRE(rows);
  CHECK(rows->size() == 1);
  CHECK(row_json(*rows, "a") == R"({"k":"a","v":2})");
}

TEST_CASE("CSV problems name the file and line") {
  CHECK(error_of(parse_csv("", "k", "t.csv")) ==
        "t.csv:1: the file is empty: a CSV table needs a header row");
  CHECK(error_of(parse_csv("a,b\n1,2\n", "k", "t.csv")) ==
        "t.csv:1: no column 'k' (the table's key)");
  CHECK(error_of(parse_csv("k,k\n", "k", "t.csv")) == "t.csv:1: duplicate column 'k'");
  CHECK(error_of(parse_csv("k,v\na,1\nb,2,3\n", "k", "t.csv")) ==
        "t.csv:3: expected 2 fields, found 3");
  CHECK(error_of(parse_csv("k,v\na,1\n\"b,2\n", "k", "t.csv")) ==
        "t.csv:3: a quoted field is not closed");
  CHECK(error_of(parse_csv("k,v\na,x\"y\n", "k", "t.csv")) ==
        "t.csv:2: a quote inside an unquoted field (quote the whole field)");
  CHECK(error_of(parse_csv("k,v\n\"a\"b,1\n", "k", "t.csv")) ==
        "t.csv:2: unexpected text after a closing quote");
  CHECK(error_of(parse_csv("k,v\na,1\n,2\n", "k", "t.csv")) == "t.csv:3: empty key in column 'k'");
  // Lines count inside quoted fields too.
  CHECK(error_of(parse_csv("k,v\na,\"x\ny\"\nb\n", "k", "t.csv")) ==
        "t.csv:4: expected 2 fields, found 1");
}

TEST_CASE("JSON Lines rows are keyed by a field, blank lines skipped") {
  auto rows = parse_jsonl(
      "{\"id\": \"m1\", \"category\": \"grocery\", \"risk\": {\"score\": 0.1}}\n"
      "\n"
      "{\"id\": 2, \"category\": \"fuel\"}\n",
      "id", "m.jsonl");
  REQUIRE(rows);
  CHECK(row_json(*rows, "m1") == R"({"id":"m1","category":"grocery","risk":{"score":0.1}})");
  CHECK(row_json(*rows, "2") == R"({"id":2,"category":"fuel"})");
  auto nested = parse_jsonl("{\"d\": {\"id\": \"x\"}}\n", "d.id", "m.jsonl");
  REQUIRE(nested);
  CHECK(nested->count("x") == 1);
}

TEST_CASE("JSON Lines problems name the file and line") {
  CHECK(
      error_of(parse_jsonl("{\"id\":1}\n{\"id\":\n", "id", "m.jsonl")).starts_with("m.jsonl:2: "));
  CHECK(error_of(parse_jsonl("{\"id\":1}\n\n[1]\n", "id", "m.jsonl")) ==
        "m.jsonl:3: a line must be a JSON object, found array");
  CHECK(error_of(parse_jsonl("{\"x\":1}\n", "id", "m.jsonl")) ==
        "m.jsonl:1: no key: field 'id' is missing or null");
}

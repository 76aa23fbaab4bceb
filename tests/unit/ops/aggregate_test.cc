#include <catch2/catch.hpp>

#include <random>

#include "weir/config/pipeline.h"
#include "weir/core/json.h"
#include "weir/ops/aggregate.h"

using namespace weir;

namespace {

// One aggregate parsed from `aggregate: {NAME: TEXT}` in a YAML document; the
// value starts at line 2, column 6 for a three-letter name.
struct parsed_aggregate {
  explicit parsed_aggregate(const std::string& text, const std::string& name = "agg")
      : diag("a.yaml") {
    root = config::parse_yaml("aggregate:\n  " + name + ": " + text + "\n", diag);
    REQUIRE(diag.ok());
    const config::node* map = root->get("aggregate");
    REQUIRE(map);
    REQUIRE(map->entries.size() == 1);
    agg = ops::parse_aggregate(map->entries[0], diag);
  }
  std::vector<std::string> problems() const {
    std::vector<std::string> out;
    for (const auto& d : diag.list()) out.push_back(d.format());
    return out;
  }

  config::diagnostics diag;
  std::shared_ptr<const config::node> root;
  std::unique_ptr<ops::aggregate> agg;
};

std::unique_ptr<ops::aggregate> make(const std::string& text) {
  parsed_aggregate p(text);
  INFO(text);
  REQUIRE(p.problems().empty());
  REQUIRE(p.agg);
  return std::move(p.agg);
}

// The one problem reported for `aggregate: {agg: TEXT}` (or {NAME: TEXT}).
std::string problem(const std::string& text, const std::string& name = "agg") {
  parsed_aggregate p(text, name);
  auto list = p.problems();
  INFO(text);
  REQUIRE(list.size() == 1);
  CHECK_FALSE(p.agg);
  return list[0];
}

core::value json(std::string_view text) {
  auto v = core::parse_json(text);
  REQUIRE(v.ok());
  return std::move(*v);
}

struct input {
  core::value arg;
  core::millis time = 0;
};

// Adds `values` (arguments as JSON texts) at times 0, 1, 2, ...
void add_all(const ops::aggregate& a, ops::accumulator& acc,
             const std::vector<std::string>& values) {
  core::millis t = 0;
  for (const auto& text : values) {
    core::value v = json(text);
    REQUIRE(a.check(v).ok());
    acc.add(v, t++);
  }
}

void add_inputs(const ops::aggregate& a, ops::accumulator& acc, const std::vector<input>& in) {
  for (const auto& i : in) {
    REQUIRE(a.check(i.arg).ok());
    acc.add(i.arg, i.time);
  }
}

std::string result_of(const ops::aggregate& a, const std::vector<std::string>& values) {
  auto acc = a.create();
  add_all(a, *acc, values);
  return core::to_json(acc->result());
}

std::string result_of(const std::string& text, const std::vector<std::string>& values) {
  return result_of(*make(text), values);
}

std::string check_error(const std::string& text, std::string_view arg) {
  auto a = make(text);
  auto s = a->check(json(arg));
  REQUIRE_FALSE(s.ok());
  CHECK(s.err().code == core::errc::type_error);
  return s.err().message;
}

// Encodes `acc`, decodes into a fresh accumulator and checks the result and
// the bytes; then checks that every shorter prefix is rejected without
// moving the input.
void check_round_trip(const ops::aggregate& a, const ops::accumulator& acc) {
  std::string bytes;
  acc.encode(bytes);
  auto copy = a.create();
  std::string_view in = bytes;
  REQUIRE(copy->decode(in));
  CHECK(in.empty());
  CHECK(core::to_json(copy->result()) == core::to_json(acc.result()));
  std::string again;
  copy->encode(again);
  CHECK(again == bytes);

  // Truncations: all of them for small state, a spread for large.
  const std::size_t step = bytes.size() > 4096 ? bytes.size() / 512 : 1;
  for (std::size_t n = 0; n < bytes.size(); n += step) {
    auto fresh = a.create();
    std::string_view cut(bytes.data(), n);
    INFO("prefix of " << n << " of " << bytes.size() << " bytes");
    CHECK_FALSE(fresh->decode(cut));
    CHECK(cut.size() == n);
  }

  // Two states back to back decode one after the other.
  std::string two = bytes + bytes;
  std::string_view both = two;
  auto first = a.create();
  auto second = a.create();
  REQUIRE(first->decode(both));
  REQUIRE(second->decode(both));
  CHECK(both.empty());
  CHECK(core::to_json(second->result()) == core::to_json(acc.result()));
}

}  // namespace

TEST_CASE("aggregate: count() counts records, count(x) non-null values", "[aggregate]") {
  CHECK(result_of("count()", {}) == "0");
  CHECK(result_of("count()", {"null", "null", "1"}) == "3");
  CHECK(result_of("count(x)", {}) == "0");
  CHECK(result_of("count(x)", {"null", "1", "\"a\"", "[]", "false", "null"}) == "4");
  auto a = make("count(x)");
  CHECK(a->check(json("{}")).ok());
  CHECK(a->argument()->source() == "x");
  CHECK_FALSE(make("count()")->argument());
}

TEST_CASE("aggregate: sum and avg of numbers, nulls skipped", "[aggregate]") {
  CHECK(result_of("sum(x)", {"1", "2.5", "null", "-4"}) == "-0.5");
  CHECK(result_of("avg(x)", {"1", "2", "null", "6"}) == "3");
  CHECK(result_of("sum(x)", {}) == "null");
  CHECK(result_of("avg(x)", {"null", "null"}) == "null");
  CHECK(result_of("sum(x)", {"0"}) == "0");
  // Compensated: ten times 0.1 is 1, not 0.9999999999999999.
  CHECK(result_of("sum(x)", std::vector<std::string>(10, "0.1")) == "1");
  CHECK(result_of("avg(x)", {"0.5", "0.25"}) == "0.375");
  // An overflow is null, like every non-finite number.
  CHECK(result_of("sum(x)", {"1e308", "1e308"}) == "null");

  CHECK(check_error("sum(amount)", R"("12")") == "sum(amount) needs a number, found string");
  CHECK(check_error("avg(a.b * 2)", "true") == "avg(a.b * 2) needs a number, found boolean");
  CHECK(check_error("sum(amount)", "[1]") == "sum(amount) needs a number, found array");
  CHECK(make("sum(x)")->check(json("null")).ok());
}

TEST_CASE("aggregate: the argument is the compiled expression", "[aggregate]") {
  auto a = make("sum(amount * 2)");
  REQUIRE(a->argument());
  auto acc = a->create();
  for (const char* rec : {R"({"amount": 3})", R"({"amount": null})", "{}", R"({"amount": 4.5})"}) {
    core::value r = json(rec);
    auto v = a->argument()->eval(expr::scope{&r, nullptr});
    REQUIRE(v.ok());
    REQUIRE(a->check(*v).ok());
    acc->add(*v, 0);
  }
  CHECK(core::to_json(acc->result()) == "15");
  CHECK(a->name() == "agg");
}

TEST_CASE("aggregate: min and max over numbers and strings", "[aggregate]") {
  CHECK(result_of("min(x)", {"3", "-1", "null", "2"}) == "-1");
  CHECK(result_of("max(x)", {"3", "-1", "null", "2"}) == "3");
  CHECK(result_of("min(x)", {R"("b")", R"("a")", R"("ab")"}) == R"("a")");
  CHECK(result_of("max(x)", {R"("b")", R"("a")", R"("ab")"}) == R"("b")");
  // Bytewise: "Z" < "a" < "é" (0xC3 0xA9).
  CHECK(result_of("max(x)", {R"("a")", R"("é")", R"("Z")"}) == R"("é")");
  CHECK(result_of("min(x)", {R"("a")", R"("é")", R"("Z")"}) == R"("Z")");
  // Numbers sort before strings.
  CHECK(result_of("min(x)", {R"("a")", "5", R"("0")"}) == "5");
  CHECK(result_of("max(x)", {R"("a")", "5", R"("0")"}) == R"("a")");
  CHECK(result_of("min(x)", {}) == "null");
  CHECK(result_of("max(x)", {"null"}) == "null");

  CHECK(check_error("min(x)", "true") == "min(x) needs a number or a string, found boolean");
  CHECK(check_error("max(x)", "{}") == "max(x) needs a number or a string, found object");
  CHECK(make("max(x)")->check(json(R"("s")")).ok());
}

TEST_CASE("aggregate: first and last by event time, ties by arrival", "[aggregate]") {
  auto first = make("first(x)");
  auto last = make("last(x)");
  const std::vector<input> in = {
      {json(R"("b")"), 20}, {json(R"("a")"), 10}, {json("null"), 5},    {json(R"("a2")"), 10},
      {json(R"([1])"), 30}, {json("null"), 40},   {json(R"("z")"), 30},
  };
  auto f = first->create();
  auto l = last->create();
  add_inputs(*first, *f, in);
  add_inputs(*last, *l, in);
  CHECK(core::to_json(f->result()) == R"("a")");
  CHECK(core::to_json(l->result()) == R"("z")");
  CHECK(core::to_json(first->create()->result()) == "null");
  CHECK(first->check(json("{}")).ok());

  // Merge: the other accumulator's records count as later arrivals.
  auto f1 = first->create();
  auto f2 = first->create();
  f1->add(json("1"), 100);
  f2->add(json("2"), 100);
  f1->merge(*f2);
  CHECK(core::to_json(f1->result()) == "1");
  auto l1 = last->create();
  auto l2 = last->create();
  l1->add(json("1"), 100);
  l2->add(json("2"), 100);
  l1->merge(*l2);
  CHECK(core::to_json(l1->result()) == "2");
  auto l3 = last->create();
  l3->add(json("3"), 99);
  l1->merge(*l3);
  CHECK(core::to_json(l1->result()) == "2");
  auto empty = last->create();
  l1->merge(*empty);
  CHECK(core::to_json(l1->result()) == "2");
}

TEST_CASE("aggregate: count_distinct is exact for small windows", "[aggregate]") {
  CHECK(result_of("count_distinct(x)", {}) == "0");
  CHECK(result_of("count_distinct(x)", {"null"}) == "0");
  // 1 and "1" differ; 1 and 1.0 are the same number.
  CHECK(result_of("count_distinct(x)",
                  {"1", R"("1")", "1.0", "null", "[1]", "[1]", R"({"a":1})"}) == "4");
  std::vector<std::string> values;
  for (int i = 0; i < 512; ++i) values.push_back(std::to_string(i % 300));
  CHECK(result_of("count_distinct(x)", values) == "300");
  values.clear();
  for (int i = 0; i < 512; ++i) values.push_back(R"("user-)" + std::to_string(i) + R"(")");
  CHECK(result_of("count_distinct(x)", values) == "512");
}

TEST_CASE("aggregate: percentile of numbers", "[aggregate]") {
  std::vector<std::string> one_to_hundred;
  for (int i = 1; i <= 100; ++i) one_to_hundred.push_back(std::to_string(i));
  CHECK(result_of("percentile(x, 0)", one_to_hundred) == "1");
  CHECK(result_of("percentile(x, 1)", one_to_hundred) == "100");
  CHECK(result_of("percentile(x, 0.5)", {"7"}) == "7");  // clamped to the observed range
  CHECK(result_of("percentile(x, 0.5)", {}) == "null");
  CHECK(result_of("percentile(x, 0.5)", {"null"}) == "null");
  CHECK(result_of("percentile(x, 0.5)", {"0", "0", "0", "5"}) == "0");

  auto near = [](const std::string& got, double want) {
    double v = std::stod(got);
    INFO(got << " vs " << want);
    CHECK(std::fabs(v - want) <= 0.01 * std::fabs(want) + 1e-12);
  };
  // Rank floor(q * (n - 1)), 0-based: the median of 1..100 is 50.
  near(result_of("percentile(x, 0.5)", one_to_hundred), 50);
  near(result_of("percentile(x, 0.95)", one_to_hundred), 95);
  near(result_of("percentile(x, 0.99)", one_to_hundred), 99);
  near(result_of("percentile(x, 0.25)", {"-10", "-20", "-30", "-40", "0", "10"}), -30);
  near(result_of("percentile(x, 0.75)", {"-10", "-20", "-30", "-40", "0", "10"}), -10);

  CHECK(check_error("percentile(x, 0.5)", R"("3")") ==
        "percentile(x, 0.5) needs a number, found string");
}

TEST_CASE("aggregate: top_k orders by count, then by JSON text", "[aggregate]") {
  CHECK(result_of("top_k(x, 2)", {}) == "[]");
  CHECK(result_of("top_k(x, 3)",
                  {R"("b")", R"("a")", "null", R"("b")", "1", R"("c")", R"("a")", R"("b")"}) ==
        R"([{"value":"b","count":3},{"value":"a","count":2},{"value":"c","count":1}])");
  // Equal counts: by canonical JSON text, bytewise, so "a" < 2 < [1] < {"k":1}.
  CHECK(result_of("top_k(x, 10)", {R"({"k":1})", R"([1])", R"("a")", "2", "null"}) ==
        R"([{"value":"a","count":1},{"value":2,"count":1},{"value":[1],"count":1},)"
        R"({"value":{"k":1},"count":1}])");
  CHECK(make("top_k(x, 1)")->check(json("true")).ok());
}

TEST_CASE("aggregate: collect keeps the earliest values in event-time order", "[aggregate]") {
  auto a = make("collect(x, 3)");
  auto acc = a->create();
  add_inputs(*a, *acc,
             {{json("5"), 50},
              {json("1"), 10},
              {json("null"), 0},
              {json(R"("t1")"), 30},
              {json(R"("t2")"), 30},
              {json("[9]"), 60}});
  CHECK(core::to_json(acc->result()) == R"([1,"t1","t2"])");
  acc->add(json("0"), 30);  // ties with the last kept, arrived later: dropped
  CHECK(core::to_json(acc->result()) == R"([1,"t1","t2"])");
  acc->add(json("0"), 29);
  CHECK(core::to_json(acc->result()) == R"([1,0,"t1"])");
  CHECK(result_of("collect(x, 10)", {}) == "[]");
  CHECK(result_of("collect(x, 10)", {"1", "null", "2"}) == "[1,2]");

  // Merge: ties in time keep this accumulator's values before the other's.
  auto m1 = a->create();
  auto m2 = a->create();
  m1->add(json(R"("a")"), 10);
  m1->add(json(R"("c")"), 30);
  m2->add(json(R"("b")"), 10);
  m2->add(json(R"("d")"), 5);
  m1->merge(*m2);
  CHECK(core::to_json(m1->result()) == R"(["d","a","b"])");
}

TEST_CASE("aggregate: merging parts equals adding everything to one", "[aggregate]") {
  const char* texts[] = {"count()",
                         "count(x)",
                         "sum(x)",
                         "avg(x)",
                         "min(x)",
                         "max(x)",
                         "first(x)",
                         "last(x)",
                         "count_distinct(x)",
                         "percentile(x, 0.9)",
                         "top_k(x, 5)",
                         "collect(x, 50)"};
  std::mt19937_64 rng(7);
  for (const char* text : texts) {
    auto a = make(text);
    // top_k stays within its capacity of 100 distinct values, so exact.
    const int spread = std::string_view(text).starts_with("top_k") ? 60 : 2000;
    const bool numbers = std::string_view(text).starts_with("sum") ||
                         std::string_view(text).starts_with("avg") ||
                         std::string_view(text).starts_with("percentile");
    std::vector<input> in;
    for (int i = 0; i < 3000; ++i) {
      core::value v;
      const auto pick = rng() % 10;
      if (pick == 0) {
        v = core::value{};
      } else if (numbers || pick < 6) {
        v = core::value{static_cast<double>(static_cast<int>(rng() % spread) - 500)};
      } else {
        v = core::value{"s" + std::to_string(rng() % 40)};
      }
      // Arrival order roughly follows time, with disorder and ties.
      in.push_back({std::move(v), static_cast<core::millis>(i / 3 + rng() % 5)});
    }
    auto whole = a->create();
    add_inputs(*a, *whole, in);
    // Contiguous parts in arrival order, merged in that order: as panes are.
    auto merged = a->create();
    std::size_t begin = 0;
    for (std::size_t end : {std::size_t{700}, std::size_t{1900}, std::size_t{1901}, in.size()}) {
      auto part = a->create();
      add_inputs(*a, *part,
                 std::vector<input>(in.begin() + static_cast<std::ptrdiff_t>(begin),
                                    in.begin() + static_cast<std::ptrdiff_t>(end)));
      merged->merge(*part);
      begin = end;
    }
    merged->merge(*a->create());  // merging an empty one changes nothing
    INFO(text);
    CHECK(core::to_json(merged->result()) == core::to_json(whole->result()));
    check_round_trip(*a, *whole);
    check_round_trip(*a, *a->create());
  }
}

TEST_CASE("aggregate: state round-trips, and bad state is rejected", "[aggregate]") {
  const char* texts[] = {"count()",
                         "sum(x)",
                         "min(x)",
                         "max(x)",
                         "first(x)",
                         "last(x)",
                         "count_distinct(x)",
                         "percentile(x, 0.5)",
                         "top_k(x, 2)",
                         "collect(x, 4)"};
  for (const char* text : texts) {
    INFO(text);
    auto a = make(text);
    auto acc = a->create();
    add_all(*a, *acc, {"3", "1.5", "-2", "1e300", "null"});
    if (!std::string_view(text).starts_with("sum") &&
        !std::string_view(text).starts_with("percentile")) {
      add_all(*a, *acc, {R"("x")", R"("é\n")"});
    }
    check_round_trip(*a, *acc);

    // State of another aggregate is refused.
    std::string bytes;
    make(std::string_view(text).starts_with("count(") ? "sum(x)" : "count()")
        ->create()
        ->encode(bytes);
    std::string_view in = bytes;
    CHECK_FALSE(a->create()->decode(in));
    std::string_view empty;
    CHECK_FALSE(a->create()->decode(empty));
  }

  // Collect state longer than the limit, or a top_k state of another
  // capacity, is corrupt.
  auto wide = make("collect(x, 5)");
  auto acc = wide->create();
  add_all(*wide, *acc, {"1", "2", "3", "4", "5"});
  std::string bytes;
  acc->encode(bytes);
  std::string_view in = bytes;
  CHECK_FALSE(make("collect(x, 4)")->create()->decode(in));
}

TEST_CASE("aggregate: collect and first keep their times through state", "[aggregate]") {
  auto a = make("collect(x, 3)");
  auto acc = a->create();
  add_inputs(*a, *acc, {{json("1"), core::min_time}, {json("2"), -5}, {json("3"), core::max_time}});
  std::string bytes;
  acc->encode(bytes);
  auto copy = a->create();
  std::string_view in = bytes;
  REQUIRE(copy->decode(in));
  copy->add(json("0"), -6);  // lands before -5: the times survived
  CHECK(core::to_json(copy->result()) == "[1,0,2]");

  auto f = make("first(x)");
  auto fa = f->create();
  fa->add(json("1"), -100);
  bytes.clear();
  fa->encode(bytes);
  auto fb = f->create();
  in = bytes;
  REQUIRE(fb->decode(in));
  fb->add(json("2"), -101);
  CHECK(core::to_json(fb->result()) == "2");
}

TEST_CASE("aggregate: parse errors point at the problem", "[aggregate]") {
  CHECK(problem("median(x)", "s") ==
        "a.yaml:2:6: aggregate 's': unknown aggregate 'median' (known: count, sum, avg, min, "
        "max, first, last, count_distinct, percentile, top_k, collect)");
  CHECK(problem("sum()") == "a.yaml:2:8: aggregate 'agg': sum() takes one argument");
  CHECK(problem("sum(a, b)") == "a.yaml:2:15: aggregate 'agg': sum() takes one argument");
  CHECK(problem("count(a, b)", "n") ==
        "a.yaml:2:15: aggregate 'n': count() takes no argument or one");
  CHECK(problem("sum(\"x\")", "o") == "a.yaml:2:10: aggregate 'o': sum() needs a number");
  CHECK(problem("avg(lower(a))") == "a.yaml:2:12: aggregate 'agg': avg() needs a number");
  CHECK(problem("min(a == 1)") == "a.yaml:2:12: aggregate 'agg': min() needs a number or a string");
  CHECK(problem("percentile(a)") ==
        "a.yaml:2:8: aggregate 'agg': percentile() takes two arguments: percentile(expr, q)");
  CHECK(problem("percentile(a, 95)") ==
        "a.yaml:2:22: aggregate 'agg': percentile() q must be between 0 and 1, found 95");
  CHECK(problem("percentile(a, -0.5)") ==
        "a.yaml:2:22: aggregate 'agg': percentile() q must be between 0 and 1, found -0.5");
  CHECK(problem("percentile(a, q)") ==
        "a.yaml:2:22: aggregate 'agg': percentile() takes q as a number literal such as 0.95, "
        "found 'q'");
  CHECK(problem("percentile(lower(a), 0.5)") ==
        "a.yaml:2:19: aggregate 'agg': percentile() needs a number");
  CHECK(problem("top_k(a, 0)") ==
        "a.yaml:2:17: aggregate 'agg': top_k() takes k as an integer literal from 1 to 1000, "
        "found '0'");
  CHECK(problem("top_k(a, 2.5)") ==
        "a.yaml:2:17: aggregate 'agg': top_k() takes k as an integer literal from 1 to 1000, "
        "found '2.5'");
  CHECK(problem("top_k(a, 1001)") ==
        "a.yaml:2:17: aggregate 'agg': top_k() takes k as an integer literal from 1 to 1000, "
        "found '1001'");
  CHECK(problem("top_k(a)") ==
        "a.yaml:2:8: aggregate 'agg': top_k() takes two arguments: top_k(expr, k)");
  CHECK(problem("collect(a)") ==
        "a.yaml:2:8: aggregate 'agg': collect() takes two arguments: collect(expr, limit)");
  CHECK(problem("collect(a, n)") ==
        "a.yaml:2:19: aggregate 'agg': collect() takes limit as an integer literal from 1 to "
        "10000, found 'n'");
  CHECK(problem("collect(a, 10001)") ==
        "a.yaml:2:19: aggregate 'agg': collect() takes limit as an integer literal from 1 to "
        "10000, found '10001'");
  CHECK(problem("collect(a, \"3\")") ==
        "a.yaml:2:19: aggregate 'agg': collect() takes limit as an integer literal from 1 to "
        "10000, found '\"3\"'");
  // Syntax errors from the expression parser, at their column.
  CHECK(problem("sum(a") == "a.yaml:2:13: aggregate 'agg': expected ')' to close '(' at 3");
  CHECK(problem("sum(a - \"x\")") ==
        "a.yaml:2:14: aggregate 'agg': operator '-' needs numbers, got string");
  CHECK(problem("{a: 1}") ==
        "a.yaml:2:8: aggregate 'agg' must be a call such as count() or sum(x)");
  CHECK(problem("\"\"") == "a.yaml:2:8: aggregate 'agg' must be a call such as count() or sum(x)");
  // Quoted scalars point inside the quotes.
  CHECK(problem("\"sum(lower(a))\"") == "a.yaml:2:13: aggregate 'agg': sum() needs a number");

  // Accepted forms.
  for (const char* ok :
       {"count()", "count(x)", "sum(null)", "min(lower(s))", "max(x + 1)", "first($key)",
        "last([x, y])", "count_distinct(lower(u))", "percentile(x, 0)", "percentile(x, 1)",
        "percentile(x, 0.999)", "percentile(x, 5e-1)", "top_k(x, 1)", "top_k(x, 1000)",
        "collect(x, 1)", "collect(x, 10000)"}) {
    parsed_aggregate p(ok);
    INFO(ok);
    CHECK(p.problems().empty());
    CHECK(p.agg);
  }
}

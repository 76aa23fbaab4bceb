#include "expr/regex.h"

#include <re2/re2.h>

#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <string_view>

#include "weir/core/json.h"

namespace weir::expr {
namespace {

enum class regex_op : std::uint8_t { matches, extract, replace };

std::unique_ptr<const re2::RE2> compile_pattern(const function_def& f, std::string_view pattern,
                                                std::string& error) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  auto re =
      std::make_unique<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    error = "function '" + std::string(f.name) + "': invalid regular expression: " + re->error();
    return nullptr;
  }
  return re;
}

// A call to matches, regex_extract or regex_replace with its pattern compiled.
// Immutable after build; RE2 matching is safe from any number of threads.
// args[1] (the pattern literal) is kept only so that the argument indexes of
// messages stay those of the call.
struct regex_node final : node {
  regex_node(const function_def& f, type t, regex_op o, std::vector<node_ptr> a,
             std::unique_ptr<const re2::RE2> r)
      : node(t), fn(f), oper(o), args(std::move(a)), re(std::move(r)) {}

  eval_result eval(const scope& s, core::value& tmp) const override {
    // The subject, and the group or replacement when there is one.
    std::array<core::value, 2> arg_tmp;
    std::array<const core::value*, 2> v{};
    bool any_null = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (i == 1) continue;
      const std::size_t slot = i == 0 ? 0 : 1;
      auto r = args[i]->eval(s, arg_tmp[slot]);
      if (!r) return r;
      if (auto st = check_argument(fn, i, **r); !st) return st.err();
      any_null = any_null || (*r)->is_null();
      v[slot] = *r;
    }
    if (any_null) return &null_value;
    const std::string& subject = v[0]->as_string();
    const re2::StringPiece text(subject.data(), subject.size());
    switch (oper) {
      case regex_op::matches:
        return bool_value(re2::RE2::PartialMatch(text, *re));
      case regex_op::extract:
        return extract(text, v[1], tmp);
      case regex_op::replace:
        return replace(subject, v[1]->as_string(), tmp);
    }
    return &null_value;
  }

  eval_result extract(const re2::StringPiece& text, const core::value* group_arg,
                      core::value& tmp) const {
    int group = 0;
    if (group_arg) {
      auto g = group_index(fn, *re, group_arg->as_number());
      if (!g) return std::move(g).err();
      group = *g;
    }
    constexpr int inline_groups = 8;
    std::array<re2::StringPiece, inline_groups> small;
    std::vector<re2::StringPiece> big;
    re2::StringPiece* sub = small.data();
    if (group >= inline_groups) {
      big.resize(static_cast<std::size_t>(group) + 1);
      sub = big.data();
    }
    if (!re->Match(text, 0, text.size(), re2::RE2::UNANCHORED, sub, group + 1)) {
      return &null_value;
    }
    if (sub[group].data() == nullptr) return &null_value;  // an optional group that took no part
    tmp = std::string_view(sub[group].data(), sub[group].size());
    return &tmp;
  }

  eval_result replace(const std::string& subject, const std::string& rewrite,
                      core::value& tmp) const {
    std::string why;
    if (!re->CheckRewriteString(re2::StringPiece(rewrite.data(), rewrite.size()), &why)) {
      return type_error("function '" + std::string(fn.name) +
                        "' has an invalid replacement: " + why);
    }
    std::string out = subject;
    re2::RE2::GlobalReplace(&out, *re, re2::StringPiece(rewrite.data(), rewrite.size()));
    tmp = std::move(out);
    return &tmp;
  }

  // The capture group `d` names: an integer from 0 (the whole match) to the
  // number of groups in the pattern.
  static core::result<int> group_index(const function_def& f, const re2::RE2& re, double d) {
    const int groups = re.NumberOfCapturingGroups();
    if (d != std::trunc(d) || d < 0 || d > groups) {
      std::string text;
      core::write_json_number(d, text);
      return type_error("function '" + std::string(f.name) + "' needs a group from 0 to " +
                        std::to_string(groups) + " as argument 3, got " + text);
    }
    return static_cast<int>(d);
  }

  const function_def& fn;
  regex_op oper;
  std::vector<node_ptr> args;
  std::unique_ptr<const re2::RE2> re;
};

build_result build(const function_def& f, type result, regex_op o, std::vector<node_ptr> args) {
  const core::value* pattern = args[1]->constant();
  if (!pattern || !pattern->is_string()) {
    return build_error{1, "function '" + std::string(f.name) +
                              "' needs a string literal as its pattern (argument 2)"};
  }
  std::string error;
  auto re = compile_pattern(f, pattern->as_string(), error);
  if (!re) return build_error{1, std::move(error)};
  if (o == regex_op::extract && args.size() > 2) {
    if (const core::value* g = args[2]->constant(); g && g->is_number()) {
      auto index = regex_node::group_index(f, *re, g->as_number());
      if (!index) return build_error{2, index.err().message};
    }
  }
  if (o == regex_op::replace) {
    if (const core::value* r = args[2]->constant(); r && r->is_string()) {
      std::string why;
      const std::string& rewrite = r->as_string();
      if (!re->CheckRewriteString(re2::StringPiece(rewrite.data(), rewrite.size()), &why)) {
        return build_error{
            2, "function '" + std::string(f.name) + "' has an invalid replacement: " + why};
      }
    }
  }
  return std::make_unique<regex_node>(f, result, o, std::move(args), std::move(re));
}

}  // namespace

build_result build_matches(const function_def& f, type result, std::vector<node_ptr> args,
                           const compile_env&) {
  return build(f, result, regex_op::matches, std::move(args));
}

build_result build_regex_extract(const function_def& f, type result, std::vector<node_ptr> args,
                                 const compile_env&) {
  return build(f, result, regex_op::extract, std::move(args));
}

build_result build_regex_replace(const function_def& f, type result, std::vector<node_ptr> args,
                                 const compile_env&) {
  return build(f, result, regex_op::replace, std::move(args));
}

}  // namespace weir::expr

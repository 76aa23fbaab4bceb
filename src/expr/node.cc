#include "expr/node.h"

#include <array>
#include <cmath>

#include "expr/functions.h"

namespace weir::expr {

const core::value null_value;
const core::value true_value{true};
const core::value false_value{false};

core::error type_error(std::string message) {
  return core::error{core::errc::type_error, std::move(message)};
}

namespace {

// The element or member a segment selects, or null.
const core::value* step(const core::value* v, const path_segment& seg) noexcept {
  if (const auto* key = std::get_if<std::string>(&seg.step)) return v->find(*key);
  if (!v->is_array()) return nullptr;
  const auto& arr = v->as_array();
  std::int64_t i = std::get<std::int64_t>(seg.step);
  const auto size = static_cast<std::int64_t>(arr.size());
  if (i < 0) i += size;
  if (i < 0 || i >= size) return nullptr;
  return &arr[static_cast<std::size_t>(i)];
}

// Writes a computed number, or null when it is not finite (overflow, 0/0).
const core::value* number_result(double d, core::value& tmp) {
  if (!std::isfinite(d)) return &null_value;
  tmp = d;
  return &tmp;
}

std::string compare_message(op o, type a, type b) {
  std::string what = std::string("operator '") + op_name(o) + "'";
  if (a == b || a == type::boolean || a == type::array || a == type::object) {
    const type bad = a == type::number || a == type::string ? b : a;
    return needs_message(what, "numbers or strings", bad);
  }
  if (b == type::boolean || b == type::array || b == type::object) {
    return needs_message(what, "numbers or strings", b);
  }
  return what + " cannot compare " + type_name(a) + " with " + type_name(b);
}

eval_result arithmetic(op o, const core::value& a, const core::value& b, core::value& tmp) {
  if (a.is_null() || b.is_null()) return &null_value;
  if (a.is_number() && b.is_number()) {
    const double x = a.as_number();
    const double y = b.as_number();
    switch (o) {
      case op::add:
        return number_result(x + y, tmp);
      case op::sub:
        return number_result(x - y, tmp);
      case op::mul:
        return number_result(x * y, tmp);
      case op::div:
        return y == 0 ? &null_value : number_result(x / y, tmp);
      case op::mod:
        return y == 0 ? &null_value : number_result(std::fmod(x, y), tmp);
      default:
        break;
    }
  }
  const std::string what = std::string("operator '") + op_name(o) + "'";
  if (o == op::add) {
    if (a.is_string() && b.is_string()) {
      std::string s;
      s.reserve(a.as_string().size() + b.as_string().size());
      s += a.as_string();
      s += b.as_string();
      tmp = std::move(s);
      return &tmp;
    }
    for (const auto* v : {&a, &b}) {
      if (!v->is_number() && !v->is_string()) {
        return type_error(needs_message(what, "numbers or strings", type_of(*v)));
      }
    }
    return type_error(what + " needs two numbers or two strings, got " + type_name(type_of(a)) +
                      " and " + type_name(type_of(b)));
  }
  return type_error(needs_message(what, "numbers", type_of(a.is_number() ? b : a)));
}

eval_result compare(op o, const core::value& a, const core::value& b) {
  switch (o) {
    case op::eq:
      return bool_value(a == b);
    case op::ne:
      return bool_value(!(a == b));
    default:
      break;
  }
  if (a.is_null() || b.is_null()) return &false_value;
  int c = 0;
  if (a.is_number() && b.is_number()) {
    const double x = a.as_number();
    const double y = b.as_number();
    c = x < y ? -1 : (x > y ? 1 : 0);
  } else if (a.is_string() && b.is_string()) {
    c = a.as_string().compare(b.as_string());
  } else {
    return type_error(compare_message(o, type_of(a), type_of(b)));
  }
  switch (o) {
    case op::lt:
      return bool_value(c < 0);
    case op::le:
      return bool_value(c <= 0);
    case op::gt:
      return bool_value(c > 0);
    case op::ge:
      return bool_value(c >= 0);
    default:
      return bool_value(false);
  }
}

eval_result membership(op o, const core::value& x, const core::value& list) {
  const bool negate = o == op::not_in;
  if (list.is_null()) return bool_value(negate);
  if (!list.is_array()) {
    return type_error(needs_message(std::string("operator '") + op_name(o) + "'",
                                    "an array on the right", type_of(list)));
  }
  for (const auto& e : list.as_array()) {
    if (e == x) return bool_value(!negate);
  }
  return bool_value(negate);
}

// Reads an operand of and/or/not: true, false or null (as nullopt).
core::result<std::optional<bool>> truth(op o, const core::value& v) {
  if (v.is_bool()) return std::optional<bool>(v.as_bool());
  if (v.is_null()) return std::optional<bool>();
  const char* needs = o == op::logical_not ? "a boolean" : "booleans";
  return type_error(needs_message(std::string("operator '") + op_name(o) + "'", needs, type_of(v)));
}

}  // namespace

eval_result path_node::eval(const scope& s, core::value& tmp) const {
  const core::value* v = nullptr;
  if (base) {
    auto r = base->eval(s, tmp);
    if (!r) return r;
    v = *r;
  } else {
    v = s.value ? s.value : &null_value;
  }
  for (const auto& seg : segments) {
    v = step(v, seg);
    if (!v) return &null_value;
  }
  return v;
}

eval_result index_node::eval(const scope& s, core::value& tmp) const {
  auto b = base->eval(s, tmp);
  if (!b) return b;
  core::value itmp;
  auto i = index->eval(s, itmp);
  if (!i) return i;
  const core::value& key = **i;
  const core::value* v = nullptr;
  if (key.is_string()) {
    v = (*b)->find(key.as_string());
  } else if (key.is_number()) {
    const double d = key.as_number();
    if (d == std::trunc(d) && std::fabs(d) < 9007199254740992.0) {
      v = step(*b, path_segment{static_cast<std::int64_t>(d)});
    }
  } else if (!key.is_null()) {
    return type_error(needs_message("index", "a number or a string", type_of(key)));
  }
  return v ? v : &null_value;
}

eval_result meta_node::eval(const scope& s, core::value& tmp) const {
  const core::record_view* m = s.meta;
  if (!m) return &null_value;
  switch (field) {
    case meta_field::key:
      if (!m->key) return &null_value;
      tmp = *m->key;
      return &tmp;
    case meta_field::timestamp:
      tmp = m->timestamp_ms;
      return &tmp;
    case meta_field::topic:
      tmp = m->topic;
      return &tmp;
    case meta_field::partition:
      tmp = static_cast<std::int64_t>(m->partition);
      return &tmp;
    case meta_field::offset:
      tmp = m->offset;
      return &tmp;
  }
  return &null_value;
}

eval_result header_node::eval(const scope& s, core::value& tmp) const {
  if (!s.meta) return &null_value;
  const core::header_view* found = nullptr;
  for (const auto& h : s.meta->headers) {
    if (h.key == name) found = &h;
  }
  if (!found || !found->value) return &null_value;
  tmp = *found->value;
  return &tmp;
}

eval_result list_node::eval(const scope& s, core::value& tmp) const {
  core::value::array_type out;
  out.reserve(elements.size());
  for (const auto& e : elements) {
    core::value etmp;
    auto r = e->eval(s, etmp);
    if (!r) return r;
    if (*r == &etmp) {
      out.push_back(std::move(etmp));
    } else {
      out.push_back(**r);
    }
  }
  tmp = std::move(out);
  return &tmp;
}

eval_result unary_node::eval(const scope& s, core::value& tmp) const {
  core::value otmp;
  auto r = operand->eval(s, otmp);
  if (!r) return r;
  const core::value& v = **r;
  if (oper == op::logical_not) {
    auto t = truth(oper, v);
    if (!t) return std::move(t).err();
    return *t ? bool_value(!**t) : &null_value;
  }
  if (v.is_null()) return &null_value;
  if (!v.is_number()) return type_error(needs_message("operator '-'", "a number", type_of(v)));
  return number_result(-v.as_number(), tmp);
}

eval_result binary_node::eval(const scope& s, core::value& tmp) const {
  core::value ltmp;
  core::value rtmp;
  auto l = left->eval(s, ltmp);
  if (!l) return l;
  auto r = right->eval(s, rtmp);
  if (!r) return r;
  switch (oper) {
    case op::add:
    case op::sub:
    case op::mul:
    case op::div:
    case op::mod:
      return arithmetic(oper, **l, **r, tmp);
    case op::in:
    case op::not_in:
      return membership(oper, **l, **r);
    default:
      return compare(oper, **l, **r);
  }
}

eval_result logical_node::eval(const scope& s, core::value& tmp) const {
  // `and` is decided by a false operand, `or` by a true one.
  const bool decisive = oper == op::logical_or;
  auto l = left->eval(s, tmp);
  if (!l) return l;
  auto lt = truth(oper, **l);
  if (!lt) return std::move(lt).err();
  if (*lt && **lt == decisive) return bool_value(decisive);
  auto r = right->eval(s, tmp);
  if (!r) return r;
  auto rt = truth(oper, **r);
  if (!rt) return std::move(rt).err();
  if (*rt && **rt == decisive) return bool_value(decisive);
  if (!*lt || !*rt) return &null_value;
  return bool_value(!decisive);
}

eval_result coalesce_node::eval(const scope& s, core::value& tmp) const {
  for (const auto& o : operands) {
    auto r = o->eval(s, tmp);
    if (!r || !(*r)->is_null()) return r;
  }
  return &null_value;
}

eval_result if_node::eval(const scope& s, core::value& tmp) const {
  auto c = cond->eval(s, tmp);
  if (!c) return c;
  const core::value& v = **c;
  if (!v.is_bool() && !v.is_null()) {
    return type_error(needs_message("function 'if'", "a boolean as argument 1", type_of(v)));
  }
  const bool taken = v.is_bool() && v.as_bool();
  return (taken ? then_branch : else_branch)->eval(s, tmp);
}

eval_result call_node::eval(const scope& s, core::value& tmp) const {
  // Arguments live on the stack for the common short calls.
  constexpr std::size_t inline_args = 4;
  std::array<core::value, inline_args> small_tmp;
  std::array<const core::value*, inline_args> small_ptr{};
  std::vector<core::value> big_tmp;
  std::vector<const core::value*> big_ptr;
  core::value* tmps = small_tmp.data();
  const core::value** ptrs = small_ptr.data();
  if (args.size() > inline_args) {
    big_tmp.resize(args.size());
    big_ptr.resize(args.size());
    tmps = big_tmp.data();
    ptrs = big_ptr.data();
  }
  bool any_null = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto r = args[i]->eval(s, tmps[i]);
    if (!r) return r;
    ptrs[i] = *r;
    if (auto st = check_argument(fn, i, **r); !st) return st.err();
    any_null = any_null || (*r)->is_null();
  }
  if (any_null && fn.null_in_null_out) return &null_value;
  auto st = fn.eval(fn, std::span<const core::value* const>(ptrs, args.size()), tmp);
  if (!st) return st.err();
  return &tmp;
}

}  // namespace weir::expr

#include <cstdlib>
#include <unordered_set>

#include <yaml-cpp/yaml.h>

#include "weir/config/pipeline.h"

namespace weir::config {
namespace {

mark to_mark(const YAML::Mark& m) {
  if (m.is_null()) return {};
  return mark{m.line + 1, m.column + 1};
}

// Replaces ${VAR}, ${VAR:-default} and ${VAR:?message}; `$$` is a literal `$`.
// Returns false (with a diagnostic) on an unset variable without default.
bool interpolate(std::string& text, mark at, diagnostics& diag) {
  if (text.find('$') == std::string::npos) return true;
  std::string out;
  out.reserve(text.size());
  bool ok = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out.push_back(text[i]);
      continue;
    }
    if (text[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out.push_back(text[i]);
      continue;
    }
    std::size_t close = text.find('}', i + 2);
    mark here{at.line, at.column + static_cast<int>(i)};
    if (close == std::string::npos) {
      diag.error(here, "unterminated '${' in '" + text + "'");
      return false;
    }
    std::string body = text.substr(i + 2, close - i - 2);
    std::string name = body;
    std::optional<std::string> fallback;
    std::optional<std::string> required_message;
    if (auto p = body.find(":-"); p != std::string::npos) {
      name = body.substr(0, p);
      fallback = body.substr(p + 2);
    } else if (auto q = body.find(":?"); q != std::string::npos) {
      name = body.substr(0, q);
      required_message = body.substr(q + 2);
    }
    const char* env = name.empty() ? nullptr : std::getenv(name.c_str());
    if (env && *env) {
      out += env;
    } else if (fallback) {
      out += *fallback;
    } else {
      std::string why = required_message && !required_message->empty()
                            ? *required_message
                            : "environment variable " + name + " is not set";
      diag.error(here, "${" + body + "}: " + why);
      ok = false;
    }
    i = close;
  }
  // On failure the text stays as written, so no second error follows from it.
  if (ok) text = std::move(out);
  return ok;
}

node convert(const YAML::Node& y, diagnostics& diag) {
  node n;
  n.at = to_mark(y.Mark());
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      n.type = node::kind::null;
      break;
    case YAML::NodeType::Scalar: {
      n.type = node::kind::scalar;
      n.scalar = y.Scalar();
      n.quoted = y.Tag() == "!";
      const std::string before = n.scalar;
      bool single_line = before.find('\n') == std::string::npos;
      interpolate(n.scalar, n.at, diag);
      n.offsets_exact = single_line && n.scalar == before;
      break;
    }
    case YAML::NodeType::Sequence:
      n.type = node::kind::sequence;
      for (const auto& item : y) n.items.push_back(convert(item, diag));
      break;
    case YAML::NodeType::Map: {
      n.type = node::kind::map;
      std::unordered_set<std::string> seen;
      for (const auto& kv : y) {
        node::entry e{convert(kv.first, diag), convert(kv.second, diag)};
        if (!e.key.is_scalar()) {
          diag.error(e.key.at, "map keys must be plain strings");
          continue;
        }
        if (!seen.insert(e.key.scalar).second) {
          diag.error(e.key.at, "duplicate key '" + e.key.scalar + "'");
          continue;
        }
        n.entries.push_back(std::move(e));
      }
      break;
    }
  }
  return n;
}

}  // namespace

std::shared_ptr<const node> parse_yaml(const std::string& text, diagnostics& diag) {
  try {
    YAML::Node doc = YAML::Load(text);
    return std::make_shared<const node>(convert(doc, diag));
  } catch (const YAML::Exception& e) {
    diag.error(to_mark(e.mark), e.msg);
    return nullptr;
  }
}

}  // namespace weir::config

#include "app/kafka_properties.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

namespace weir::app {
namespace {

constexpr std::string_view env_prefix = "env:";
constexpr std::string_view file_prefix = "file:";

core::error bad(const std::string& message) {
  return core::error{core::errc::invalid_config, "--kafka-property " + message};
}

// Reads the whole of `path` into `out`; the error message is strerror's.
core::status read_file(const std::string& path, std::string& out) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return core::error{core::errc::io, std::strerror(errno)};
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) out.append(buf, n);
  // A directory opens, then fails to read (EISDIR).
  if (std::ferror(f.get())) return core::error{core::errc::io, std::strerror(errno)};
  return {};
}

}  // namespace

core::result<std::vector<kafka_property>> resolve_kafka_properties(
    const std::vector<std::string>& arguments) {
  std::vector<kafka_property> out;
  out.reserve(arguments.size());
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& arg = arguments[i];
    auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      // The argument itself is not printed: it may be (part of) a secret,
      // e.g. a password split at a comma by WEIR_KAFKA_PROPERTIES.
      return bad("argument " + std::to_string(i + 1) +
                 " is not KEY=VALUE (a value containing ',' must come from file:PATH)");
    }
    std::string key = arg.substr(0, eq);
    std::string_view value(arg);
    value.remove_prefix(eq + 1);
    if (value.starts_with(env_prefix)) {
      std::string name(value.substr(env_prefix.size()));
      if (name.empty()) return bad(key + ": env: needs a variable name (env:NAME)");
      const char* v = std::getenv(name.c_str());
      if (!v) return bad(key + ": environment variable " + name + " is not set");
      out.emplace_back(std::move(key), v);
    } else if (value.starts_with(file_prefix)) {
      std::string path(value.substr(file_prefix.size()));
      if (path.empty()) return bad(key + ": file: needs a path (file:PATH)");
      std::string contents;
      if (auto st = read_file(path, contents); !st)
        return bad(key + ": cannot read " + path + ": " + st.err().message);
      // Files written by editors and `echo` end with a newline that is not
      // part of the secret.
      if (contents.ends_with('\n')) {
        contents.pop_back();
        if (contents.ends_with('\r')) contents.pop_back();
      }
      out.emplace_back(std::move(key), std::move(contents));
    } else {
      out.emplace_back(std::move(key), std::string(value));
    }
  }
  return out;
}

}  // namespace weir::app

#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace weir::ops::codec {

// The binary form of aggregate state: little-endian fixed widths, LEB128
// varints and zigzag for signed integers, independent of the host. Writers
// append to a string; a reader walks a view and fails (returns false) instead
// of reading past its end, so truncated or corrupt state is rejected.

inline void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

inline void put_svarint(std::string& out, std::int64_t v) {
  put_varint(out, zigzag(v));
}

inline void put_u64(std::string& out, std::uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  out.append(buf, 8);
}

inline void put_f64(std::string& out, double d) {
  put_u64(out, std::bit_cast<std::uint64_t>(d));
}

// A length-prefixed byte string.
inline void put_bytes(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

// Reads from the front of a view. Every getter returns false, leaving the
// reader unusable, when the input ends early or is malformed.
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}

  bool u8(std::uint8_t& v) {
    if (in_.empty()) return false;
    v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }

  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      auto b = static_cast<std::uint8_t>(in_[0]);
      in_.remove_prefix(1);
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && b > 1) return false;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }

  bool svarint(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!varint(u)) return false;
    v = unzigzag(u);
    return true;
  }

  bool u64(std::uint64_t& v) {
    if (in_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(in_[static_cast<std::size_t>(i)]))
           << (8 * i);
    }
    in_.remove_prefix(8);
    return true;
  }

  bool f64(double& d) {
    std::uint64_t u = 0;
    if (!u64(u)) return false;
    d = std::bit_cast<double>(u);
    return true;
  }

  // A length-prefixed byte string; `s` points into the input.
  bool bytes(std::string_view& s) {
    std::uint64_t n = 0;
    if (!varint(n) || n > in_.size()) return false;
    s = in_.substr(0, static_cast<std::size_t>(n));
    in_.remove_prefix(static_cast<std::size_t>(n));
    return true;
  }

  // `n` raw bytes; `s` points into the input.
  bool raw(std::size_t n, std::string_view& s) {
    if (n > in_.size()) return false;
    s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }

  std::size_t remaining() const noexcept { return in_.size(); }
  std::string_view rest() const noexcept { return in_; }

 private:
  std::string_view in_;
};

}  // namespace weir::ops::codec

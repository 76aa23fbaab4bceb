#include "weir/state/database.h"

#include "state/codec.h"

namespace weir::state {

void write_batch::put(const store& s, std::string_view key, std::string_view value) {
  ops_.push_back(op{op::kind::put, &s, std::string(key), std::string(value)});
}

void write_batch::erase(const store& s, std::string_view key) {
  ops_.push_back(op{op::kind::erase, &s, std::string(key), {}});
}

void write_batch::put_progress(const partition_id& p, const progress& pr) {
  ops_.push_back(op{op::kind::progress, nullptr, encode_progress_key(p), encode_progress(pr)});
}

void append_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void append_i64_ordered(std::string& out, std::int64_t v) {
  auto u = static_cast<std::uint64_t>(v) ^ (std::uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((u >> shift) & 0xff));
}

std::int64_t read_i64_ordered(std::string_view in) {
  std::uint64_t u = 0;
  for (int i = 0; i < 8; ++i)
    u = (u << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  return static_cast<std::int64_t>(u ^ (std::uint64_t{1} << 63));
}

std::string partition_prefix(std::int32_t partition) {
  std::string out;
  append_u32(out, static_cast<std::uint32_t>(partition));
  return out;
}

std::string encode_progress_key(const partition_id& p) {
  std::string k = p.pipeline;
  k.push_back('\0');
  k += p.topic;
  k.push_back('\0');
  append_u32(k, static_cast<std::uint32_t>(p.partition));
  return k;
}

std::string encode_progress(const progress& pr) {
  std::string v;
  append_i64_ordered(v, pr.next_offset);
  append_i64_ordered(v, pr.watermark);
  return v;
}

std::optional<progress> decode_progress(std::string_view v) {
  if (v.size() != 16) return std::nullopt;
  return progress{read_i64_ordered(v.substr(0, 8)), read_i64_ordered(v.substr(8, 8))};
}

}  // namespace weir::state

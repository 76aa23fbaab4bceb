#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "weir/core/result.h"
#include "weir/metrics/registry.h"

namespace weir::metrics {

// A small HTTP/1.1 server for the scrape and probe endpoints:
//   GET /metrics  Prometheus text format of the registry
//   GET /healthz  200 "ok" while the process is alive
//   GET /readyz   200 "ready" when `ready()` is true, else 503 with its reason
// One thread of its own; neither copyable nor movable; the destructor stops it.
class http_server {
 public:
  // `ready` returns an empty string when ready, else the reason it is not.
  // It is called on the server's thread, once per /readyz request.
  using readiness = std::function<std::string()>;

  // `listen` is host:port; port 0 picks a free port (see port()). The host may
  // be a name, an IPv4 address, a bracketed IPv6 address ("[::1]:9090"), or
  // empty for every IPv4 interface. `reg` must outlive the server.
  static core::result<std::unique_ptr<http_server>> start(std::string_view listen,
                                                          const registry& reg, readiness ready);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  std::uint16_t port() const noexcept;

 private:
  struct impl;
  explicit http_server(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace weir::metrics

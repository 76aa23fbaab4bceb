#include "weir/metrics/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "weir/metrics/registry.h"

namespace {

using weir::metrics::http_server;
using weir::metrics::registry;
using namespace std::chrono_literals;

// A connected client socket, closed on destruction.
struct client {
  int fd = -1;
  client(std::uint16_t port, bool ipv6 = false) {
    fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc = -1;
    if (ipv6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(port);
      a.sin6_addr = in6addr_loopback;
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    REQUIRE(rc == 0);
  }
  ~client() { ::close(fd); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  void send(const std::string& s) const {
    REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()));
  }
  // Everything until the server closes the connection.
  std::string read_all() const {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
};

struct reply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

reply parse(const std::string& raw) {
  reply r;
  const auto end = raw.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  r.head = raw.substr(0, end + 2);
  r.body = raw.substr(end + 4);
  REQUIRE(r.head.rfind("HTTP/1.1 ", 0) == 0);
  r.status = std::stoi(r.head.substr(9, 3));
  return r;
}

reply request(std::uint16_t port, const std::string& raw, bool ipv6 = false) {
  client c(port, ipv6);
  c.send(raw);
  return parse(c.read_all());
}

reply get(std::uint16_t port, const std::string& path, const std::string& method = "GET") {
  return request(port, method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

bool has_header(const reply& r, const std::string& line) {
  return r.head.find("\r\n" + line + "\r\n") != std::string::npos;
}

// Readiness that a test flips; called on the server thread.
struct readiness_flag {
  std::mutex mu;
  std::string reason;
  std::string operator()() {
    std::lock_guard lock(mu);
    return reason;
  }
  void set(std::string r) {
    std::lock_guard lock(mu);
    reason = std::move(r);
  }
};

}  // namespace

TEST_CASE("http server answers the scrape and probe endpoints") {
  registry reg;
  reg.add_counter("weir_x_total", "X.", {{"pipeline", "p"}}).inc(3);
  readiness_flag flag;
  auto started = http_server::start("127.0.0.1:0", reg, [&] { return flag(); });
  REQUIRE(started.ok());
  auto& server = *started.value();
  const auto port = server.port();
  REQUIRE(port != 0);

  SECTION("GET /metrics") {
    const auto r = get(port, "/metrics");
    CHECK(r.status == 200);
    CHECK(has_header(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    CHECK(has_header(r, "Connection: close"));
    CHECK(has_header(r, "Content-Length: " + std::to_string(r.body.size())));
    CHECK(r.body == reg.render());
    CHECK(r.body.find("\nweir_x_total{pipeline=\"p\"} 3\n") != std::string::npos);
  }
  SECTION("a query string is ignored") {
    CHECK(get(port, "/metrics?debug=1").status == 200);
  }
  SECTION("HEAD /metrics has headers but no body") {
    const auto r = get(port, "/metrics", "HEAD");
    CHECK(r.status == 200);
    CHECK(r.body.empty());
    CHECK(has_header(r, "Content-Length: " + std::to_string(reg.render().size())));
  }
  SECTION("GET /healthz") {
    const auto r = get(port, "/healthz");
    CHECK(r.status == 200);
    CHECK(r.body == "ok\n");
  }
  SECTION("GET /readyz when ready and when not") {
    auto r = get(port, "/readyz");
    CHECK(r.status == 200);
    CHECK(r.body == "ready\n");

    flag.set("restoring state for orders-3");
    r = get(port, "/readyz");
    CHECK(r.status == 503);
    CHECK(r.body == "restoring state for orders-3\n");

    flag.set("");
    CHECK(get(port, "/readyz").status == 200);
  }
  SECTION("unknown path is 404") {
    const auto r = get(port, "/nope");
    CHECK(r.status == 404);
    CHECK(get(port, "/").status == 404);
  }
  SECTION("other methods are 405") {
    const auto r = get(port, "/metrics", "POST");
    CHECK(r.status == 405);
    CHECK(has_header(r, "Allow: GET, HEAD"));
    CHECK(get(port, "/healthz", "DELETE").status == 405);
  }
  SECTION("malformed request is 400") {
    CHECK(request(port, "hello\r\n\r\n").status == 400);
    CHECK(request(port, "GET metrics HTTP/1.1\r\n\r\n").status == 400);
    CHECK(request(port, "GET /metrics\r\n\r\n").status == 400);
  }
  SECTION("bare newlines are accepted") {
    CHECK(request(port, "GET /healthz HTTP/1.0\n\n").status == 200);
  }
  SECTION("a request larger than 8 KiB is refused") {
    const auto r =
        request(port, "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n");
    CHECK(r.status == 431);
  }
  SECTION("a request split over several writes") {
    client c(port);
    c.send("GET /hea");
    std::this_thread::sleep_for(20ms);
    c.send("lthz HTTP/1.1\r\nHost: x\r\n");
    std::this_thread::sleep_for(20ms);
    c.send("\r\n");
    const auto r = parse(c.read_all());
    CHECK(r.status == 200);
    CHECK(r.body == "ok\n");
  }
  SECTION("a client that goes quiet is dropped and the next one served") {
    client quiet(port);
    quiet.send("GET /metrics HTTP/1.1\r\n");
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(get(port, "/healthz").status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 < 4s);
    CHECK(quiet.read_all().empty());  // closed without an answer
  }
}

TEST_CASE("a throwing readiness check is a 503") {
  registry reg;
  auto s = http_server::start("127.0.0.1:0", reg,
                              []() -> std::string { throw std::runtime_error("boom"); });
  REQUIRE(s.ok());
  const auto r = get(s.value()->port(), "/readyz");
  CHECK(r.status == 503);
  CHECK(r.body == "readiness check failed\n");
}

TEST_CASE("no readiness check means ready") {
  registry reg;
  auto s = http_server::start("127.0.0.1:0", reg, nullptr);
  REQUIRE(s.ok());
  CHECK(get(s.value()->port(), "/readyz").status == 200);
}

TEST_CASE("a second server on the same port fails with a clear error") {
  registry reg;
  auto first = http_server::start("127.0.0.1:0", reg, nullptr);
  REQUIRE(first.ok());
  const std::string listen = "127.0.0.1:" + std::to_string(first.value()->port());
  auto second = http_server::start(listen, reg, nullptr);
  REQUIRE(!second.ok());
  CHECK(second.err().code == weir::core::errc::io);
  CHECK(second.err().message == "metrics: cannot listen on " + listen + ": Address already in use");
  // The first one still serves.
  CHECK(get(first.value()->port(), "/healthz").status == 200);
}

TEST_CASE("listen addresses") {
  registry reg;

  SECTION("empty host listens on every IPv4 interface") {
    auto s = http_server::start(":0", reg, nullptr);
    REQUIRE(s.ok());
    CHECK(get(s.value()->port(), "/healthz").status == 200);
  }
  SECTION("0.0.0.0") {
    auto s = http_server::start("0.0.0.0:0", reg, nullptr);
    REQUIRE(s.ok());
    CHECK(get(s.value()->port(), "/healthz").status == 200);
  }
  SECTION("localhost") {
    auto s = http_server::start("localhost:0", reg, nullptr);
    REQUIRE(s.ok());
    CHECK(s.value()->port() != 0);
  }
  SECTION("[::1]") {
    auto s = http_server::start("[::1]:0", reg, nullptr);
    REQUIRE(s.ok());
    const auto r = request(s.value()->port(), "GET /healthz HTTP/1.1\r\n\r\n", true);
    CHECK(r.status == 200);
  }
  SECTION("malformed addresses are errors") {
    for (const char* bad : {"", "9090", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:90x",
                            "::1:9090", "[::1", "[::1]9090", "[::1]:", "127.0.0.1:-1"}) {
      auto s = http_server::start(bad, reg, nullptr);
      INFO(bad);
      REQUIRE(!s.ok());
      CHECK(s.err().code == weir::core::errc::io);
      CHECK(s.err().message.find(std::string("'") + bad + "'") != std::string::npos);
    }
  }
  SECTION("an address that is not local is an error") {
    auto s = http_server::start("192.0.2.1:0", reg, nullptr);  // TEST-NET-1
    REQUIRE(!s.ok());
    CHECK(s.err().message ==
          "metrics: cannot listen on 192.0.2.1:0: Cannot assign requested address");
  }
}

TEST_CASE("the destructor stops the server promptly") {
  registry reg;
  auto s = http_server::start("127.0.0.1:0", reg, nullptr);
  REQUIRE(s.ok());
  const auto port = s.value()->port();
  // A client in the middle of a request keeps the server thread waiting.
  client idle(port);
  idle.send("GET /metrics HTTP/1.1\r\n");
  std::this_thread::sleep_for(50ms);

  const auto t0 = std::chrono::steady_clock::now();
  s.value().reset();
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);

  // Nothing listens any more.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);
  ::close(fd);
}

TEST_CASE("the destructor of an idle server returns quickly") {
  registry reg;
  auto s = http_server::start("127.0.0.1:0", reg, nullptr);
  REQUIRE(s.ok());
  const auto t0 = std::chrono::steady_clock::now();
  s.value().reset();
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
}

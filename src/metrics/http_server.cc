#include "weir/metrics/http_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>
#include <thread>

namespace weir::metrics {

namespace {

using steady = std::chrono::steady_clock;

// A request line and headers larger than this are refused.
constexpr std::size_t max_request_bytes = 8 * 1024;
// How long a client may take to send its request, and to take the answer.
constexpr auto read_timeout = std::chrono::seconds(2);
constexpr auto write_timeout = std::chrono::seconds(10);
// How long to wait for a client to close after the answer, so that closing
// with unread input does not reset the connection before the answer arrives.
constexpr auto linger_timeout = std::chrono::milliseconds(200);

std::string errno_text(int e) {
  return std::error_code(e, std::generic_category()).message();
}

core::error io_error(std::string message) {
  return {core::errc::io, std::move(message)};
}

struct host_port {
  std::string host;  // without brackets; empty for every IPv4 interface
  std::string port;
};

core::result<host_port> split_listen(std::string_view listen) {
  const std::string quoted = "metrics listen address '" + std::string(listen) + "'";
  std::string_view host;
  std::string_view port;
  if (!listen.empty() && listen.front() == '[') {
    const auto close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return io_error(quoted + ": expected [ipv6]:port");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) return io_error(quoted + ": expected host:port");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return io_error(quoted + ": an IPv6 address needs brackets, as in [::1]:9090");
    }
  }
  unsigned long n = 0;
  for (const char c : port) {
    if (c < '0' || c > '9' || port.size() > 5) {
      return io_error(quoted + ": port must be a number from 0 to 65535");
    }
    n = n * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port.empty() || n > 65535) {
    return io_error(quoted + ": port must be a number from 0 to 65535");
  }
  return host_port{std::string(host), std::to_string(n)};
}

// Waits until `fd` is ready for `events`, the deadline passes (false) or the
// server is told to stop (false).
bool wait_for(int fd, short events, int wake_fd, steady::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || fds[1].revents != 0) return false;
    return true;
  }
}

bool send_all(int fd, std::string_view data, int wake_fd) {
  const auto deadline = steady::now() + write_timeout;
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLOUT, wake_fd, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
  }
  return "Unknown";
}

std::string serialize(const response& r, bool with_body) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) +
                    "\r\nContent-Type: " + r.content_type +
                    "\r\nContent-Length: " + std::to_string(r.body.size()) +
                    "\r\nCache-Control: no-store\r\n";
  if (r.status == 405) out += "Allow: GET, HEAD\r\n";
  out += "Connection: close\r\n\r\n";
  if (with_body) out += r.body;
  return out;
}

// Position just past the blank line that ends the headers, or npos. Bare
// newlines are accepted as well as CRLF.
std::size_t end_of_headers(const std::string& req) {
  const auto crlf = req.find("\r\n\r\n");
  if (crlf != std::string::npos) return crlf + 4;
  const auto lf = req.find("\n\n");
  return lf == std::string::npos ? std::string::npos : lf + 2;
}

}  // namespace

// Owns the listening socket, the wake-up eventfd and the serving thread.
// Everything but `wake_fd` is touched only by that thread once it runs;
// connections are served one at a time, each bounded by the timeouts above.
struct http_server::impl {
  impl(const registry& r, readiness rd) : reg(r), ready(std::move(rd)) {}
  ~impl() {
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  core::status open(std::string_view listen);
  void run() noexcept;
  void serve(int fd);
  response answer(std::string_view method, std::string_view path);

  const registry& reg;
  readiness ready;
  int listen_fd = -1;
  int wake_fd = -1;  // written once by the destructor to stop the thread
  std::uint16_t port = 0;
  std::thread thread;
};

core::status http_server::impl::open(std::string_view listen) {
  auto hp = split_listen(listen);
  if (!hp) return std::move(hp).err();
  const std::string where = "metrics: cannot listen on " + std::string(listen);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string host = hp->host.empty() ? "0.0.0.0" : hp->host;
  if (const int rc = ::getaddrinfo(host.c_str(), hp->port.c_str(), &hints, &found); rc != 0) {
    return io_error(where + ": " + (rc == EAI_SYSTEM ? errno_text(errno) : gai_strerror(rc)));
  }
  int last_errno = EADDRNOTAVAIL;
  for (const addrinfo* a = found; a != nullptr && listen_fd < 0; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    const int on = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        ::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      last_errno = errno;
      ::close(fd);
      continue;
    }
    listen_fd = fd;
  }
  ::freeaddrinfo(found);
  if (listen_fd < 0) return io_error(where + ": " + errno_text(last_errno));

  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return io_error(where + ": " + errno_text(errno));
  }
  port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) return io_error("metrics: eventfd: " + errno_text(errno));
  return {};
}

void http_server::impl::run() noexcept {
  for (;;) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, -1);
    if (n < 0 && errno != EINTR) {
      ::poll(&fds[1], 1, 100);  // back off rather than spin
    }
    if (fds[1].revents != 0) return;
    if (n <= 0 || (fds[0].revents & POLLIN) == 0) continue;

    const int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      // Out of descriptors or memory: the pending connection stays queued, so
      // wait a little instead of spinning on it.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pollfd wake{wake_fd, POLLIN, 0};
        ::poll(&wake, 1, 100);
      }
      continue;
    }
    try {
      serve(c);
    } catch (...) {
      // Only allocation can throw here; drop this connection, keep serving.
    }
    ::close(c);
  }
}

void http_server::impl::serve(int fd) {
  std::string req;
  std::size_t header_end = std::string::npos;
  const auto deadline = steady::now() + read_timeout;
  char buf[2048];
  while ((header_end = end_of_headers(req)) == std::string::npos) {
    if (req.size() >= max_request_bytes) {
      response r{431, "text/plain; charset=utf-8", "request too large\n"};
      send_all(fd, serialize(r, true), wake_fd);
      return;
    }
    const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, max_request_bytes - req.size()), 0);
    if (n > 0) {
      req.append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLIN, wake_fd, deadline)) return;  // too slow, or stopping
    } else {
      return;  // closed before a whole request, or reset
    }
  }

  // Request line: METHOD SP TARGET SP HTTP/x.y
  const std::string_view head(req.data(), header_end);
  const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  response r;
  bool with_body = true;
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
      line.substr(sp2 + 1).substr(0, 5) != "HTTP/" || sp1 == 0 || line[sp1 + 1] != '/') {
    r = {400, "text/plain; charset=utf-8", "bad request\n"};
  } else {
    const std::string_view method = line.substr(0, sp1);
    std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    with_body = method != "HEAD";
    r = answer(method, path);
  }
  if (!send_all(fd, serialize(r, with_body), wake_fd)) return;

  // Tell the client we are done and give it a moment to close first.
  ::shutdown(fd, SHUT_WR);
  const auto linger_until = steady::now() + linger_timeout;
  while (wait_for(fd, POLLIN, wake_fd, linger_until)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) break;
  }
}

response http_server::impl::answer(std::string_view method, std::string_view path) {
  constexpr const char* text = "text/plain; charset=utf-8";
  if (method != "GET" && method != "HEAD") return {405, text, "method not allowed\n"};
  if (path == "/metrics") {
    try {
      return {200, "text/plain; version=0.0.4; charset=utf-8", reg.render()};
    } catch (const std::exception& e) {
      return {500, text, std::string("cannot render metrics: ") + e.what() + "\n"};
    }
  }
  if (path == "/healthz") return {200, text, "ok\n"};
  if (path == "/readyz") {
    std::string reason;
    try {
      if (ready) reason = ready();
    } catch (...) {
      reason = "readiness check failed";
    }
    if (reason.empty()) return {200, text, "ready\n"};
    return {503, text, reason + "\n"};
  }
  return {404, text, "not found\n"};
}

http_server::http_server(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

core::result<std::unique_ptr<http_server>> http_server::start(std::string_view listen,
                                                              const registry& reg,
                                                              readiness ready) {
  auto i = std::make_unique<impl>(reg, std::move(ready));
  if (auto st = i->open(listen); !st) return st.err();
  try {
    i->thread = std::thread([p = i.get()] { p->run(); });
  } catch (const std::system_error& e) {
    return io_error(std::string("metrics: cannot start the server thread: ") + e.what());
  }
  ::pthread_setname_np(i->thread.native_handle(), "weir-metrics");
  return std::unique_ptr<http_server>(new http_server(std::move(i)));
}

http_server::~http_server() {
  if (!impl_ || !impl_->thread.joinable()) return;
  const std::uint64_t one = 1;
  while (::write(impl_->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
  impl_->thread.join();
}

std::uint16_t http_server::port() const noexcept {
  return impl_->port;
}

}  // namespace weir::metrics

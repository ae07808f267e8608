#include "jobwire_bench/net_util.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jobwire_bench/clock.hpp"

namespace jobwire::bench {

std::string resolve_target(const std::string& host, uint16_t port,
                           target& out) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0)
    return "cannot resolve '" + host + "': " + gai_strerror(rc);
  out.host = host;
  out.port = port;
  std::memcpy(&out.addr, res->ai_addr, sizeof(sockaddr_in));
  out.addr.sin_port = htons(port);
  freeaddrinfo(res);
  out.host_header = host + ":" + std::to_string(port);
  out.loopback = (ntohl(out.addr.sin_addr.s_addr) >> 24) == 127;
  return {};
}

int start_connect(const sockaddr_in& to, const sockaddr_in* from, int& err,
                  int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (rcvbuf > 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  if (from != nullptr) {
    // Pick the port at connect time, per 4-tuple, not at bind time.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, reinterpret_cast<const sockaddr*>(from), sizeof(*from))
        != 0) {
      err = errno;
      close(fd);
      return -1;
    }
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) != 0
      && errno != EINPROGRESS) {
    err = errno;
    close(fd);
    return -1;
  }
  err = 0;
  return fd;
}

std::string pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    return "cannot pin to CPU " + std::to_string(cpu) + ": "
           + std::strerror(errno);
  return {};
}

http_reply http_request(const target& t, const std::string& method,
                        const std::string& path, const std::string& body,
                        int timeout_ms) {
  http_reply out;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    out.error = std::strerror(errno);
    return out;
  }
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), sizeof(t.addr))
      != 0) {
    out.error = "cannot connect to " + t.host_header + ": "
                + std::strerror(errno);
    close(fd);
    return out;
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: "
                    + t.host_header + "\r\nConnection: close\r\n"
                    + t.auth_header;
  if (!body.empty() || method == "POST")
    req += "Content-Type: application/json\r\nContent-Length: "
           + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  for (size_t off = 0; off < req.size();) {
    auto n = send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      out.error = std::string{"send failed: "} + std::strerror(errno);
      close(fd);
      return out;
    }
    off += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    auto n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0) {
      out.error = std::string{"no reply: "} + std::strerror(errno);
      close(fd);
      return out;
    }
    if (n == 0)
      break;
    raw.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  auto head_end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.") || raw.size() < 12
      || head_end == std::string::npos) {
    out.error = "malformed HTTP reply";
    return out;
  }
  out.status = std::atoi(raw.c_str() + 9);
  out.body = raw.substr(head_end + 4);
  return out;
}

} // namespace jobwire::bench

#include "raw_socket.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace jobwire::test {

namespace {

using clock_type = std::chrono::steady_clock;

int millis_left(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - clock_type::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::string lower(std::string x) {
  std::transform(x.begin(), x.end(), x.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return x;
}

std::string trim(std::string_view x) {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
    x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
    x.remove_suffix(1);
  return std::string{x};
}

} // namespace

std::string raw_socket::http_reply::header(std::string_view name) const {
  for (auto& [key, value] : headers)
    if (key == name)
      return value;
  return {};
}

uint16_t raw_socket::frame::close_code() const {
  if (payload.size() < 2)
    return 1005;
  return static_cast<uint16_t>((static_cast<unsigned char>(payload[0]) << 8)
                               | static_cast<unsigned char>(payload[1]));
}

std::string raw_socket::close_result::to_string() const {
  std::string result;
  if (close_frame)
    result = "close frame " + std::to_string(code) + " \"" + reason + "\"";
  else
    result = "no close frame";
  result += eof ? ", TCP closed" : ", TCP still open";
  if (!before.empty()) {
    result += ", after";
    for (auto& x : before)
      result += " " + x.payload;
  }
  return result;
}

raw_socket::~raw_socket() {
  close();
}

void raw_socket::connect(uint16_t port) {
  connect_from(nullptr, port);
}

void raw_socket::connect_from(const char* source, uint16_t port) {
  close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  if (rcvbuf_ > 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_, sizeof(rcvbuf_));
  if (source != nullptr) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source, &from.sin_addr) != 1
        || ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
      auto err = errno;
      close();
      throw std::runtime_error(std::string{"raw_socket: cannot bind to "}
                               + source + ": " + std::strerror(err));
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    auto err = errno;
    close();
    throw std::runtime_error("raw_socket: connect to port "
                             + std::to_string(port)
                             + " failed: " + std::strerror(err));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  eof_ = false;
  buf_.clear();
}

void raw_socket::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void raw_socket::shutdown_send() {
  if (fd_ >= 0)
    ::shutdown(fd_, SHUT_WR);
}

void raw_socket::abort() {
  if (fd_ >= 0) {
    linger lg{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    ::close(fd_);
    fd_ = -1;
  }
}

bool raw_socket::send(std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool raw_socket::fill(clock_type::time_point deadline) {
  if (eof_)
    return false;
  for (;;) {
    pollfd pfd{fd_, POLLIN, 0};
    auto rc = ::poll(&pfd, 1, millis_left(deadline));
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc <= 0)
      return false;
    char tmp[8192];
    auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR)
      continue;
    // EOF or reset.
    eof_ = true;
    return false;
  }
}

bool raw_socket::readable(duration timeout) {
  if (!buf_.empty() || eof_)
    return true;
  pollfd pfd{fd_, POLLIN, 0};
  return ::poll(&pfd, 1, static_cast<int>(timeout.count())) > 0;
}

bool raw_socket::wait_eof(duration timeout) {
  auto deadline = clock_type::now() + timeout;
  while (!eof_) {
    buf_.clear();
    if (!fill(deadline) && !eof_)
      return false;
  }
  return true;
}

std::optional<raw_socket::http_reply>
raw_socket::read_http_reply(duration timeout) {
  auto deadline = clock_type::now() + timeout;
  size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline))
      return std::nullopt;
  auto head = buf_.substr(0, end);
  buf_.erase(0, end + 4);
  http_reply result;
  // Status line: HTTP/1.1 404 Not Found
  auto line_end = head.find("\r\n");
  auto status_line = head.substr(0, line_end);
  auto sp = status_line.find(' ');
  if (sp == std::string::npos)
    return std::nullopt;
  result.status = std::atoi(status_line.c_str() + sp + 1);
  while (line_end != std::string::npos) {
    auto start = line_end + 2;
    line_end = head.find("\r\n", start);
    auto line
      = head.substr(start, line_end == std::string::npos ? std::string::npos
                                                         : line_end - start);
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    result.headers.emplace_back(lower(line.substr(0, colon)),
                                trim(std::string_view{line}.substr(colon + 1)));
  }
  auto length = result.header("content-length");
  if (!length.empty()) {
    auto n = static_cast<size_t>(std::stoul(length));
    while (buf_.size() < n)
      if (!fill(deadline))
        break;
    auto take = std::min(n, buf_.size());
    result.body = buf_.substr(0, take);
    buf_.erase(0, take);
  }
  return result;
}

std::optional<raw_socket::http_reply>
raw_socket::handshake(uint16_t port_for_host, std::string_view path,
                      std::optional<std::string_view> key, duration timeout) {
  std::string req = "GET " + std::string{path} + " HTTP/1.1\r\n";
  req += "Host: 127.0.0.1:" + std::to_string(port_for_host) + "\r\n";
  req += "Upgrade: websocket\r\n";
  req += "Connection: Upgrade\r\n";
  if (key)
    req += "Sec-WebSocket-Key: " + std::string{*key} + "\r\n";
  req += "Sec-WebSocket-Version: 13\r\n\r\n";
  if (!send(req))
    return std::nullopt;
  return read_http_reply(timeout);
}

std::string raw_socket::make_frame(ws_opcode opcode, std::string_view payload,
                                   bool fin, bool masked) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(opcode));
  uint8_t mask_bit = masked ? 0x80 : 0x00;
  auto n = payload.size();
  if (n < 126) {
    out += static_cast<char>(mask_bit | n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(mask_bit | 126);
    out += static_cast<char>((n >> 8) & 0xFF);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out += static_cast<char>((static_cast<uint64_t>(n) >> shift) & 0xFF);
  }
  if (!masked) {
    out += payload;
    return out;
  }
  const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  out.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < n; ++i)
    out
      += static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4]);
  return out;
}

bool raw_socket::send_frame(ws_opcode opcode, std::string_view payload,
                            bool fin) {
  return send(make_frame(opcode, payload, fin));
}

std::optional<raw_socket::frame> raw_socket::read_frame(duration timeout) {
  auto deadline = clock_type::now() + timeout;
  auto need = [&](size_t n) {
    while (buf_.size() < n)
      if (!fill(deadline))
        return false;
    return true;
  };
  if (!need(2))
    return std::nullopt;
  auto b0 = static_cast<unsigned char>(buf_[0]);
  auto b1 = static_cast<unsigned char>(buf_[1]);
  frame result;
  result.fin = (b0 & 0x80) != 0;
  result.opcode = static_cast<ws_opcode>(b0 & 0x0F);
  result.masked = (b1 & 0x80) != 0;
  uint64_t len = b1 & 0x7F;
  size_t header = 2;
  if (len == 126) {
    if (!need(4))
      return std::nullopt;
    len = (static_cast<uint64_t>(static_cast<unsigned char>(buf_[2])) << 8)
          | static_cast<unsigned char>(buf_[3]);
    header = 4;
  } else if (len == 127) {
    if (!need(10))
      return std::nullopt;
    len = 0;
    for (size_t i = 2; i < 10; ++i)
      len = (len << 8) | static_cast<unsigned char>(buf_[i]);
    header = 10;
  }
  size_t key_pos = header;
  if (result.masked)
    header += 4;
  if (!need(header + len))
    return std::nullopt;
  result.payload = buf_.substr(header, len);
  if (result.masked)
    for (size_t i = 0; i < len; ++i)
      result.payload[i] = static_cast<char>(
        static_cast<unsigned char>(result.payload[i])
        ^ static_cast<unsigned char>(buf_[key_pos + i % 4]));
  buf_.erase(0, header + len);
  return result;
}

raw_socket::close_result raw_socket::read_close(duration timeout) {
  auto deadline = clock_type::now() + timeout;
  close_result result;
  for (;;) {
    auto left = std::chrono::milliseconds{millis_left(deadline)};
    auto f = read_frame(left);
    if (!f)
      break;
    if (f->opcode == ws_opcode::close) {
      result.close_frame = true;
      result.code = f->close_code();
      if (f->payload.size() > 2)
        result.reason = f->payload.substr(2);
      // Answer the close as a client must, then expect the TCP close.
      std::string reply;
      if (f->payload.size() >= 2)
        reply = f->payload.substr(0, 2);
      send_frame(ws_opcode::close, reply);
      break;
    }
    if (f->opcode == ws_opcode::ping) {
      send_frame(ws_opcode::pong, f->payload);
      continue;
    }
    result.before.push_back(std::move(*f));
  }
  // After a close frame the server has a moment to close TCP even when the
  // frame came late.
  auto eof_wait = millis_left(deadline);
  if (result.close_frame)
    eof_wait = std::max(eof_wait, 2000);
  result.eof = wait_eof(std::chrono::milliseconds{eof_wait});
  return result;
}

uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  auto bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
               && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                    == 0;
  ::close(fd);
  if (!bound)
    throw std::runtime_error("no free loopback port");
  return ntohs(addr.sin_port);
}

} // namespace jobwire::test

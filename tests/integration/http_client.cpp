#include "http_client.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <poll.h>
#include <sys/socket.h>

namespace jobwire::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string http_response::header(const std::string& name) const {
  auto i = headers.find(name);
  return i == headers.end() ? std::string{} : i->second;
}

json_value http_response::json() const {
  return json_value::parse(body);
}

std::string http_response::to_string() const {
  return std::to_string(status) + " " + body;
}

struct http_client::impl {
  uint16_t port;
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buf;
  bool connected = false;
  size_t connects = 0;

  explicit impl(uint16_t port) : port(port) {
    // nop
  }

  // Runs the started operation to completion (tcp_stream enforces the
  // timeout).
  beast::error_code run(bool& done, beast::error_code& ec) {
    ioc.restart();
    ioc.run();
    if (!done)
      return beast::error::timeout;
    return ec;
  }

  void disconnect() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    buf.consume(buf.size());
    connected = false;
  }

  // Whether the server closed (or wrote junk on) the idle connection.
  bool peer_gone() {
    pollfd pfd{stream.socket().native_handle(), POLLIN, 0};
    if (::poll(&pfd, 1, 0) <= 0)
      return false;
    char c;
    auto n = ::recv(pfd.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }

  void connect(duration timeout) {
    stream.expires_after(timeout);
    tcp::endpoint endpoint{net::ip::make_address_v4("127.0.0.1"), port};
    bool done = false;
    beast::error_code ec;
    stream.async_connect(endpoint, [&](beast::error_code e) {
      done = true;
      ec = e;
    });
    if (auto err = run(done, ec))
      throw std::runtime_error("http_client: connect to port "
                               + std::to_string(port)
                               + " failed: " + err.message());
    connected = true;
    ++connects;
  }

  // Writes the request and reads the response.
  beast::error_code attempt(http::request<http::string_body>& req,
                            http_response& out, duration timeout,
                            bool& got_bytes) {
    got_bytes = false;
    stream.expires_after(timeout);
    bool done = false;
    beast::error_code ec;
    http::async_write(stream, req, [&](beast::error_code e, size_t) {
      done = true;
      ec = e;
    });
    // A server that refuses the request (413) may close before it read the
    // whole body: look for its response even when the write failed.
    auto write_err = run(done, ec);
    if (write_err == beast::error::timeout)
      return write_err;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    // The answer to a HEAD has a Content-Length but no body.
    parser.skip(req.method() == http::verb::head);
    done = false;
    http::async_read(stream, buf, parser, [&](beast::error_code e, size_t n) {
      done = true;
      ec = e;
      (void)n;
    });
    auto err = run(done, ec);
    got_bytes = parser.got_some();
    if (err)
      return write_err ? write_err : err;
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.version = res.version();
    out.keep_alive = res.keep_alive();
    out.body = res.body();
    for (auto& field : res) {
      std::string name{field.name_string()};
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      out.headers[name] = std::string{field.value()};
    }
    return {};
  }
};

http_client::http_client(uint16_t port) : impl_(std::make_unique<impl>(port)) {
  // nop
}

http_client::~http_client() {
  if (impl_ && impl_->connected)
    impl_->disconnect();
}

http_client::http_client(http_client&&) noexcept = default;

http_client& http_client::operator=(http_client&&) noexcept = default;

size_t http_client::connects() const {
  return impl_->connects;
}

void http_client::close() {
  if (impl_->connected)
    impl_->disconnect();
}

http_response http_client::request(std::string_view method,
                                   std::string_view target,
                                   std::optional<std::string_view> body,
                                   const header_list& headers,
                                   duration timeout) {
  auto& d = *impl_;
  http::request<http::string_body> req;
  auto verb = http::string_to_verb(method);
  if (verb == http::verb::unknown)
    req.method_string(method);
  else
    req.method(verb);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1:" + std::to_string(d.port));
  req.set(http::field::user_agent, "jobwire-integration-test");
  if (body) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string{*body};
  }
  for (auto& [name, value] : headers)
    req.set(name, value);
  req.prepare_payload();
  if (d.connected && d.peer_gone())
    d.disconnect();
  if (!d.connected)
    d.connect(timeout);
  http_response out;
  bool got_bytes = false;
  auto ec = d.attempt(req, out, timeout, got_bytes);
  if (ec) {
    d.disconnect();
    throw std::runtime_error(
      "http_client: " + std::string{method} + " " + std::string{target}
      + " failed: " + ec.message()
      + (got_bytes ? " (partial response)" : " (no response)"));
  }
  if (!out.keep_alive)
    d.disconnect();
  return out;
}

} // namespace jobwire::test

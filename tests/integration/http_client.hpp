#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json_value.hpp"

namespace jobwire::test {

/// One HTTP response.
struct http_response {
  int status = 0;
  /// 11 for HTTP/1.1.
  unsigned version = 0;
  /// Header names in lower case.
  std::map<std::string, std::string> headers;
  std::string body;
  /// Whether the server keeps the connection open.
  bool keep_alive = false;

  /// The value of header `name` (lower case), or "".
  std::string header(const std::string& name) const;

  /// The body as JSON; throws `json_error` when it is not JSON.
  json_value json() const;

  /// "STATUS body" for messages.
  std::string to_string() const;
};

/// A synchronous HTTP/1.1 client (Boost.Beast) that keeps its connection
/// alive between requests and reconnects when the server closed it.
class http_client {
public:
  using duration = std::chrono::milliseconds;
  using header_list = std::vector<std::pair<std::string, std::string>>;

  static constexpr duration default_timeout = std::chrono::seconds{5};

  // -- constructors, destructors ----------------------------------------------

  explicit http_client(uint16_t port);
  ~http_client();
  http_client(http_client&&) noexcept;
  http_client& operator=(http_client&&) noexcept;

  // -- requests ---------------------------------------------------------------

  /// Sends one request and reads the response; a body is sent as
  /// application/json. Throws `std::runtime_error` on a network error or
  /// timeout.
  http_response request(std::string_view method, std::string_view target,
                        std::optional<std::string_view> body = std::nullopt,
                        const header_list& headers = {},
                        duration timeout = default_timeout);

  http_response get(std::string_view target) {
    return request("GET", target);
  }

  http_response post(std::string_view target, std::string_view body) {
    return request("POST", target, body);
  }

  // -- properties -------------------------------------------------------------

  /// How many TCP connections this client has opened.
  size_t connects() const;

  /// Closes the connection; the next request opens a new one.
  void close();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace jobwire::test

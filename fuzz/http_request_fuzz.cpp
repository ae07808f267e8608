// libFuzzer target: raw bytes as one HTTP/1.1 request, parsed the way
// net/http_session.cpp does (Beast request_parser<string_body> with the
// server's default body and header limits), then the target through
// jobwire::route_target and the body through jobwire::parse_cancel_request.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "messages/cancel_request.hpp"
#include "net/http_route.hpp"

namespace http = boost::beast::http;

namespace {

// The defaults of net/server_settings.hpp.
constexpr std::size_t max_message_bytes = 65536;
constexpr std::uint32_t max_header_bytes = 8192;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(max_message_bytes);
  parser.header_limit(max_header_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view rest{reinterpret_cast<const char*>(data), size};
  // Feed as a socket would: whatever is there, until done, error or no
  // progress (need_more at the end of the input).
  while (!parser.is_done()) {
    auto used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(used);
    if (ec == http::error::need_more) {
      if (used != 0 && !rest.empty())
        continue; // a body chunk was taken; offer the rest
      // The input is all there is: the peer closed. As http::read does,
      // an empty request is end_of_stream, not put_eof (which asserts).
      ec = {};
      if (parser.got_some())
        parser.put_eof(ec);
      else
        ec = http::error::end_of_stream;
      break;
    }
    if (ec)
      break;
    if (used == 0)
      break;
  }
  if (!parser.is_header_done())
    return 0;
  auto& req = parser.get();
  auto target = req.target();
  auto route = jobwire::route_target(std::string_view{target.data(), target.size()});
  (void) route;
  if (!ec && parser.is_done()) {
    auto reason = jobwire::parse_cancel_request(req.body());
    (void) reason;
  }
  return 0;
}

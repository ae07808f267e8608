// libFuzzer target: raw bytes as one HTTP/1.1 request, parsed the way
// net/http_session.cpp does (Beast request_parser<string_body> with the
// server's default body and header limits, the head alone first and its
// Transfer-Encoding through jobwire::check_request_framing), then the
// target through jobwire::route_target and the body through
// jobwire::parse_cancel_request.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "messages/cancel_request.hpp"
#include "net/http_route.hpp"
#include "net/request_framing.hpp"

namespace http = boost::beast::http;

namespace {

// The defaults of net/server_settings.hpp.
constexpr std::size_t max_message_bytes = 65536;
constexpr std::uint32_t max_header_bytes = 8192;

// One request read the way http::read does it (boost/beast/http/impl/read.hpp):
// put() everything buffered, consume what was used, and on need_more read
// more from the stream before calling put() again; the parser's contract
// forbids offering the same bytes again without new ones. The "stream"
// hands out the input `step` bytes at a time; at its end, put_eof() if the
// parser got anything, else end_of_stream.
void parse_as_read(std::string_view input, std::size_t step) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(max_message_bytes);
  parser.header_limit(max_header_bytes);
  parser.eager(false);
  boost::beast::error_code ec;
  std::string buffered;
  bool framing_checked = false;
  for (;;) {
    if (!buffered.empty()) {
      auto used = parser.put(boost::asio::buffer(buffered), ec);
      buffered.erase(0, used);
      if (!ec && parser.is_header_done() && !framing_checked) {
        // As the session does: the head's framing, then the body eagerly.
        framing_checked = true;
        auto& head = parser.get();
        std::vector<std::string_view> codings;
        auto [first, last] = head.equal_range(http::field::transfer_encoding);
        for (auto it = first; it != last; ++it)
          codings.emplace_back(it->value());
        if (jobwire::check_request_framing(
              codings, head.find(http::field::content_length) != head.end()))
          return;
        parser.eager(true);
        if (!parser.is_done())
          continue;
      }
      if (ec != http::error::need_more)
        break;
    }
    if (input.empty()) {
      ec = {};
      if (parser.got_some())
        parser.put_eof(ec);
      else
        ec = http::error::end_of_stream;
      break;
    }
    auto n = std::min(step, input.size());
    buffered.append(input.substr(0, n));
    input.remove_prefix(n);
  }
  if (!parser.is_header_done())
    return;
  auto& req = parser.get();
  auto target = req.target();
  auto route = jobwire::route_target(std::string_view{target.data(), target.size()});
  (void) route;
  if (!ec && parser.is_done()) {
    auto reason = jobwire::parse_cancel_request(req.body());
    (void) reason;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(data), size};
  // All at once, then in small reads, as a socket may deliver it.
  parse_as_read(input, input.size() + 1);
  parse_as_read(input, 1 + size % 13);
  return 0;
}

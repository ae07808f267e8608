// The one translation unit with Beast: its SHA-1 and base64 make and check
// the handshake keys.
#include "jobwire_bench/ws_handshake.hpp"

#include <cstdint>
#include <random>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>

namespace jobwire::bench {

std::string make_ws_key() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  uint64_t raw[2] = {gen(), gen()};
  std::string out(boost::beast::detail::base64::encoded_size(sizeof(raw)),
                  '\0');
  out.resize(boost::beast::detail::base64::encode(out.data(), raw,
                                                  sizeof(raw)));
  return out;
}

std::string ws_accept_for(std::string_view key) {
  boost::beast::websocket::detail::sec_ws_accept_type accept;
  boost::beast::websocket::detail::make_sec_ws_accept(
    accept, boost::beast::string_view{key.data(), key.size()});
  return std::string{accept.data(), accept.size()};
}

} // namespace jobwire::bench

#pragma once

#include <string>

#include <boost/asio/ip/address.hpp>

namespace jobwire {

/// What the per-address limits count a client by: an IPv4 address (also
/// when it comes IPv4-mapped), or an IPv6 address's /64 prefix, since one
/// IPv6 host usually has a whole /64 to pick addresses from.
inline std::string client_address(const boost::asio::ip::address& a) {
  if (a.is_v4())
    return a.to_string();
  auto v6 = a.to_v6();
  if (v6.is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6)
      .to_string();
  auto bytes = v6.to_bytes();
  for (size_t i = 8; i < bytes.size(); ++i)
    bytes[i] = 0;
  return boost::asio::ip::address_v6{bytes}.to_string() + "/64";
}

} // namespace jobwire

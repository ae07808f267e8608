#pragma once

#include <string>
#include <string_view>

namespace jobwire::bench {

/// A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes.
std::string make_ws_key();

/// The `Sec-WebSocket-Accept` a server must answer `key` with (RFC 6455).
std::string ws_accept_for(std::string_view key);

} // namespace jobwire::bench

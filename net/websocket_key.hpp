#pragma once

#include <string_view>

namespace jobwire {

/// RFC 6455 4.2.1: the key is the base64 encoding of 16 bytes, so exactly
/// 24 characters ending in "==". Beast accepts any short token.
bool is_valid_websocket_key(std::string_view key);

} // namespace jobwire

#include "net/websocket_key.hpp"

namespace jobwire {

bool is_valid_websocket_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==")
    return false;
  auto is_b64 = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '+' || c == '/';
  };
  for (size_t i = 0; i < 22; ++i)
    if (!is_b64(key[i]))
      return false;
  // 16 bytes leave 4 unused bits in the 22nd character: they must be 0.
  static constexpr std::string_view alphabet
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  return alphabet.find(key[21]) % 16 == 0;
}

} // namespace jobwire

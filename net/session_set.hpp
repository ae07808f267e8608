#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "actors/frame_sink.hpp"

namespace jobwire {

/// The open WebSocket sessions, so a stopping server can close them all.
/// Sessions add and remove themselves from any io thread.
class session_set {
public:
  void add(const void* key, std::weak_ptr<frame_sink> session);

  void remove(const void* key);

  /// Sends every open session the close frame `code`.
  void close_all(uint16_t code, const std::string& reason);

  size_t size() const;

private:
  mutable std::mutex mtx_;
  std::unordered_map<const void*, std::weak_ptr<frame_sink>> sessions_;
};

} // namespace jobwire

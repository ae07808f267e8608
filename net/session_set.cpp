#include "net/session_set.hpp"

#include <vector>

namespace jobwire {

void session_set::add(const void* key, std::weak_ptr<frame_sink> session) {
  std::lock_guard<std::mutex> guard{mtx_};
  sessions_.emplace(key, std::move(session));
}

void session_set::remove(const void* key) {
  std::lock_guard<std::mutex> guard{mtx_};
  sessions_.erase(key);
}

void session_set::close_all(uint16_t code, const std::string& reason) {
  std::vector<std::shared_ptr<frame_sink>> open;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [key, weak] : sessions_)
      if (auto strong = weak.lock())
        open.push_back(std::move(strong));
  }
  // Outside the lock: close() posts, and a session may remove itself.
  for (auto& s : open)
    s->close(code, reason);
}

size_t session_set::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return sessions_.size();
}

} // namespace jobwire

#include "net/session_set.hpp"

#include <vector>

namespace jobwire {

void session_set::add(const ws_session* key, std::weak_ptr<ws_session> session) {
  std::lock_guard<std::mutex> guard{mtx_};
  sessions_.emplace(key, std::move(session));
}

void session_set::remove(const ws_session* key) {
  std::lock_guard<std::mutex> guard{mtx_};
  sessions_.erase(key);
}

void session_set::for_each(const std::function<void(ws_session&)>& f) {
  std::vector<std::shared_ptr<ws_session>> open;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [key, weak] : sessions_)
      if (auto strong = weak.lock())
        open.push_back(std::move(strong));
  }
  // Outside the lock: a session may remove itself meanwhile.
  for (auto& s : open)
    f(*s);
}

size_t session_set::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return sessions_.size();
}

} // namespace jobwire

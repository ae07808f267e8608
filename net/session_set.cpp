#include "net/session_set.hpp"

namespace jobwire {

void session_set::add(const ws_session* key, std::weak_ptr<ws_session> session,
                      std::string address) {
  std::lock_guard<std::mutex> guard{mtx_};
  ++per_address_[address];
  sessions_.emplace(
    key, entry{std::move(session), std::move(address), next_slot_++});
}

void session_set::remove(const ws_session* key) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = sessions_.find(key);
  if (i == sessions_.end())
    return;
  auto j = per_address_.find(i->second.address);
  if (j != per_address_.end() && --j->second == 0)
    per_address_.erase(j);
  sessions_.erase(i);
}

size_t session_set::from(const std::string& address) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = per_address_.find(address);
  return i == per_address_.end() ? 0 : i->second;
}

void session_set::for_each(const std::function<void(ws_session&)>& f) {
  // Outside the lock: a session may remove itself meanwhile.
  for (auto& s : open_where([](const entry&) { return true; }))
    f(*s);
}

std::vector<std::shared_ptr<ws_session>>
session_set::in_slot(uint32_t slot, uint32_t slots) const {
  return open_where([=](const entry& e) { return e.slot % slots == slot; });
}

size_t session_set::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return sessions_.size();
}

} // namespace jobwire

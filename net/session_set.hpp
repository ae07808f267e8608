#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace jobwire {

class ws_session;

/// The open WebSocket sessions, so a stopping server can drain them all.
/// Sessions add and remove themselves from any io thread.
class session_set {
public:
  void add(const ws_session* key, std::weak_ptr<ws_session> session,
           std::string address);

  void remove(const ws_session* key);

  /// Calls `f` for every session still open, outside the lock.
  void for_each(const std::function<void(ws_session&)>& f);

  /// The open sessions whose heartbeat slot, of `slots`, is `slot`. Each
  /// session gets the next slot in turn when added.
  std::vector<std::shared_ptr<ws_session>> in_slot(uint32_t slot,
                                                   uint32_t slots) const;

  size_t size() const;

  /// Open sessions from the client address `address`.
  size_t from(const std::string& address) const;

private:
  struct entry {
    std::weak_ptr<ws_session> session;
    std::string address;
    uint32_t slot;
  };

  /// The sessions still open whose entry satisfies `pred`, taken under
  /// the lock and used outside it.
  template <class Pred>
  std::vector<std::shared_ptr<ws_session>> open_where(Pred pred) const {
    std::vector<std::shared_ptr<ws_session>> out;
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [key, e] : sessions_)
      if (pred(e))
        if (auto strong = e.session.lock())
          out.push_back(std::move(strong));
    return out;
  }

  mutable std::mutex mtx_;
  std::unordered_map<const ws_session*, entry> sessions_;
  std::unordered_map<std::string, size_t> per_address_;
  uint32_t next_slot_ = 0;
};

} // namespace jobwire

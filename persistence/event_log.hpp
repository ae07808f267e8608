#pragma once

#include <cstdint>
#include <vector>

#include "messages/frame.hpp"

namespace jobwire {

/// A job's stored events in seq order, as the frames subscribers receive.
/// Kept in memory for now; the LMDB store replaces it.
class event_log {
public:
  /// Stores the frame of event `seq`, which must be `last_seq() + 1`.
  void append(uint64_t seq, frame_ptr frame);

  /// The highest stored seq, 0 when empty.
  uint64_t last_seq() const {
    return frames_.size();
  }

  /// Calls `f(seq, frame)` for every stored event after `after`, in order.
  template <class F>
  void for_each_after(uint64_t after, F&& f) const {
    for (auto seq = after + 1; seq <= last_seq(); ++seq)
      f(seq, frames_[seq - 1]);
  }

private:
  std::vector<frame_ptr> frames_;
};

} // namespace jobwire

#pragma once

#include <cstddef>
#include <vector>

#include "messages/frame.hpp"

namespace jobwire {

/// A session's outbound frames, first in first out. Holds no memory while
/// empty: most connections are idle most of the time, and a std::deque
/// allocates 576 bytes the moment it is constructed.
class frame_queue {
public:
  using const_iterator = std::vector<frame_ptr>::const_iterator;

  bool empty() const {
    return head_ == items_.size();
  }

  size_t size() const {
    return items_.size() - head_;
  }

  const frame_ptr& front() const {
    return items_[head_];
  }

  const frame_ptr& back() const {
    return items_.back();
  }

  const frame_ptr& operator[](size_t i) const {
    return items_[head_ + i];
  }

  const_iterator begin() const {
    return items_.begin() + static_cast<std::ptrdiff_t>(head_);
  }

  const_iterator end() const {
    return items_.end();
  }

  void push_back(frame_ptr f) {
    items_.push_back(std::move(f));
  }

  template <class Iterator>
  void append(Iterator first, Iterator last) {
    items_.insert(items_.end(), first, last);
  }

  void pop_front() {
    items_[head_++].reset();
    if (empty())
      release();
    else if (head_ >= 64 && head_ * 2 >= items_.size())
      compact();
  }

  void pop_back() {
    items_.pop_back();
    if (empty())
      release();
  }

private:
  // Drops the slots already popped from the front.
  void compact() {
    items_.erase(items_.begin(),
                 items_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }

  void release() {
    std::vector<frame_ptr>{}.swap(items_);
    head_ = 0;
  }

  std::vector<frame_ptr> items_;
  size_t head_ = 0;
};

} // namespace jobwire

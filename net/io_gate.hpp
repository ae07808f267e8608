#pragma once

#include <memory>
#include <shared_mutex>
#include <utility>

#include <boost/asio/post.hpp>

namespace jobwire {

/// Lets actor threads post work onto io executors only while the
/// io_context exists: a post racing the server's shutdown would touch a
/// destroyed io_context. Shared by everything that posts from outside.
class io_gate {
public:
  /// Posts `f` to `ex` unless the gate is closed; false when closed.
  template <class Executor, class F>
  bool post(const Executor& ex, F&& f) {
    std::shared_lock<std::shared_mutex> guard{mtx_};
    if (!open_)
      return false;
    boost::asio::post(ex, std::forward<F>(f));
    return true;
  }

  /// From now on nothing is posted; waits for posts under way.
  void close() {
    std::unique_lock<std::shared_mutex> guard{mtx_};
    open_ = false;
  }

private:
  std::shared_mutex mtx_;
  bool open_ = true;
};

using io_gate_ptr = std::shared_ptr<io_gate>;

} // namespace jobwire

#pragma once

#include <cstddef>
#include <new>

namespace jobwire {

/// Allocates exactly what is asked, with operator new. Bound to a handler
/// (`boost::asio::bind_allocator`), it keeps asio from serving the
/// operation out of its per-thread cache, which hands out a recycled block
/// of whatever size an earlier, larger operation left (a 0.6 KiB read for
/// a 0.1 KiB wait that may stay pending for hours on an idle connection).
template <class T>
struct exact_allocator {
  using value_type = T;

  exact_allocator() noexcept = default;

  template <class U>
  exact_allocator(const exact_allocator<U>&) noexcept {
    // nop
  }

  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }

  void deallocate(T* p, std::size_t) noexcept {
    ::operator delete(p);
  }

  template <class U>
  bool operator==(const exact_allocator<U>&) const noexcept {
    return true;
  }
};

} // namespace jobwire

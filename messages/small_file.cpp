#include "messages/small_file.hpp"

#include <fstream>

namespace jobwire {

small_file_read read_small_file(const std::string& path, size_t max_bytes,
                                std::string& text) {
  text.clear();
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return small_file_read::unreadable;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > max_bytes)
      return small_file_read::too_large;
  }
  // A directory opens, and fails at the first read.
  if (in.bad() || (!in.eof() && in.fail()))
    return small_file_read::unreadable;
  return small_file_read::ok;
}

} // namespace jobwire

#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace jobwire::test {

/// A fresh directory under /tmp, removed with everything in it afterwards.
struct temp_dir {
  std::string path;

  temp_dir() {
    char tmpl[] = "/tmp/jobwire-test-XXXXXX";
    path = mkdtemp(tmpl);
  }

  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

} // namespace jobwire::test

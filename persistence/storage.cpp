#include "persistence/storage.hpp"

#include <filesystem>
#include <system_error>

namespace jobwire {

std::shared_ptr<storage> open_storage(const env_options& opts,
                                      std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(opts.path, ec) && !fs::is_directory(opts.path, ec)) {
    error = "the data directory '" + opts.path + "' is not a directory";
    return nullptr;
  }
  fs::create_directories(opts.path, ec);
  if (ec) {
    error = "cannot create the data directory '" + opts.path
            + "': " + ec.message();
    return nullptr;
  }
  try {
    auto result = std::make_shared<storage>(opts);
    result->env.clear_stale_readers();
    return result;
  } catch (const lmdb_error& e) {
    error = "cannot open the data directory '" + opts.path + "': " + e.what();
  } catch (const std::exception& e) {
    error = "cannot use the data directory '" + opts.path + "': " + e.what();
  }
  return nullptr;
}

} // namespace jobwire

#pragma once

#include <memory>
#include <string>

#include "persistence/dir_lock.hpp"
#include "persistence/lmdb_env.hpp"
#include "persistence/registry_store.hpp"

namespace jobwire {

/// The process's one LMDB environment and the registry's databases in it.
/// Shared by the actors that read (any) and the registry (the only writer).
struct storage {
  /// Taken before the environment opens, released after it closes.
  dir_lock lock;
  lmdb_env env;
  registry_store store;

  explicit storage(const env_options& opts)
    : lock(opts.path), env(opts), store(env) {
    // nop
  }
};

/// Opens the data directory `opts.path`, creating it if missing, clearing
/// reader slots of dead processes. On failure returns null and a sentence
/// in `error` (a file in the way, a foreign or damaged environment, ...).
std::shared_ptr<storage> open_storage(const env_options& opts,
                                      std::string& error);

} // namespace jobwire

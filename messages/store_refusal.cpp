#include "messages/store_refusal.hpp"

namespace jobwire {

error_code to_error_code(store_refusal x) {
  return x == store_refusal::full || x == store_refusal::disk
           ? error_code::storage_full
           : error_code::internal;
}

std::string_view message(store_refusal x) {
  switch (x) {
    case store_refusal::none:
      return "the store takes writes";
    case store_refusal::full:
      return "the store is full";
    case store_refusal::disk:
      return "the disk refused the write (full, or failing)";
    case store_refusal::failed:
      break;
  }
  return "the store failed";
}

} // namespace jobwire

// libFuzzer target: bytes read back from LMDB as a job record (in any of
// its layouts) or a connection record. A damaged or foreign value must be
// refused (false) or read, never crash or trip a sanitizer; what is read
// must write back to bytes that read back the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "messages/records.hpp"
#include "persistence/record_codec.hpp"

namespace {

template <class T, class Decode>
void round_trip(std::string_view bytes, Decode decode) {
  T x;
  if (!decode(bytes, x))
    return;
  auto once = jobwire::encode_record(x);
  T y;
  if (!decode(once, y))
    std::abort(); // what was read must be readable once written
  if (jobwire::encode_record(y) != once)
    std::abort(); // and read back the same
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  round_trip<jobwire::job_record>(bytes, [](std::string_view b, auto& x) {
    return jobwire::decode_job(b, x);
  });
  round_trip<jobwire::connection_record>(bytes,
                                         [](std::string_view b, auto& x) {
                                           return jobwire::decode_connection(b, x);
                                         });
  return 0;
}

#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"

#include "messages/records.hpp"

namespace jobwire {

/// First byte of every stored record: bump it when a record's layout changes.
constexpr char record_format = 1;

/// Serialises a record with its inspect() into bytes for LMDB.
template <class T>
std::string encode_record(T& x) {
  std::vector<char> buf;
  buf.push_back(record_format);
  caf::binary_serializer sink{nullptr, buf};
  if (auto err = sink(x))
    throw std::runtime_error("cannot serialise a record");
  return {buf.begin(), buf.end()};
}

/// Reads a record back; false for bytes that are not one (a damaged or
/// foreign value), so the caller can report rather than crash.
template <class T>
bool decode_record(std::string_view bytes, T& x) {
  if (bytes.empty() || bytes[0] != record_format)
    return false;
  caf::binary_deserializer source{nullptr, bytes.data() + 1, bytes.size() - 1};
  // Bytes left over mean another layout, or damage.
  return !source(x) && source.remaining() == 0;
}

/// A job record in the current layout, or in an earlier one (a prefix of
/// it: the fields added since keep their defaults). False for bytes that
/// are none, or hold a number that is not finite (damage).
inline bool decode_job(std::string_view bytes, job_record& x) {
  for (int fields : {job_record_layout::current, 3, 2}) {
    x = job_record{};
    job_record_layout layout{x, fields};
    if (decode_record(bytes, layout))
      return has_finite_numbers(x.snapshot);
  }
  return false;
}

/// A connection record in the current layout or an earlier one, as
/// `decode_job`.
inline bool decode_connection(std::string_view bytes, connection_record& x) {
  for (int fields : {connection_record_layout::current, 6}) {
    x = connection_record{};
    connection_record_layout layout{x, fields};
    if (decode_record(bytes, layout))
      return true;
  }
  return false;
}

} // namespace jobwire

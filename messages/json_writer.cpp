#include "messages/json_writer.hpp"

#include <charconv>
#include <cmath>

namespace jobwire {

void append_escaped(std::string& out, std::string_view x) {
  static constexpr char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < x.size(); ++i) {
    auto c = static_cast<unsigned char>(x[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xf];
        } else if (c == 0xe2 && i + 2 < x.size()
                   && static_cast<unsigned char>(x[i + 1]) == 0x80
                   && (static_cast<unsigned char>(x[i + 2]) == 0xa8
                       || static_cast<unsigned char>(x[i + 2]) == 0xa9)) {
          // U+2028 / U+2029 end a line in JavaScript string literals.
          out += static_cast<unsigned char>(x[i + 2]) == 0xa8 ? "\\u2028"
                                                              : "\\u2029";
          i += 2;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void append_number(std::string& out, double x) {
  if (!std::isfinite(x)) {
    out += "null";
    return;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), x);
  out.append(buf, res.ptr);
}

json_writer::json_writer() {
  out_.reserve(256);
  out_ += '{';
}

void json_writer::key(std::string_view k) {
  if (out_.size() > 1)
    out_ += ',';
  out_ += '"';
  out_ += k;
  out_ += "\":";
}

json_writer& json_writer::field(std::string_view k, std::string_view value) {
  key(k);
  out_ += '"';
  append_escaped(out_, value);
  out_ += '"';
  return *this;
}

json_writer& json_writer::field(std::string_view k, uint64_t value) {
  key(k);
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, res.ptr);
  return *this;
}

json_writer& json_writer::field(std::string_view k, int64_t value) {
  key(k);
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), value);
  out_.append(buf, res.ptr);
  return *this;
}

json_writer& json_writer::field(std::string_view k, double value) {
  key(k);
  append_number(out_, value);
  return *this;
}

json_writer& json_writer::field(std::string_view k, bool value) {
  key(k);
  out_ += value ? "true" : "false";
  return *this;
}

json_writer& json_writer::null_field(std::string_view k) {
  key(k);
  out_ += "null";
  return *this;
}

json_writer& json_writer::raw_field(std::string_view k, std::string_view json) {
  key(k);
  out_ += json;
  return *this;
}

std::string json_writer::finish() {
  out_ += '}';
  return std::move(out_);
}

} // namespace jobwire

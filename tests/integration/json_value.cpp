#include "json_value.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include <simdjson.h>

namespace jobwire::test {

namespace {

json_value convert(simdjson::dom::element x) {
  using simdjson::dom::element_type;
  switch (x.type()) {
    case element_type::NULL_VALUE:
      return json_value{};
    case element_type::BOOL:
      return json_value::make_bool(bool(x.get_bool()));
    case element_type::INT64:
      return json_value::make_int(int64_t(x.get_int64()));
    case element_type::UINT64:
      // Above INT64_MAX: keep the value, lose the exactness.
      return json_value::make_double(double(uint64_t(x.get_uint64())));
    case element_type::DOUBLE:
      return json_value::make_double(double(x.get_double()));
    case element_type::STRING:
      return json_value::make_string(std::string{std::string_view(x)});
    case element_type::ARRAY: {
      json_value::array_type xs;
      for (auto y : simdjson::dom::array(x))
        xs.push_back(convert(y));
      return json_value::make_array(std::move(xs));
    }
    case element_type::OBJECT: {
      json_value::object_type xs;
      for (auto [key, value] : simdjson::dom::object(x))
        xs.emplace_back(std::string{key}, convert(value));
      return json_value::make_object(std::move(xs));
    }
  }
  throw json_error("unknown simdjson element type");
}

const char* kind_name(json_value::kind k) {
  switch (k) {
    case json_value::kind::null:
      return "null";
    case json_value::kind::boolean:
      return "boolean";
    case json_value::kind::integer:
      return "integer";
    case json_value::kind::floating:
      return "floating-point number";
    case json_value::kind::string:
      return "string";
    case json_value::kind::array:
      return "array";
    case json_value::kind::object:
      return "object";
  }
  return "?";
}

void dump_to(const json_value& x, std::string& out) {
  switch (x.type()) {
    case json_value::kind::null:
      out += "null";
      break;
    case json_value::kind::boolean:
      out += x.as_bool() ? "true" : "false";
      break;
    case json_value::kind::integer:
      out += std::to_string(x.as_int());
      break;
    case json_value::kind::floating: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.17g", x.as_number());
      out += buf;
      break;
    }
    case json_value::kind::string:
      out += json_quote(x.as_string());
      break;
    case json_value::kind::array: {
      out += '[';
      bool first = true;
      for (auto& y : x.as_array()) {
        if (!first)
          out += ',';
        first = false;
        dump_to(y, out);
      }
      out += ']';
      break;
    }
    case json_value::kind::object: {
      out += '{';
      bool first = true;
      for (auto& [key, value] : x.as_object()) {
        if (!first)
          out += ',';
        first = false;
        out += json_quote(key);
        out += ':';
        dump_to(value, out);
      }
      out += '}';
      break;
    }
  }
}

} // namespace

json_value json_value::parse(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded{text};
  auto result = parser.parse(padded);
  if (result.error())
    throw json_error("invalid JSON ("
                     + std::string{simdjson::error_message(result.error())}
                     + "): " + std::string{text});
  return convert(result.value_unsafe());
}

json_value json_value::make_bool(bool x) {
  json_value result;
  result.kind_ = kind::boolean;
  result.bool_ = x;
  return result;
}

json_value json_value::make_int(int64_t x) {
  json_value result;
  result.kind_ = kind::integer;
  result.int_ = x;
  return result;
}

json_value json_value::make_double(double x) {
  json_value result;
  result.kind_ = kind::floating;
  result.double_ = x;
  return result;
}

json_value json_value::make_string(std::string x) {
  json_value result;
  result.kind_ = kind::string;
  result.string_ = std::move(x);
  return result;
}

json_value json_value::make_array(array_type xs) {
  json_value result;
  result.kind_ = kind::array;
  result.array_ = std::move(xs);
  return result;
}

json_value json_value::make_object(object_type xs) {
  json_value result;
  result.kind_ = kind::object;
  result.object_ = std::move(xs);
  return result;
}

void json_value::require(kind k, const char* what) const {
  if (kind_ != k)
    throw json_error(std::string{"expected "} + what + ", got "
                     + kind_name(kind_) + ": " + dump());
}

bool json_value::as_bool() const {
  require(kind::boolean, "a boolean");
  return bool_;
}

int64_t json_value::as_int() const {
  require(kind::integer, "an integer");
  return int_;
}

double json_value::as_number() const {
  if (kind_ == kind::integer)
    return static_cast<double>(int_);
  require(kind::floating, "a number");
  return double_;
}

const std::string& json_value::as_string() const {
  require(kind::string, "a string");
  return string_;
}

const json_value::array_type& json_value::as_array() const {
  require(kind::array, "an array");
  return array_;
}

const json_value::object_type& json_value::as_object() const {
  require(kind::object, "an object");
  return object_;
}

bool json_value::contains(std::string_view key) const {
  return find(key) != nullptr;
}

const json_value* json_value::find(std::string_view key) const {
  if (kind_ != kind::object)
    return nullptr;
  for (auto& [name, value] : object_)
    if (name == key)
      return &value;
  return nullptr;
}

const json_value& json_value::operator[](std::string_view key) const {
  require(kind::object, "an object");
  if (auto ptr = find(key))
    return *ptr;
  throw json_error("no field \"" + std::string{key} + "\" in " + dump());
}

std::vector<std::string> json_value::keys() const {
  std::vector<std::string> result;
  for (auto& [name, value] : object_)
    result.push_back(name);
  return result;
}

std::string json_value::dump() const {
  std::string result;
  dump_to(*this, result);
  return result;
}

bool operator==(const json_value& x, const json_value& y) {
  if (x.is_number() && y.is_number()) {
    if (x.is_integer() && y.is_integer())
      return x.int_ == y.int_;
    return x.as_number() == y.as_number();
  }
  if (x.kind_ != y.kind_)
    return false;
  switch (x.kind_) {
    case json_value::kind::null:
      return true;
    case json_value::kind::boolean:
      return x.bool_ == y.bool_;
    case json_value::kind::string:
      return x.string_ == y.string_;
    case json_value::kind::array:
      return x.array_ == y.array_;
    case json_value::kind::object: {
      if (x.object_.size() != y.object_.size())
        return false;
      for (auto& [key, value] : x.object_) {
        auto other = y.find(key);
        if (other == nullptr || !(*other == value))
          return false;
      }
      return true;
    }
    default:
      return false;
  }
}

std::ostream& operator<<(std::ostream& out, const json_value& x) {
  return out << x.dump();
}

std::string json_quote(std::string_view x) {
  std::string out;
  out.reserve(x.size() + 2);
  out += '"';
  for (char c : x) {
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
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

} // namespace jobwire::test

#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwire::test {

/// Thrown on malformed JSON, a missing field or a value of another kind.
class json_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// An owned JSON value, parsed with simdjson, that keeps object members in
/// wire order and duplicate keys (so a test can find them).
class json_value {
public:
  enum class kind {
    null,
    boolean,
    integer,
    floating,
    string,
    array,
    object,
  };

  using array_type = std::vector<json_value>;
  using member = std::pair<std::string, json_value>;
  using object_type = std::vector<member>;

  // -- constructors, destructors ----------------------------------------------

  json_value() = default;

  /// Parses `text`, which must hold exactly one JSON value.
  static json_value parse(std::string_view text);

  static json_value make_bool(bool x);
  static json_value make_int(int64_t x);
  static json_value make_double(double x);
  static json_value make_string(std::string x);
  static json_value make_array(array_type xs);
  static json_value make_object(object_type xs);

  // -- properties -------------------------------------------------------------

  kind type() const {
    return kind_;
  }

  bool is_null() const {
    return kind_ == kind::null;
  }

  bool is_bool() const {
    return kind_ == kind::boolean;
  }

  /// An integer as written on the wire (no fraction, no exponent).
  bool is_integer() const {
    return kind_ == kind::integer;
  }

  bool is_number() const {
    return kind_ == kind::integer || kind_ == kind::floating;
  }

  bool is_string() const {
    return kind_ == kind::string;
  }

  bool is_array() const {
    return kind_ == kind::array;
  }

  bool is_object() const {
    return kind_ == kind::object;
  }

  bool as_bool() const;
  int64_t as_int() const;
  double as_number() const;
  const std::string& as_string() const;
  const array_type& as_array() const;
  const object_type& as_object() const;

  /// Whether this is an object with member `key`.
  bool contains(std::string_view key) const;

  /// The member `key`, or nullptr when absent or not an object.
  const json_value* find(std::string_view key) const;

  /// The member `key`; throws `json_error` naming the key when absent.
  const json_value& operator[](std::string_view key) const;

  /// The member names in wire order (duplicates included).
  std::vector<std::string> keys() const;

  /// Compact JSON text.
  std::string dump() const;

  /// Deep equality; numbers compare by value, objects ignore member order.
  friend bool operator==(const json_value& x, const json_value& y);

private:
  void require(kind k, const char* what) const;

  kind kind_ = kind::null;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0;
  std::string string_;
  array_type array_;
  object_type object_;
};

/// Prints `x.dump()`, so that Boost.Test can show values.
std::ostream& operator<<(std::ostream& out, const json_value& x);

/// Escapes `x` as a JSON string literal, quotes included.
std::string json_quote(std::string_view x);

} // namespace jobwire::test

#include "jobwire_bench/frame_scan.hpp"

namespace jobwire::bench {

namespace {

/// A cursor over JSON text that understands just enough to find keys.
class scanner {
public:
  explicit scanner(std::string_view s) : s_(s) {
    // nop
  }

  bool at_end() {
    skip_ws();
    return i_ >= s_.size();
  }

  bool eat(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  bool peek(char c) {
    skip_ws();
    return i_ < s_.size() && s_[i_] == c;
  }

  /// A string's raw contents, without the quotes.
  bool string(std::string_view& out) {
    if (!eat('"'))
      return false;
    auto start = i_;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\\') {
        i_ += 2;
        continue;
      }
      if (c == '"') {
        out = s_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      ++i_;
    }
    return false;
  }

  bool unsigned_number(uint64_t& out) {
    skip_ws();
    auto start = i_;
    uint64_t x = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
      x = x * 10 + static_cast<uint64_t>(s_[i_++] - '0');
    if (i_ == start)
      return skip_value(); // not an unsigned integer: leave it
    // A fraction or exponent: not what we look for, skip the rest.
    while (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E'
                              || s_[i_] == '+' || s_[i_] == '-'
                              || (s_[i_] >= '0' && s_[i_] <= '9')))
      ++i_;
    out = x;
    return true;
  }

  bool skip_value(int depth = 0) {
    skip_ws();
    if (i_ >= s_.size() || depth > 64)
      return false;
    char c = s_[i_];
    if (c == '"') {
      std::string_view ignored;
      return string(ignored);
    }
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++i_;
      if (eat(close))
        return true;
      for (;;) {
        if (c == '{') {
          std::string_view key;
          if (!string(key) || !eat(':'))
            return false;
        }
        if (!skip_value(depth + 1))
          return false;
        if (eat(','))
          continue;
        return eat(close);
      }
    }
    // A number or a literal.
    auto start = i_;
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']'
           && s_[i_] != ' ' && s_[i_] != '\n' && s_[i_] != '\r'
           && s_[i_] != '\t')
      ++i_;
    return i_ > start;
  }

private:
  void skip_ws() {
    while (i_ < s_.size()
           && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r'
               || s_[i_] == '\t'))
      ++i_;
  }

  std::string_view s_;
  size_t i_ = 0;
};

/// Finds `last_seq` in the `status` object.
bool scan_status(scanner& sc, frame_fields& out) {
  if (!sc.peek('{'))
    return sc.skip_value();
  sc.eat('{');
  if (sc.eat('}'))
    return true;
  for (;;) {
    std::string_view key;
    if (!sc.string(key) || !sc.eat(':'))
      return false;
    if (key == "last_seq") {
      if (!sc.unsigned_number(out.status_last_seq))
        return false;
      out.has_status = true;
    } else if (!sc.skip_value(1)) {
      return false;
    }
    if (sc.eat(','))
      continue;
    return sc.eat('}');
  }
}

} // namespace

bool scan_frame(std::string_view text, frame_fields& out) {
  scanner sc{text};
  if (!sc.eat('{'))
    return false;
  if (sc.eat('}'))
    return sc.at_end();
  for (;;) {
    std::string_view key;
    if (!sc.string(key) || !sc.eat(':'))
      return false;
    bool ok = true;
    if (key == "type") {
      ok = sc.string(out.type);
    } else if (key == "job_id") {
      ok = sc.peek('"') ? sc.string(out.job_id) : sc.skip_value();
    } else if (key == "seq") {
      ok = sc.unsigned_number(out.seq);
      out.has_seq = ok;
    } else if (key == "message") {
      ok = sc.peek('"') ? sc.string(out.message) : sc.skip_value();
    } else if (key == "connection_id") {
      ok = sc.peek('"') ? sc.string(out.connection_id) : sc.skip_value();
    } else if (key == "code") {
      ok = sc.peek('"') ? sc.string(out.code) : sc.skip_value();
    } else if (key == "last_seq") {
      ok = sc.unsigned_number(out.last_seq);
      out.has_last_seq = ok;
    } else if (key == "coalesced") {
      ok = sc.unsigned_number(out.coalesced);
    } else if (key == "status") {
      ok = scan_status(sc, out);
    } else {
      ok = sc.skip_value();
    }
    if (!ok)
      return false;
    if (sc.eat(','))
      continue;
    return sc.eat('}') && sc.at_end();
  }
}

uint64_t stamp_of(std::string_view message) {
  if (message.size() < 3 || message[0] != 't' || message[1] != '=')
    return 0;
  uint64_t x = 0;
  for (size_t i = 2; i < message.size() && message[i] >= '0'
                     && message[i] <= '9';
       ++i)
    x = x * 10 + static_cast<uint64_t>(message[i] - '0');
  return x;
}

} // namespace jobwire::bench

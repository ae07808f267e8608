#include "jobwire_bench/report.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>

namespace jobwire::bench {

namespace {

std::string json_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (unsigned char c : s) {
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
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string json_number(double x) {
  if (!std::isfinite(x))
    return "null";
  char buf[64];
  if (x == std::floor(x) && std::fabs(x) < 1e15)
    std::snprintf(buf, sizeof(buf), "%.0f", x);
  else
    std::snprintf(buf, sizeof(buf), "%.6g", x);
  return buf;
}

std::string utc_now() {
  char buf[32];
  auto t = std::time(nullptr);
  tm parts{};
  gmtime_r(&t, &parts);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buf;
}

} // namespace

void verification::problem(std::string text) {
  if (problems.size() < 20)
    problems.push_back(std::move(text));
  else
    ++problems_dropped;
}

std::string grouped(double value, int precision) {
  if (!std::isfinite(value))
    return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", precision, std::fabs(value));
  std::string digits = buf;
  auto dot = digits.find('.');
  auto int_end = dot == std::string::npos ? digits.size() : dot;
  std::string out;
  for (size_t i = 0; i < int_end; ++i) {
    if (i > 0 && (int_end - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  out += digits.substr(int_end);
  return value < 0 ? "-" + out : out;
}

void report::print(FILE* out) const {
  std::fprintf(out, "\njobwire-bench %s against %s (%s)\n", scenario.c_str(),
               url.c_str(), utc_now().c_str());
  std::string line = " ";
  for (auto& [k, v] : params)
    line += " " + k + "=" + v;
  std::fprintf(out, "%s\n\n", line.c_str());
  size_t width = 6;
  for (auto& r : rows)
    width = std::max(width, r.label.size());
  std::fprintf(out, "  %-*s  %s\n", static_cast<int>(width), "metric", "value");
  std::fprintf(out, "  %s  %s\n", std::string(width, '-').c_str(),
               std::string(18, '-').c_str());
  for (auto& r : rows)
    std::fprintf(out, "  %-*s  %s%s%s\n", static_cast<int>(width),
                 r.label.c_str(), grouped(r.value, r.precision).c_str(),
                 r.unit.empty() ? "" : " ", r.unit.c_str());
  if (!notes.empty()) {
    std::fprintf(out, "\n");
    for (auto& n : notes)
      std::fprintf(out, "  note: %s\n", n.c_str());
  }
  auto& v = verified;
  std::fprintf(out, "\nverified: %s %s, %s missing, %s out of order, %s "
                    "duplicates",
               grouped(static_cast<double>(v.events)).c_str(), v.unit.c_str(),
               grouped(static_cast<double>(v.missing)).c_str(),
               grouped(static_cast<double>(v.out_of_order)).c_str(),
               grouped(static_cast<double>(v.duplicates)).c_str());
  if (v.coalesced > 0)
    std::fprintf(out, " (%s coalesced for stalled clients, as allowed)",
                 grouped(static_cast<double>(v.coalesced)).c_str());
  std::fprintf(out, "\n");
  for (auto& p : v.problems)
    std::fprintf(out, "  problem: %s\n", p.c_str());
  if (v.problems_dropped > 0)
    std::fprintf(out, "  ... and %zu more problems\n", v.problems_dropped);
  if (v.ok())
    std::fprintf(out, "OK\n");
  else
    std::fprintf(out, "FAILED: this run lost or mangled messages; its "
                      "figures are not figures\n");
  std::fflush(out);
}

std::string report::write_json(const std::string& path) const {
  std::string s = "{\n  \"scenario\": " + json_escape(scenario)
                  + ",\n  \"url\": " + json_escape(url)
                  + ",\n  \"date\": " + json_escape(utc_now())
                  + ",\n  \"ok\": " + (verified.ok() ? "true" : "false")
                  + ",\n  \"params\": {";
  bool first = true;
  for (auto& [k, v] : params) {
    s += (first ? "\n    " : ",\n    ") + json_escape(k) + ": "
         + json_escape(v);
    first = false;
  }
  s += "\n  },\n  \"metrics\": {";
  first = true;
  for (auto& r : rows) {
    s += (first ? "\n    " : ",\n    ") + json_escape(r.key) + ": "
         + json_number(r.value);
    first = false;
  }
  s += "\n  },\n  \"verified\": {\n    \"unit\": " + json_escape(verified.unit)
       + ",\n    \"count\": " + std::to_string(verified.events)
       + ",\n    \"missing\": " + std::to_string(verified.missing)
       + ",\n    \"out_of_order\": " + std::to_string(verified.out_of_order)
       + ",\n    \"duplicates\": " + std::to_string(verified.duplicates)
       + ",\n    \"coalesced\": " + std::to_string(verified.coalesced)
       + ",\n    \"problems\": [";
  first = true;
  for (auto& p : verified.problems) {
    s += (first ? "" : ", ") + json_escape(p);
    first = false;
  }
  s += "]\n  },\n  \"notes\": [";
  first = true;
  for (auto& n : notes) {
    s += (first ? "" : ", ") + json_escape(n);
    first = false;
  }
  s += "]\n}\n";
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr)
    return "cannot write " + path + ": " + std::strerror(errno);
  std::fwrite(s.data(), 1, s.size(), f);
  std::fclose(f);
  return {};
}

} // namespace jobwire::bench

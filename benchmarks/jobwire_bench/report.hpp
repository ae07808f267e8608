#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace jobwire::bench {

/// What the checks found; any problem fails the run.
struct verification {
  /// Events received and checked (or acknowledged, for persistence).
  uint64_t events = 0;
  uint64_t missing = 0;
  uint64_t out_of_order = 0;
  uint64_t duplicates = 0;
  /// Coalesced progress_updates seen by stalled clients (allowed).
  uint64_t coalesced = 0;
  /// What the summary line counts ("events", "connections").
  std::string unit = "events";
  std::vector<std::string> problems;

  bool ok() const {
    return missing == 0 && out_of_order == 0 && duplicates == 0
           && problems.empty();
  }

  /// Adds a problem, keeping the list short.
  void problem(std::string text);

  size_t problems_dropped = 0;
};

/// The figures of one run: a table on stdout, optionally JSON.
class report {
public:
  struct row {
    std::string key;
    std::string label;
    double value;
    std::string unit;
    int precision;
  };

  std::string scenario;
  std::string url;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<row> rows;
  std::vector<std::string> notes;
  verification verified;

  void param(std::string key, std::string value) {
    params.emplace_back(std::move(key), std::move(value));
  }

  void add(std::string key, std::string label, double value,
           std::string unit = {}, int precision = 0) {
    rows.push_back({std::move(key), std::move(label), value, std::move(unit),
                    precision});
  }

  void note(std::string text) {
    notes.push_back(std::move(text));
  }

  void print(FILE* out) const;

  /// An error text on failure.
  std::string write_json(const std::string& path) const;
};

/// 1234567 -> "1,234,567" (with `precision` decimals).
std::string grouped(double value, int precision = 0);

} // namespace jobwire::bench

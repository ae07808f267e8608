// jobwire-bench: a load generator for a running jobwire server. See
// benchmarks/README.md.
#include <cstdio>

#include <signal.h>

#include "jobwire_bench/bench_run.hpp"
#include "jobwire_bench/options.hpp"

int main(int argc, char** argv) {
  using namespace jobwire::bench;
  signal(SIGPIPE, SIG_IGN);
  options opt;
  auto err = parse_options(argc, argv, opt);
  if (opt.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (err.empty())
    err = apply_defaults(opt);
  if (!err.empty()) {
    std::fprintf(stderr, "jobwire-bench: %s\n", err.c_str());
    return 2;
  }
  bench_run run{opt};
  return run.run();
}

#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with Debian's clang 14 in ./build-fuzz
# (messages/*.cpp, net/http_route.cpp and net/boost_assert.cpp compiled in,
# with ASan and UBSan) and runs each for FUZZ_SECONDS (default 20). Fails if
# any target crashes, leaks, trips a sanitizer or times out; the input is left
# in build-fuzz/artifacts/<target>/.
#   FUZZ_SECONDS=600 scripts/fuzz.sh                 # longer
#   FUZZ_TARGETS="publish_parser" scripts/fuzz.sh    # some targets only
#   FUZZ_BUILD_ONLY=1 scripts/fuzz.sh                # build, do not run
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-20}
jobs=${JOBS:-2}
targets=${FUZZ_TARGETS:-"command_parser publish_parser http_request record_decode"}
start=$(date +%s)

# clang 14 and its runtimes (libclang_rt.fuzzer comes with libclang-rt-14-dev).
missing=()
for p in clang-14 libclang-rt-14-dev libfuzzer-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
fi
cxx=clang++-14

out=$root/build-fuzz
mkdir -p "$out/obj"
flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer
       -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -DBOOST_ENABLE_ASSERT_DEBUG_HANDLER
       -I"$root" $(pkg-config --cflags spdlog simdjson))
libs=(-lcaf_core $(pkg-config --libs spdlog simdjson) -pthread)

# The library code: instrumented for coverage, no libFuzzer main.
sources=("$root"/messages/*.cpp "$root"/net/http_route.cpp
         "$root"/net/request_framing.cpp "$root"/net/boost_assert.cpp)
compile() { # src obj
  if [[ ! -f $2 || $1 -nt $2 || -n $(find "$root/messages" "$root/net" -name '*.hpp' -newer "$2" -print -quit) ]]; then
    echo "  CXX $(realpath --relative-to="$root" "$1")"
    $cxx "${flags[@]}" -fsanitize=fuzzer-no-link -c "$1" -o "$2"
  fi
}
export -f compile
export cxx root
objs=()
pids=()
for src in "${sources[@]}"; do
  obj=$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.cpp}").o
  objs+=("$obj")
  compile "$src" "$obj" &
  pids+=($!)
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n; done
done
for p in "${pids[@]}"; do wait "$p"; done

for t in $targets; do
  bin=$out/${t}_fuzz
  if [[ ! -f $bin || fuzz/${t}_fuzz.cpp -nt $bin || -n $(find "$out/obj" -newer "$bin" -print -quit) ]]; then
    echo "  LINK ${t}_fuzz"
    $cxx "${flags[@]}" -fsanitize=fuzzer "fuzz/${t}_fuzz.cpp" "${objs[@]}" \
      "${libs[@]}" -o "$bin"
  fi
done
built=$(date +%s)
echo "fuzz.sh: build took $((built - start)) s"
[[ -n ${FUZZ_BUILD_ONLY:-} ]] && exit 0

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
for t in $targets; do
  max_len=4096
  [[ $t == http_request ]] && max_len=16384
  work=$out/corpus/$t          # grows; the seeds in fuzz/corpus stay as they are
  art=$out/artifacts/$t/
  mkdir -p "$work" "$art"
  echo "== $t: ${seconds} s"
  if "$out/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$art" \
       "$work" "fuzz/corpus/$t" > "$out/$t.log" 2>&1; then
    grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added' "$out/$t.log" || true
  else
    status=1
    echo "!! $t FAILED; log: $out/$t.log; artifacts: $art"
    grep -E 'ERROR|SUMMARY|runtime error|publish_parser_fuzz:|Test unit written' "$out/$t.log" | head -20 || true
    for f in "$art"*; do
      [[ -f $f ]] && { echo "   $f:"; xxd -p "$f" | tr -d '\n' | head -c 4000; echo; }
    done
  fi
done
echo "fuzz.sh: total $(( $(date +%s) - start )) s"
exit $status

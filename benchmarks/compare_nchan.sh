#!/bin/bash
# jobwire side by side with nchan (nginx's pub/sub module): the same
# jobwire-bench scenarios against both servers in one run, the server on
# CPU 0 and the generator on CPU 1, then a table of jobwire/nchan ratios.
# See "Side by side with nchan" in benchmarks/README.md.
#
# usage: benchmarks/compare_nchan.sh        (from anywhere in the repo)
#
# Environment knobs:
#   DURATION=10            seconds of publishing per run
#   SCENARIOS="fanout many-jobs many-jobs-10k many-jobs-caf many-jobs-10k-caf"
#                          which to run; the -caf ones have jobwire's
#                          publishers send over CAF, as pipelines do (nchan
#                          is published to over HTTP, its only way)
#   BUILD_DIR=build-bench  the Release build to use (built when missing)
#   JOBS=                  ninja -j for that build (default: ninja's)
#   JOBWIRE=, JOBWIRE_BENCH=
#                          binaries built elsewhere (both given: no build)
#   RESULTS=DIR            where the outputs go (default: a new temp dir)
#   QUIET_WAIT=120         seconds to wait before each run for the machine
#                          to be quiet (other processes < 15 % of a core);
#                          the run starts anyway after that, with a note
#
# Exits 1 when any run failed its verification (or a server would not
# start), 0 otherwise; a scenario skipped for lack of file descriptors is
# not a failure.
set -u

cd "$(dirname "$0")/.." || exit 2
DURATION=${DURATION:-10}
SCENARIOS=${SCENARIOS:-"fanout many-jobs many-jobs-10k many-jobs-caf many-jobs-10k-caf"}
BUILD_DIR=${BUILD_DIR:-build-bench}
JOBS=${JOBS:-}
QUIET_WAIT=${QUIET_WAIT:-120}
RESULTS=${RESULTS:-$(mktemp -d "${TMPDIR:-/tmp}/compare_nchan.XXXXXX")}
mkdir -p "$RESULTS"

server=${JOBWIRE:-$BUILD_DIR/jobwire}
bench=${JOBWIRE_BENCH:-$BUILD_DIR/benchmarks/jobwire-bench}
nchan_module=/usr/lib/nginx/modules/ngx_nchan_module.so
conf_template=benchmarks/nchan/nginx.conf

say() { echo "compare_nchan: $*" >&2; }
# shellcheck source=benchmarks/server_lib.sh
. benchmarks/server_lib.sh

# -- nginx and nchan from Debian ---------------------------------------------

install_nchan() {
  if command -v nginx >/dev/null && [ -f "$nchan_module" ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    say "nginx and libnginx-mod-nchan are missing; install them as root:"
    say "  apt-get install nginx libnginx-mod-nchan"
    return 1
  fi
  say "installing nginx and libnginx-mod-nchan"
  # Keep the package scripts from starting a system nginx on port 80.
  local own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  { apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        nginx libnginx-mod-nchan; } >"$RESULTS/apt.log" 2>&1 || rc=$?
  [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
  if [ $rc -ne 0 ]; then
    say "apt-get failed; see $RESULTS/apt.log"
    return 1
  fi
  stop_system_nginx
}

# A system nginx that the package started anyway would hold port 80 and a
# CPU's worth of workers: stop it.
stop_system_nginx() {
  local pid
  pid=$(cat /run/nginx.pid 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    say "stopping the system nginx (pid $pid) the package started"
    if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then
      systemctl stop nginx
    else
      kill -QUIT "$pid"
    fi
  fi
}

# -- build ------------------------------------------------------------------------

build() {
  if [ -n "${JOBWIRE:-}" ] && [ -n "${JOBWIRE_BENCH:-}" ]; then
    return 0
  fi
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      >"$RESULTS/cmake.log" 2>&1 || { say "cmake failed; see $RESULTS/cmake.log"; return 1; }
  fi
  # A no-op when both are up to date.
  ninja -C "$BUILD_DIR" ${JOBS:+-j"$JOBS"} jobwire jobwire-bench \
    >"$RESULTS/build.log" 2>&1 || { say "build failed; see $RESULTS/build.log"; return 1; }
}

# -- servers ------------------------------------------------------------------------

spid=    # the process to stop after a run
wpid=    # the process doing the work (nginx's worker)
port=
caf_port=

stop_server() {
  stop_process "$spid"
  spid=
  wpid=
}
trap stop_server EXIT

start_jobwire_run() { # dir
  if ! start_jobwire "$1" taskset -c 0 "$server" --durability=sync; then
    say "jobwire did not start; see $1/server.err"
    stop_process "$server_pid"
    return 1
  fi
  spid=$server_pid
  wpid=$server_pid
  port=$server_port
  caf_port=$server_caf_port
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_nchan() { # dir
  local dir=$1
  mkdir -p "$dir"
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    port_in_use "$port" && continue
    sed "s/@PORT@/$port/" "$conf_template" >"$dir/nginx.conf"
    taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
      >"$dir/server.out" 2>&1 &
    spid=$!
    for _ in $(seq 50); do
      kill -0 "$spid" 2>/dev/null || break
      wpid=$(pgrep -P "$spid" | head -1)
      if [ -n "$wpid" ] && port_in_use "$port"; then
        return 0
      fi
      sleep 0.1
    done
    stop_server
  done
  say "nginx did not start; see $dir/error.log"
  return 1
}

# -- runs ---------------------------------------------------------------------------

# Busy jiffies of all CPUs, and all jiffies (the first line of /proc/stat).
cpu_jiffies() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8; print busy, busy + $5 + $6; exit }' /proc/stat
}

# Waits until the machine was quiet for a second (< 15 % of one core busy),
# at most QUIET_WAIT seconds; says so when it was not.
wait_quiet() {
  local cpus deadline b0 t0 b1 t1
  cpus=$(nproc)
  deadline=$((SECONDS + QUIET_WAIT))
  while :; do
    read -r b0 t0 < <(cpu_jiffies)
    sleep 1
    read -r b1 t1 < <(cpu_jiffies)
    # busy share of one core, in %
    if [ $(( (b1 - b0) * 100 * cpus / (t1 - t0 + 1) )) -lt 15 ]; then
      return 0
    fi
    if [ $SECONDS -ge $deadline ]; then
      say "the machine is still busy after ${QUIET_WAIT}s; running anyway"
      return 0
    fi
  done
}

failed=0
declare -A figure

json_metric() { # file key
  sed -n "s/^ *\"$2\": \\([-0-9.e+]*\\),\\{0,1\\}\$/\\1/p" "$1" | head -1
}

run_one() { # name target args...
  local name=$1 target=$2
  shift 2
  local dir=$RESULTS/$name-$target
  rm -rf "$dir"
  wait_quiet
  if [ "$target" = nchan ]; then
    start_nchan "$dir" || { failed=1; return; }
  else
    start_jobwire_run "$dir" || { failed=1; return; }
  fi
  # jobwire's publishers over CAF in the -caf scenarios.
  if [ "$target" = jobwire ] && [[ $name == *-caf ]]; then
    set -- "$@" --publish-via=caf --caf-port="$caf_port"
  fi
  say "$name against $target (port $port, pid $wpid): $*"
  taskset -c 1 "$bench" --target="$target" --url="http://127.0.0.1:$port" \
    --server-pid="$wpid" --cpu=1 --duration="$DURATION" --quiet \
    --json="$dir/result.json" "$@" >"$dir/bench.out" 2>"$dir/bench.err"
  local rc=$?
  stop_server
  if [ $rc -ne 0 ]; then
    say "$name against $target: FAILED (exit $rc); see $dir/bench.out"
    tail -5 "$dir/bench.out" "$dir/bench.err" >&2
    failed=1
    return
  fi
  figure[$name,$target,rate]=$(json_metric "$dir/result.json" deliveries_per_s)
  figure[$name,$target,p99]=$(json_metric "$dir/result.json" latency_p99_ms)
  figure[$name,$target,cpu]=$(json_metric "$dir/result.json" server_cpu_pct)
  figure[$name,$target,others]=$(json_metric "$dir/result.json" others_cpu_pct)
}

# Both servers need a descriptor per connection.
fd_hard=$(ulimit -Hn)
[ "$fd_hard" = unlimited ] && fd_hard=1048576
ulimit -n "$fd_hard"

install_nchan || exit 1
stop_system_nginx
build || exit 1

declare -A args=(
  [fanout]="--scenario=fanout --connections=1000"
  [many-jobs]="--scenario=many-jobs --connections=1000 --jobs=100"
  [many-jobs-10k]="--scenario=many-jobs --connections=10000 --jobs=100"
  [many-jobs-caf]="--scenario=many-jobs --connections=1000 --jobs=100"
  [many-jobs-10k-caf]="--scenario=many-jobs --connections=10000 --jobs=100"
)
declare -A label=(
  [fanout]="fanout, 1,000 subscribers, 1 job"
  [many-jobs]="many-jobs, 1,000 conns / 100 jobs, max"
  [many-jobs-10k]="many-jobs, 10,000 conns / 100 jobs, max"
  [many-jobs-caf]="many-jobs 1,000/100, jobwire via CAF"
  [many-jobs-10k-caf]="many-jobs 10,000/100, jobwire via CAF"
)
declare -A needs=([fanout]=1100 [many-jobs]=1100 [many-jobs-10k]=10200
                  [many-jobs-caf]=1100 [many-jobs-10k-caf]=10200)

for name in $SCENARIOS; do
  if [ -z "${args[$name]:-}" ]; then
    say "unknown scenario '$name' (fanout, many-jobs, many-jobs-10k, many-jobs-caf, many-jobs-10k-caf)"
    exit 2
  fi
done

ran=()
for name in $SCENARIOS; do
  if [ "$fd_hard" -lt "${needs[$name]}" ]; then
    say "skipping $name: it needs ${needs[$name]} file descriptors, the hard limit (ulimit -Hn) is $fd_hard"
    continue
  fi
  # shellcheck disable=SC2086 # the arguments are words
  run_one "$name" jobwire ${args[$name]}
  # shellcheck disable=SC2086
  run_one "$name" nchan ${args[$name]}
  ran+=("$name")
done

# -- table ------------------------------------------------------------------------

echo
if [ -n "${JOBWIRE:-}" ]; then
  built="jobwire $server"
else
  built="commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
fi
echo "jobwire vs nchan, $(date -u +%Y-%m-%dT%H:%M:%SZ), $built, ${DURATION}s per run"
echo "server on CPU 0, jobwire-bench on CPU 1; outputs in $RESULTS"
echo
fmt_rate() { if [ -n "$1" ]; then awk -v x="$1" 'BEGIN { printf "%.0f", x }'; else echo FAILED; fi; }
fmt_ms() { if [ -n "$1" ]; then awk -v x="$1" 'BEGIN { printf "%.1f", x }'; else echo -; fi; }
printf '%-42s %12s %12s %8s %11s %11s %9s %9s\n' scenario "jobwire d/s" "nchan d/s" ratio \
  "jw p99 ms" "nchan p99" "jw CPU%" "nchan CPU%"
for name in "${ran[@]}"; do
  jr=${figure[$name,jobwire,rate]:-}
  nr=${figure[$name,nchan,rate]:-}
  ratio=-
  if [ -n "$jr" ] && [ -n "$nr" ]; then
    ratio=$(awk -v a="$jr" -v b="$nr" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  fi
  printf '%-42s %12s %12s %8s %11s %11s %9s %9s\n' "${label[$name]}" \
    "$(fmt_rate "$jr")" "$(fmt_rate "$nr")" "$ratio" \
    "$(fmt_ms "${figure[$name,jobwire,p99]:-}")" "$(fmt_ms "${figure[$name,nchan,p99]:-}")" \
    "$(fmt_rate "${figure[$name,jobwire,cpu]:-}")" "$(fmt_rate "${figure[$name,nchan,cpu]:-}")"
done
for name in "${ran[@]}"; do
  for t in jobwire nchan; do
    o=${figure[$name,$t,others]:-}
    if [ -n "$o" ] && awk -v x="$o" 'BEGIN { exit !(x > 15) }'; then
      echo "note: other processes used ${o%.*}% of a core during $name against $t"
    fi
  done
done
if [ $failed -ne 0 ]; then
  echo "FAILED: at least one run did not verify (see above)"
  exit 1
fi
echo "OK: every run verified (0 missing, 0 out of order, 0 duplicates)"

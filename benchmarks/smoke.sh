#!/bin/bash
# Smoke test of jobwire-bench: starts a jobwire of its own on free ports in a
# temporary directory and runs every scenario for a second or two with small
# sizes. Fails only when a run lost or mangled messages (or could not run),
# never on speed.
#
# usage: smoke.sh path/to/jobwire path/to/jobwire-bench
set -u

server=${1:?usage: smoke.sh JOBWIRE JOBWIRE_BENCH}
bench=${2:?usage: smoke.sh JOBWIRE JOBWIRE_BENCH}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/jobwire-bench-smoke.XXXXXX")
pid=

cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$server" --port=0 --caf-port=0 --data-dir="$tmp/data" --log-level=warn \
  >"$tmp/server.out" 2>"$tmp/server.err" &
pid=$!

port=
for _ in $(seq 100); do
  port=$(sed -n 's#^jobwire listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' \
           "$tmp/server.out")
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "smoke: jobwire did not start; its output:" >&2
  cat "$tmp/server.out" "$tmp/server.err" >&2
  exit 1
fi
echo "smoke: jobwire (pid $pid) on port $port"

failed=0
run() {
  echo "smoke: jobwire-bench $*"
  "$bench" --url="http://127.0.0.1:$port" --server-pid="$pid" --quiet \
    --json="$tmp/last.json" "$@"
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "smoke: FAILED (exit $rc): jobwire-bench $*" >&2
    failed=1
  fi
}

run --scenario=fanout --connections=50 --duration=1
run --scenario=many-jobs --connections=100 --jobs=10 --duration=1 --rate=1000
run --scenario=capacity --connections=300 --duration=1
run --scenario=persistence --publishers=2 --window=4 --duration=1
run --scenario=reconnect --connections=60 --jobs=6 --events=20
run --scenario=stalled --connections=100 --jobs=10 --stalled=0.1 --duration=1

if ! kill -0 "$pid" 2>/dev/null; then
  echo "smoke: jobwire died during the runs; its stderr:" >&2
  tail -20 "$tmp/server.err" >&2
  failed=1
fi
if [ $failed -ne 0 ]; then
  echo "smoke: FAILED" >&2
  exit 1
fi
echo "smoke: all scenarios verified"

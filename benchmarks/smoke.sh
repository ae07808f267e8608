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
# shellcheck source=benchmarks/server_lib.sh
. "$(dirname "$0")/server_lib.sh"
server_pid=

cleanup() {
  stop_process "$server_pid"
  rm -rf "$tmp"
}
trap cleanup EXIT

if ! start_jobwire "$tmp" "$server"; then
  echo "smoke: jobwire did not start; its output:" >&2
  cat "$tmp/server.out" "$tmp/server.err" >&2
  exit 1
fi
pid=$server_pid
port=$server_port
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
# Publishers over CAF, as pipeline processes publish.
caf=(--publish-via=caf --caf-port="$server_caf_port")
run --scenario=many-jobs --connections=100 --jobs=10 --duration=1 --rate=1000 "${caf[@]}"
run --scenario=persistence --publishers=2 --window=4 --duration=1 "${caf[@]}"

# A --server-pid that is not the server listening there is refused, not
# measured: figures of one process must not be reported as another's.
expect_refused() { # what expected-text bench-args...
  local what=$1 text=$2 out rc
  shift 2
  out=$("$bench" --url="http://127.0.0.1:$port" --quiet --scenario=fanout \
    --connections=10 --duration=1 "$@" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] || [[ $out != *"$text"* ]]; then
    echo "smoke: FAILED: $what: exit $rc, expected a refusal saying" \
      "'$text'; got: $out" >&2
    failed=1
  else
    echo "smoke: $what refused: $out"
  fi
}
expect_refused "--publish-via=caf without --caf-port" "needs --caf-port" \
  --server-pid="$pid" --publish-via=caf
sleep 30 &
other=$!
expect_refused "a --server-pid that does not listen" "does not listen on port" \
  --server-pid="$other"
kill "$other"
wait "$other" 2>/dev/null
expect_refused "a --server-pid that is not running" "is not running" \
  --server-pid="$other"

if ! kill -0 "$pid" 2>/dev/null; then
  echo "smoke: jobwire died during the runs; its stderr:" >&2
  tail -20 "$tmp/server.err" >&2
  failed=1
fi
stop_process "$pid"

# A server with access control: the bench sends --token, and refuses to run
# (exit 2, saying why) without one that may view and publish.
printf '%s' 0123456789abcdef0123456789abcdef-smoke-secret >"$tmp/secret"
mint() { # scope
  python3 - "$tmp/secret" "$1" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "smoke", "exp": int(time.time()) + 600,
                       "scope": sys.argv[2], "jobs": ["bench-*"]}).encode())
key = open(sys.argv[1], "rb").read()
sig = hmac.new(key, (head + "." + body).encode(), hashlib.sha256).digest()
print(head + "." + body + "." + b64(sig))
PY
}
if ! start_jobwire "$tmp/auth" "$server" --auth-secret-file="$tmp/secret"; then
  echo "smoke: jobwire with --auth-secret-file did not start" >&2
  cat "$tmp/auth/server.err" >&2
  exit 1
fi
pid=$server_pid
port=$server_port
run --scenario=many-jobs --connections=50 --jobs=5 --duration=1 \
  --token="$(mint 'view publish')"
run --scenario=reconnect --connections=30 --jobs=3 --events=10 \
  --token="$(mint 'view publish')"
expect_refused "a run without a token" "refused a request without a token" \
  --server-pid="$pid"
expect_refused "a token that may not publish" "does not allow 'publish'" \
  --server-pid="$pid" --token="$(mint view)"
stop_process "$pid"

# A server that dies mid-run: the bench stops publishing once every
# publisher has failed (not at the end of a 60 s --duration) and fails.
if ! start_jobwire "$tmp/dies" "$server"; then
  echo "smoke: jobwire for the server-death run did not start" >&2
  exit 1
fi
pid=$server_pid
port=$server_port
"$bench" --url="http://127.0.0.1:$port" --quiet --scenario=many-jobs \
  --connections=20 --jobs=2 --rate=200 --duration=60 >"$tmp/dies/bench.out" 2>&1 &
bench_pid=$!
sleep 2
kill -KILL "$pid"
wait "$pid" 2>/dev/null
wait "$bench_pid"
rc=$?
if [ $rc -ne 1 ] || ! grep -q "every publisher failed" "$tmp/dies/bench.out"; then
  echo "smoke: FAILED: a server killed mid-run: exit $rc, expected 1 and" \
    "'every publisher failed'; got:" >&2
  grep -v '^  problem' "$tmp/dies/bench.out" | tail -5 >&2
  failed=1
else
  echo "smoke: a server killed mid-run: $(grep 'every publisher failed' "$tmp/dies/bench.out")"
fi

if [ $failed -ne 0 ]; then
  echo "smoke: FAILED" >&2
  exit 1
fi
echo "smoke: all scenarios verified"

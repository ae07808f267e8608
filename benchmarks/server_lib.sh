# shellcheck shell=bash
# Shell helpers for the benchmark scripts (smoke.sh, compare_nchan.sh) that
# run a server of their own: source it, do not run it.

# Starts `"$@" --port=0 --caf-port=0 --data-dir=DIR/data --log-level=warn`
# in the background with its output in DIR, and waits for the ports it
# chose. Sets server_pid, server_port and server_caf_port; returns 1 when it
# did not start.
# usage: start_jobwire DIR [taskset -c 0] path/to/jobwire [options...]
start_jobwire() {
  local dir=$1
  shift
  mkdir -p "$dir"
  "$@" --port=0 --caf-port=0 --data-dir="$dir/data" --log-level=warn \
    >"$dir/server.out" 2>"$dir/server.err" &
  server_pid=$!
  server_port=
  server_caf_port=
  for _ in $(seq 100); do
    server_port=$(sed -n 's#^jobwire listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*#\1#p' \
                    "$dir/server.out")
    server_caf_port=$(sed -n 's#^jobwire caf port \([0-9][0-9]*\).*#\1#p' \
                        "$dir/server.out")
    [ -n "$server_port" ] && [ -n "$server_caf_port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

# Asks process PID to stop (TERM), and kills it after 5 s.
stop_process() {
  local pid=$1
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running server:
# installs what is missing, builds, starts jobwire on its defaults.
# Extra arguments go to jobwire, e.g. scripts/serve.sh --port=9000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/jobwire "$@"

#!/usr/bin/env bash
# Installs what jobwire needs to build, test and run, from Debian 12's
# packages. Run as root; does nothing when everything is there already.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libcaf-dev libboost1.81-dev libboost-test1.81-dev
  libsimdjson-dev liblmdb-dev libspdlog-dev lmdb-utils libjwt-dev libssl-dev
  curl python3-websockets openssl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

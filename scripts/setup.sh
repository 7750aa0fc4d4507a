#!/usr/bin/env bash
# One-time set-up on a Debian/Ubuntu machine with Node 20: system packages lorkd uses (installed
# with apt only when missing), then the npm workspace install. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# Optional speed-ups, installed when apt can: oneDNN for the native conv kernels, a C++ toolchain to build them.
if [ "${LORKD_SKIP_OPTIONAL:-0}" != "1" ]; then
  dpkg -s libdnnl-dev >/dev/null 2>&1 || need+=(libdnnl-dev)
  command -v g++ >/dev/null 2>&1 || need+=(g++ make python3)
fi

if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "lorkd setup: installing ${need[*]} with apt-get" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || echo "lorkd setup: could not install some of: ${need[*]} (redis-server is required; the rest are optional)" >&2
  else
    echo "lorkd setup: please install ${need[*]} (no apt-get here)" >&2
  fi
fi
command -v redis-server >/dev/null 2>&1 || { echo "lorkd setup: redis-server is required but missing" >&2; exit 1; }

node -e 'const [maj,min]=process.versions.node.split(".").map(Number); if (maj<20||(maj===20&&min<11)) { console.error("lorkd needs Node >= 20.11, found "+process.version); process.exit(1) }'
npm ci --no-audit --no-fund
# Optional native kernels (oneDNN via N-API); exits 0 with an install hint when g++ or libdnnl-dev are missing.
bash scripts/build-native.sh

#!/usr/bin/env bash
# Builds the optional native kernel addon (packages/compute/native, oneDNN via N-API) with node-gyp.
# Never fails setup: when the compiler, oneDNN headers or Node headers are missing it says what to install and
# exits 0, and lorkd runs on the pure-wasm kernels. Set LORKD_NATIVE_STRICT=1 to make a failed build exit 1.
set -uo pipefail
cd "$(dirname "$0")/.."
dir="packages/compute/native"
strict="${LORKD_NATIVE_STRICT:-0}"

skip() {
  echo "lorkd build-native: skipped: $1" >&2
  echo "lorkd build-native: to enable the native kernels: $2" >&2
  rm -f "$dir/build/Release/lorkd_native.node"
  if [ "$strict" = "1" ]; then exit 1; fi
  exit 0
}

command -v g++ >/dev/null 2>&1 || skip "no C++ compiler (g++)" "apt-get install g++ make python3"
command -v make >/dev/null 2>&1 || skip "no make" "apt-get install make"
command -v python3 >/dev/null 2>&1 || skip "no python3 (node-gyp needs it)" "apt-get install python3"
if ! echo '#include "oneapi/dnnl/dnnl.hpp"' | g++ -std=c++17 -fsyntax-only -x c++ - >/dev/null 2>&1; then
  skip "oneDNN headers not found (oneapi/dnnl/dnnl.hpp)" "apt-get install libdnnl-dev"
fi

# Node headers: use the system's (Debian's nodejs ships them in /usr/include/node) so node-gyp needs no download.
nodedir_args=()
node_prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -f "$node_prefix/include/node/node_api.h" ]; then
  nodedir_args=(--nodedir="$node_prefix")
elif [ -f /usr/include/node/node_api.h ]; then
  nodedir_args=(--nodedir=/usr)
fi

# node-gyp: the copy bundled with npm, else npx (from the npm registry).
gyp_js="$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js"
if [ -f "$gyp_js" ]; then
  gyp=(node "$gyp_js")
else
  gyp=(npx --yes node-gyp)
fi

echo "lorkd build-native: building $dir with ${gyp[*]} ${nodedir_args[*]}" >&2
log="$(mktemp)"
if ! "${gyp[@]}" rebuild --directory="$dir" "${nodedir_args[@]}" >"$log" 2>&1; then
  tail -40 "$log" >&2
  rm -f "$log"
  skip "node-gyp build failed (log above)" "fix the error above, then run bash scripts/build-native.sh again"
fi
rm -f "$log"

if ! node -e 'const a = require(process.argv[1]); process.stdout.write(a.version() + "\n")' \
  "$PWD/$dir/build/Release/lorkd_native.node"; then
  skip "the built addon does not load" "check that libdnnl2 is installed (apt-get install libdnnl-dev)"
fi
echo "lorkd build-native: ok: $dir/build/Release/lorkd_native.node" >&2

#!/usr/bin/env bash
# setup_pyarrow_venv.sh: creates or reuses the small venv with pyarrow and PyAV (pins in
# requirements-pyarrow.txt) that checks our Parquet files and LeRobot datasets, and prints its
# python. Called by check_lerobot.sh and tests/sim/test_parquet.cpp, test_synth.cpp.
# Where: ${XDG_CACHE_HOME:-~/.cache}/worldloop/venv-reference-pyarrow-<key>; like setup_venv.sh it
# is made by the torch venv's interpreter with a .pth to the torch venv's site-packages (numpy
# without a second download), and pip from the torch venv installs only what is missing.
# Idempotent (a stamp after a complete install; flock serialises concurrent runs).
# Exit: 0 ready; 77 with one line "PyPI unreachable: ..." on stderr when pip cannot reach the index
# (a loud skip for ctest); anything else is a failure, with pip's log.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
requirements=$here/requirements-pyarrow.txt
log() { printf '[reference] %s\n' "$*" >&2; }

torch_venv=${WL_TORCH_VENV:-$(bash -c 'source "$1" && printf %s "$wl_venv"' _ "$root/tools/setup.sh")}
if [ ! -x "$torch_venv/bin/python" ] || [ ! -f "$torch_venv/pyvenv.cfg" ]; then
  log "no torch venv at $torch_venv: run tools/setup.sh first (or set WL_TORCH_VENV)"
  exit 1
fi
key=$(cat "$requirements" "$torch_venv/pyvenv.cfg" <(printf '%s\n' "$torch_venv") | sha256sum | cut -c1-12)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/worldloop
venv=$cache/venv-reference-pyarrow-$key
stamp=$venv/.worldloop-reference-stamp
ready() { [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; }

if ready; then
  printf '%s\n' "$venv/bin/python"
  exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/venv-reference-pyarrow.lock"
flock 9
if ready; then
  printf '%s\n' "$venv/bin/python"
  exit 0
fi

log "creating $venv (pyarrow, av; numpy from $torch_venv)"
rm -rf "$venv"
"$torch_venv/bin/python" -m venv --without-pip "$venv"
ref_site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$torch_venv/bin/python" -c 'import sysconfig
print("import site; site.addsitedir(%r)" % sysconfig.get_paths()["purelib"])' > "$ref_site/_worldloop_torch_venv.pth"
pip_log=$venv/pip-install.log
if ! "$torch_venv/bin/python" -m pip --python "$venv/bin/python" --disable-pip-version-check --no-input install \
       --only-binary :all: --no-compile --retries 1 --timeout 20 -r "$requirements" > "$pip_log" 2>&1; then
  network_error=$(grep -m1 -E 'NewConnectionError|Max retries exceeded|Temporary failure in name resolution|Name or service not known|Network is unreachable|No route to host|Connection refused|Connection reset|timed out|ProxyError|Could not fetch URL|Failed to establish' "$pip_log" || true)
  if [ -n "$network_error" ]; then
    rm -rf "$venv"
    echo "PyPI unreachable: pip could not install $(grep -v '^#' "$requirements" | tr '\n' ' ')($(printf '%s' "$network_error" | sed -E 's/^[[:space:]]*(WARNING|ERROR): *//' | cut -c1-160))" >&2
    exit 77
  fi
  log "pip install failed (not a network error); log follows"
  tail -n 40 "$pip_log" >&2
  exit 1
fi
"$venv/bin/python" -c 'import pyarrow.parquet, av, numpy' || {
  log "pyarrow, av or numpy does not import in $venv"
  exit 1
}
printf '%s\n' "$key" > "$stamp"
log "ready: $(du -sh "$venv" | cut -f1) in $venv"
printf '%s\n' "$venv/bin/python"

#!/usr/bin/env bash
# setup_venv.sh: creates or reuses the venv in which goldens are made with diffusers from PyPI
# (pins in requirements.txt) and prints its directory. Called by run_golden.sh.
# Where: ${XDG_CACHE_HOME:-~/.cache}/worldloop/venv-reference-diffusers-<version>-<key>, shared by
# the clones on this machine; <key> hashes the pins and the torch venv's path and pyvenv.cfg.
# How: a venv without pip, made by the torch venv's interpreter, plus a .pth file that calls
# site.addsitedir(<torch venv site-packages>): torch (GBs) is importable without a second download
# and pip, run from the torch venv with --python, counts it as installed and adds only what is
# missing; the torch venv (read by the C++ build) is never written. Not --system-site-packages:
# that shows the base interpreter's packages, not the torch venv's. The reference venv's own
# site-packages come first on sys.path, so its pins win.
# Idempotent: a stamp written after a complete install makes reruns return in milliseconds; an
# interrupted install has no stamp and is redone; flock serialises concurrent runs.
# Exit: 0 ready; 77 with one line "PyPI unreachable: ..." on stderr when pip cannot reach the
# index (a skip for ctest); anything else is a failure, with pip's log. WL_TORCH_VENV overrides
# the torch venv (default: the one tools/setup.sh makes).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
requirements=$here/requirements.txt

log() { printf '[reference] %s\n' "$*" >&2; }

# The torch venv: tools/setup.sh is the single source of its location (sourcing it only defines
# variables and functions).
torch_venv=${WL_TORCH_VENV:-$(bash -c 'source "$1" && printf %s "$wl_venv"' _ "$root/tools/setup.sh")}
if [ ! -x "$torch_venv/bin/python" ] || [ ! -f "$torch_venv/pyvenv.cfg" ]; then
  log "no torch venv at $torch_venv: run tools/setup.sh first (or set WL_TORCH_VENV)"
  exit 1
fi

diffusers_version=$(sed -n 's/^diffusers==\([^ ]*\).*/\1/p' "$requirements")
key=$(cat "$requirements" "$torch_venv/pyvenv.cfg" <(printf '%s\n' "$torch_venv") | sha256sum | cut -c1-12)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/worldloop
venv=$cache/venv-reference-diffusers-$diffusers_version-$key
stamp=$venv/.worldloop-reference-stamp

ready() { [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; }

if ready; then
  printf '%s\n' "$venv"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/venv-reference.lock"
flock 9
if ready; then  # built by a concurrent run while we waited
  printf '%s\n' "$venv"
  exit 0
fi

start=$(date +%s)
log "creating $venv (diffusers==$diffusers_version; torch from $torch_venv)"
rm -rf "$venv"
"$torch_venv/bin/python" -m venv --without-pip "$venv"
ref_site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$torch_venv/bin/python" -c 'import sysconfig
print("import site; site.addsitedir(%r)" % sysconfig.get_paths()["purelib"])' > "$ref_site/_worldloop_torch_venv.pth"
"$venv/bin/python" -c 'import torch' 2>/dev/null || {
  log "torch is not importable through $ref_site/_worldloop_torch_venv.pth"
  exit 1
}

pip_log=$venv/pip-install.log
# The venv has no pip of its own (--without-pip): the torch venv's pip installs into it (--python).
# --only-binary: nothing is ever built; --no-compile: Python caches only the modules it imports;
# few retries and a short timeout so an offline machine answers in seconds rather than minutes.
ref_pip=("$torch_venv/bin/python" -m pip --python "$venv/bin/python" --disable-pip-version-check --no-input)
if ! "${ref_pip[@]}" install --only-binary :all: --no-compile --retries 1 --timeout 20 \
       -r "$requirements" > "$pip_log" 2>&1; then
  network_error=$(grep -m1 -E 'NewConnectionError|Max retries exceeded|Temporary failure in name resolution|Name or service not known|Network is unreachable|No route to host|Connection refused|Connection reset|timed out|ProxyError|Could not fetch URL|Failed to establish' "$pip_log" || true)
  if [ -n "$network_error" ]; then
    reason=$(printf '%s' "$network_error" | grep -o -m1 -E "Failed to establish a new connection: [^')]*|Read timed out[^')]*|ProxyError[^')]*|Could not fetch URL .*" || true)
    index=$(sed -n 's/^Looking in indexes: //p' "$pip_log" | head -n1)
    summary="${reason:-$(printf '%s' "$network_error" | sed -E 's/^[[:space:]]*(WARNING|ERROR): *//')}"
    summary=$(printf '%s' "$summary" | cut -c1-160)
    rm -rf "$venv"
    echo "PyPI unreachable: pip could not install diffusers==$diffusers_version from ${index:-PyPI} ($summary)" >&2
    exit 77
  fi
  log "pip install failed (not a network error); log follows"
  tail -n 40 "$pip_log" >&2
  exit 1
fi
"${ref_pip[@]}" check > "$venv/pip-check.log" 2>&1 || {
  log "pip check found inconsistent requirements:"
  cat "$venv/pip-check.log" >&2
  exit 1
}
"$venv/bin/python" -c 'import diffusers.models.transformers.transformer_sana_video, safetensors.torch' || {
  log "diffusers installed but the SANA-Video model does not import"
  exit 1
}
printf '%s\n' "$key" > "$stamp"
log "ready in $(( $(date +%s) - start )) s: $(du -sh "$venv" | cut -f1) in $venv"
printf '%s\n' "$venv"

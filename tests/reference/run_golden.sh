#!/usr/bin/env bash
# run_golden.sh [--set NAME] OUT_DIR [--seed S]: makes one golden set in OUT_DIR (see README.md):
# sets up the reference venv (setup_venv.sh), then runs NAME_golden.py in it. NAME: sana_dit (the
# default: the SANA-Video DiT) or vae (the Wan2.1 VAE and TAEHV decoders).
# Reruns are instant: OUT_DIR/generator.sha256 records the generator, the venv (named after its pins
# and torch) and the arguments, and a match skips the work. Exit 0 done; 77 skipped because PyPI is unreachable (the one-line
# reason is printed and also written to OUT_DIR/skipped.txt, so a dependent test can show it);
# anything else is a failure.
set -euo pipefail

set_name=sana_dit
if [ "${1:-}" = --set ] && [ $# -ge 2 ]; then
  set_name=$2
  shift 2
fi
if [ $# -lt 1 ]; then
  echo "usage: $0 [--set sana_dit|vae] OUT_DIR [--seed S]" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$1
shift
generator=$here/${set_name}_golden.py
case $set_name in
  sana_dit) files=(weights.safetensors config.json inputs.safetensors outputs.safetensors generator.sha256) ;;
  vae) files=(inputs.safetensors wan_weights.safetensors wan_config.json wan_outputs.safetensors
              taehv_weights.safetensors taehv_outputs.safetensors generator.sha256) ;;
  *) echo "$0: unknown golden set '$set_name' (sana_dit or vae)" >&2; exit 2 ;;
esac

mkdir -p "$out"
rm -f "$out/skipped.txt"
rc=0
venv=$(bash "$here/setup_venv.sh" 2>"$out/setup.log") || rc=$?
cat "$out/setup.log" >&2
if [ $rc = 77 ]; then
  rm -f "${files[@]/#/$out/}"  # no goldens rather than possibly stale ones
  grep -m1 '^PyPI unreachable' "$out/setup.log" > "$out/skipped.txt" || echo "PyPI unreachable" > "$out/skipped.txt"
  exit 77
fi
[ $rc = 0 ] || exit 1
rm -f "$out/setup.log"

# The venv's name carries its pins and the torch venv it sees, so it is part of the stamp.
stamp=$out/generator.sha256
want=$(cat "$generator" <(printf '%s\n' "$venv" "$@") | sha256sum | cut -d' ' -f1)
complete=1
for f in "${files[@]}"; do [ -f "$out/$f" ] || complete=0; done
if [ $complete = 1 ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[reference] $out is up to date" >&2
  exit 0
fi
rm -f "${files[@]/#/$out/}"

echo "[reference] generating $out with $(basename "$generator")" >&2
rc=0
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$venv/bin/python" "$generator" "$out" "$@" || rc=$?
if [ $rc != 0 ]; then
  echo "[reference] $(basename "$generator") failed (exit $rc)" >&2
  exit 1  # never 77: only an unreachable PyPI may skip
fi
printf '%s\n' "$want" > "$stamp"

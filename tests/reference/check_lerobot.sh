#!/usr/bin/env bash
# check_lerobot.sh WORLDLOOP OUT_DIR: the ctest acceptance test of `worldloop synth`: makes a
# dataset of 3 episodes (random-tiny world model, pick_place) in OUT_DIR/dataset and checks it with
# check_lerobot.py (pyarrow + PyAV, the venv from setup_pyarrow_venv.sh). Exit 0 pass, 77 skipped
# (PyPI unreachable: the reason is printed and written to OUT_DIR/skipped.txt), else a failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
worldloop=$1
out=$2
mkdir -p "$out"
rm -f "$out/skipped.txt"
rc=0
python=$(bash "$here/setup_pyarrow_venv.sh" 2>"$out/setup.log") || rc=$?
cat "$out/setup.log" >&2
if [ $rc = 77 ]; then
  grep -m1 '^PyPI unreachable' "$out/setup.log" > "$out/skipped.txt" || echo "PyPI unreachable" > "$out/skipped.txt"
  echo "SKIPPED: $(cat "$out/skipped.txt")" >&2
  exit 77
fi
[ $rc = 0 ] || exit 1
rm -rf "$out/dataset"
"$worldloop" --log-level warn synth --random-tiny --episodes 3 --frames 14 --seed 7 --no-progress --out "$out/dataset"
"$python" "$here/check_lerobot.py" "$out/dataset" 3

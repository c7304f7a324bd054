#!/usr/bin/env bash
# run_fuzz.sh FUZZER SEED_DIR WORK_DIR SECONDS: fuzz for SECONDS starting from the committed seeds.
# Exit status is libFuzzer's: non-zero on any crash, sanitizer report or leak. Crash inputs are
# written to WORK_DIR/crash-* and named in the output.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
mkdir -p "$work"
"$fuzzer" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work" "$seeds"

#!/usr/bin/env bash
# gpu_run.sh OUT_DIR: everything one GPU-machine session needs, in one call.
#   - configures the CUDA build against the machine's preinstalled torch (python3's torch
#     2.11.0+cu130; nothing is downloaded), builds with all cores,
#   - runs the whole test suite (CUDA tests included; Vulkan through the NVIDIA driver when the
#     loader was brought along in .gl/, see ../shared/reference/toolchain.md),
#   - runs the benchmarks that exist (`worldloop bench --json`),
#   - writes logs and JSON results into OUT_DIR: configure.log, build.log, ctest.log,
#     ctest.xml (JUnit), bench.json, bench.log, machine.json, summary.json.
# Usage on the device: bash tools/gpu_run.sh "$OUT"
set -uo pipefail
out=${1:?usage: tools/gpu_run.sh OUT_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${WL_BUILD_DIR:-$root/build-cuda}
mkdir -p "$out" "$build"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

# Debian packages carried from the build machine by tools/gpu_deps.sh (the GPU machine has no
# Vulkan loader, and none of our header-only and test dependencies): runtime ones into / (and
# beside the headers, so that the -dev symlinks resolve), the
# build-only ones into /opt/wl-deps.
deps_prefix=/opt/wl-deps
if [ -d "$root/.deps" ]; then
  for f in "$root"/.deps/runtime/*.deb; do dpkg -x "$f" /; dpkg -x "$f" "$deps_prefix"; done
  for f in "$root"/.deps/build/*.deb; do dpkg -x "$f" "$deps_prefix"; done
  ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
fi
commit=${WL_COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}

step() {   # step NAME COMMAND...: runs, logs to OUT/NAME.log, records the status and seconds
  local name=$1; shift
  local t0=$SECONDS
  "$@" > "$out/$name.log" 2>&1
  local rc=$?
  printf '%s %s %s\n' "$name" "$rc" "$((SECONDS - t0))" >> "$out/steps.txt"
  echo "[$name] exit $rc in $((SECONDS - t0)) s"
  return $rc
}

: > "$out/steps.txt"
{
  echo "{"
  echo "  \"date\": \"$(date -u +%FT%TZ)\","
  echo "  \"commit\": \"$commit\","
  echo "  \"gpu\": \"$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)\","
  echo "  \"cpus\": $(nproc),"
  echo "  \"torch\": \"$(python3 -c 'import torch; print(torch.__version__)' 2>/dev/null)\","
  echo "  \"nvcc\": \"$(nvcc --version 2>/dev/null | tail -1)\""
  echo "}"
} > "$out/machine.json"

prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
# Headless server build: no SDL2 window, no FFmpeg recording (neither is installed there), no fuzzer
# (no clang there; CI fuzzes). pkg-config must not read the carried .pc files: they say prefix=/usr.
step configure cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWL_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$prefix;$deps_prefix/usr" -DPKG_CONFIG_USE_CMAKE_PREFIX_PATH=OFF \
  -DWL_WINDOW=OFF -DWL_RECORDING=OFF -DWL_FUZZ=OFF -DWL_GIT_COMMIT_OVERRIDE="$commit" || { cat "$out/configure.log"; exit 1; }
step build cmake --build "$build" -j "$(nproc)" || { tail -50 "$out/build.log"; exit 1; }
# The diffusers goldens need PyPI, which the GPU machine cannot reach: parity runs on CPU machines
# (CI); here the golden-making setup tests are left out (-FS) and the parity tests skip, saying why.
export WL_GOLDENS_UNAVAILABLE="the GPU machine has no PyPI; parity runs on CPU machines"
step ctest ctest --test-dir "$build" --output-on-failure -j 4 --output-junit "$out/ctest.xml" -FS "golden" -E "^reference\."
tests_rc=$?
# Benchmarks: the cheap sections (worlds, present, the loop on the GPU), then the DiT at 480p and
# both decoders (WL_SKIP_MODEL_BENCH=1 leaves those two out; WL_BENCH_ARGS adds DiT flags).
if "$build/sim/worldloop" --help 2>/dev/null | grep -q '^  bench '; then
  step bench "$build/sim/worldloop" bench --device cuda --json "$out/bench.json"
  if [ -z "${WL_SKIP_MODEL_BENCH:-}" ]; then
    step bench_dit "$build/sim/worldloop" bench --section dit --preset sana-video-2b-480p --device cuda \
      --json "$out/bench_dit.json" ${WL_BENCH_ARGS:-}
    # Both decoders at 480x832, 1,000 latents each: speed and the zero-growth check.
    step bench_decoders "$build/sim/worldloop" bench --section decoders --device cuda --decoder-latents 1000 --repeats 1 \
      --json "$out/bench_decoders.json"
  fi
fi
# The frame loop end to end on the GPU, headless (no FFmpeg there, so no MP4), and a short CUDA
# training run of each stage (WL_TRAIN_STEPS steps; the real recipes run from tools/ later).
step play_cuda "$build/sim/worldloop" play --random-tiny --device cuda --headless --frames 120
train_steps=${WL_TRAIN_STEPS:-100}
rm -rf "$build/train-smoke"
step train_ae "$build/sim/worldloop" train --stage ae --world voxel --device cuda --steps "$train_steps" \
  --out "$build/train-smoke/ae" && cp "$build/train-smoke/ae/loss.csv" "$out/train_ae_loss.csv"
step train_dit "$build/sim/worldloop" train --stage dit --world voxel --device cuda --steps "$train_steps" \
  --ae "$build/train-smoke/ae" --out "$build/train-smoke/dit" && cp "$build/train-smoke/dit/loss.csv" "$out/train_dit_loss.csv"
tail -n 3 "$out/ctest.log"
{
  echo "{"
  echo "  \"build_flavour\": \"$("$build/sim/worldloop" --version)\","
  echo "  \"tests_exit\": $tests_rc,"
  echo "  \"steps\": ["
  awk '{printf "%s    {\"name\": \"%s\", \"exit\": %s, \"seconds\": %s}", (NR>1?",\n":""), $1, $2, $3} END {print ""}' "$out/steps.txt"
  echo "  ]"
  echo "}"
} > "$out/summary.json"
exit $tests_rc

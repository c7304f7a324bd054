#!/usr/bin/env bash
# gpu_session.sh: one GPU-machine lease of measurements and training, over three device calls (each
# call is at most 10 minutes; the machine stays held between calls that follow each other closely).
#   gpu_session.sh start OUT    build worldloop (CUDA, headless), start the constant-memory run in the
#                               background, run the benchmarks, then start the worlds' training
#   gpu_session.sh tests OUT    build the test suite and run it while the training goes on
#   gpu_session.sh finish OUT   pack the trained worlds, wait for the memory run, copy its samples
#   gpu_session.sh check OUT    (no training) build everything, run the benchmarks alone on the GPU,
#                               then start a memory run (WL_MEM_SECONDS)
#   gpu_session.sh verify OUT   run the test suite while that memory run goes on, then collect it
#   gpu_session.sh train OUT    (no benchmarks) build worldloop, start a memory run and the worlds'
#                               training side by side; then `tests` and `finish` as after start
# Everything lives in WL_GPU_WORK (default /tmp/wl-gpu), outside the repository copy that each call
# replaces. Each call's results (bench_*.json and .log, mem.csv, mem_play.log, ctest.log, steps.txt)
# come back as one archive OUT/<mode>.tgz (a device call returns at most 8 files); finish adds the
# trained worlds as OUT/<world>.tar.partNN (f16, tools/gpu_train.sh pack).
# Environment:
#   WL_MEM_SECONDS   length of the memory run (default 1200 = 20 minutes of wall time)
#   WL_MEM_EVERY     seconds between its samples (default 60)
#   WL_DIT_MIN, WL_ROLLOUT_MIN   training budgets per world (default 6.5 and 3 minutes)
#   WL_INIT_ROOT, WL_TRAIN_ARGS  passed to tools/train_worlds.sh (continue exported worlds, extra flags)
#   WL_DECODER_VARIANTS  extra `worldloop bench --section decoders` runs, one flag set per line
#                    (e.g. "--decoder-latents 150 --wan-variant baseline,cl,all")
set -uo pipefail
mode=${1:?usage: gpu_session.sh start|train|tests|finish|check|verify OUT}
dest=${2:?usage: gpu_session.sh start|train|tests|finish|check|verify OUT}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WL_GPU_WORK=${WL_GPU_WORK:-/tmp/wl-gpu}
work=$WL_GPU_WORK
build=$work/build-cuda
bin=$build/sim/worldloop
mem=$work/mem
call_start=$SECONDS
out=$work/results/$mode
rm -rf "$out"
mkdir -p "$out" "$mem" "$dest"
trap 'tar -C "$work/results" -czf "$dest/$mode.tgz" "$mode"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

step() {   # step NAME COMMAND...: runs, logs to OUT/NAME.log, records the status and seconds
  local name=$1 t0=$SECONDS
  shift
  "$@" > "$out/$name.log" 2>&1
  local rc=$?
  printf '%s %s %s\n' "$name" "$rc" "$((SECONDS - t0))" >> "$out/steps.txt"
  echo "[$name] exit $rc in $((SECONDS - t0)) s (call at $((SECONDS - call_start)) s)"
  return $rc
}

# The Vulkan loader and validation layers carried in .deps (the GPU machine has none), into / so
# that the presenter finds them, and the NVIDIA ICD.
vulkan_runtime() {
  if [ -d "$root/.deps/runtime" ]; then
    for f in "$root"/.deps/runtime/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
  fi
}

# The memory run: the default world played headless on the GPU (virtual clock, as fast as it
# generates) for WL_MEM_SECONDS of wall time; process RSS and the GPU memory of the process (and of
# the whole GPU, as the process view may be hidden in a container) sampled every 60 s.
memory_run() {
  local seconds=${WL_MEM_SECONDS:-1200}
  cp "$bin" "$mem/worldloop"   # a private copy: a later build may relink $bin while this runs
  "$mem/worldloop" play --world voxel --device cuda --headless --frames 2000000000 > "$mem/play.log" 2>&1 &
  local pid=$! t0=$SECONDS next=5
  echo "seconds,rss_mib,process_gpu_mib,gpu_used_mib" > "$mem/mem.csv"
  while kill -0 "$pid" 2> /dev/null; do
    local t=$((SECONDS - t0))
    if [ "$t" -ge "$next" ]; then
      local rss gpu_proc gpu_all
      rss=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status" 2> /dev/null)
      gpu_proc=$(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2> /dev/null |
                 awk -F', *' -v p="$pid" '$1 == p { print $2 }')
      gpu_all=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2> /dev/null | head -1)
      echo "$t,${rss:-},${gpu_proc:-},${gpu_all:-}" >> "$mem/mem.csv"
      next=$((next + ${WL_MEM_EVERY:-60}))
    fi
    if [ "$t" -ge "$seconds" ]; then
      kill -INT "$pid"
      sleep 5
      kill -9 "$pid" 2> /dev/null
      break
    fi
    sleep 1
  done
  echo "memory run ended after $((SECONDS - t0)) s" >> "$mem/play.log"
  touch "$mem/done"
}

# The benchmarks: the worlds on the GPU, the loop, presenting, 8 driving rollouts batched and one at
# a time, both decoders (1,000 latents) and WL_DECODER_VARIANTS.
benchmarks() {
  step bench_worlds_models "$bin" bench --section worlds-models --device cuda --json "$out/bench_worlds_models.json"
  step bench_loop "$bin" bench --section loop --device cuda --json "$out/bench_loop.json"
  step bench_present "$bin" bench --section present --device cuda --json "$out/bench_present.json"
  # Eight driving rollouts of 240 frames: one batch of 8, then one at a time.
  for b in 8 1; do
    rm -rf "$work/rollouts_b$b"
    step "rollout_b$b" "$bin" rollout --model "$root/assets/worlds/driving" --policy lane_keep --seeds 8 --frames 240 \
      --batch "$b" --device cuda --no-video --no-progress --out "$work/rollouts_b$b"
    cp "$work/rollouts_b$b"/summary.* "$out/" 2> /dev/null && for f in "$work/rollouts_b$b"/summary.*; do
      mv "$out/$(basename "$f")" "$out/rollout_b${b}_$(basename "$f")"; done
  done
  step bench_decoders "$bin" bench --section decoders --device cuda --decoder-latents 1000 --repeats 1 \
    --json "$out/bench_decoders.json"
  i=0
  while IFS= read -r flags; do
    [ -n "$flags" ] || continue
    i=$((i + 1))
    [ $((SECONDS - call_start)) -lt 480 ] || { echo "[start] no time left for decoder variant: $flags"; continue; }
    # shellcheck disable=SC2086
    step "bench_decoders_v$i" "$bin" bench --section decoders --device cuda --repeats 1 \
      --json "$out/bench_decoders_v$i.json" $flags
  done <<< "${WL_DECODER_VARIANTS:-}"
}

start_memory_run() {
  rm -f "$mem/done"
  # From its own directory: the next device call deletes the repository copy this call runs in.
  (cd "$mem" && export -f memory_run && export bin mem WL_MEM_SECONDS WL_MEM_EVERY &&
    setsid nohup bash -c memory_run > /dev/null 2>&1 < /dev/null &)
  echo "[memory] run started"
}

collect_memory_run() {   # waits until the call's 560th second at most
  while [ ! -f "$mem/done" ] && [ $((SECONDS - call_start)) -lt 560 ]; do sleep 5; done
  [ -f "$mem/done" ] || echo "[memory] the run is still going; copying what it has"
  cp "$mem/mem.csv" "$out/" 2> /dev/null
  cp "$mem/play.log" "$out/mem_play.log" 2> /dev/null
  cat "$out/mem.csv"
  tail -n 3 "$out/mem_play.log"
}

build_and_describe() {   # the Vulkan runtime, worldloop built, its version and the GPU noted
  : > "$out/steps.txt"
  vulkan_runtime
  step build bash "$root/tools/gpu_train.sh" build "$out/train_build" || exit 1
  "$bin" --version > "$out/version.txt"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/gpu.txt"
}

case $mode in
  start)
    : > "$out/steps.txt"
    vulkan_runtime
    step build bash "$root/tools/gpu_train.sh" build "$out/train_build" || exit 1
    start_memory_run
    "$bin" --version > "$out/version.txt"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/gpu.txt"
    benchmarks
    step launch bash "$root/tools/gpu_train.sh" launch "$out/train_launch" "${WL_DIT_MIN:-6.5}" "${WL_ROLLOUT_MIN:-3}"
    ;;
  check)
    build_and_describe
    benchmarks
    start_memory_run
    ;;
  train)
    build_and_describe
    start_memory_run
    step launch bash "$root/tools/gpu_train.sh" launch "$out/train_launch" "${WL_DIT_MIN:-6.5}" "${WL_ROLLOUT_MIN:-3}"
    cat "$out/train_launch/"*.log 2> /dev/null | tail -5
    ;;
  verify)
    vulkan_runtime
    # The memory run's binary is a copy, so this build may relink worldloop under it.
    step build_tests cmake --build "$build" -j "$(nproc)"
    export WL_GOLDENS_UNAVAILABLE="the GPU machine has no PyPI; parity runs on CPU machines"
    step ctest timeout 360 ctest --test-dir "$build" --output-on-failure -j 6 -FS golden -E "^reference\." \
      --output-junit "$out/ctest.xml"
    tail -n 12 "$out/ctest.log"
    collect_memory_run
    ;;
  tests)
    vulkan_runtime
    step build_tests cmake --build "$build" -j "$(nproc)"
    export WL_GOLDENS_UNAVAILABLE="the GPU machine has no PyPI; parity runs on CPU machines"
    step ctest timeout 420 ctest --test-dir "$build" --output-on-failure -j 6 -FS golden -E "^reference\." \
      --output-junit "$out/ctest.xml"
    tail -n 5 "$out/ctest.log"
    for w in "$work"/runs/*.log; do echo "== $w"; grep -a "train " "$w" | tail -2; done
    ;;
  finish)
    WL_GPU_WORK=$work WL_PACK_DTYPE=f16 bash "$root/tools/gpu_train.sh" pack "$dest" > "$out/pack.log" 2>&1
    tail -n 12 "$out/pack.log"
    collect_memory_run
    ;;
  *) echo "gpu_session.sh: unknown mode '$mode' (start, train, tests, finish, check or verify)" >&2; exit 1 ;;
esac

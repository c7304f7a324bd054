#!/usr/bin/env bash
# gpu_train.sh: the shipped worlds' training on the GPU machine, spread over consecutive device
# calls of one lease (each call is at most 10 minutes; the machine stays held between calls).
#   gpu_train.sh start OUT MINUTES   build worldloop (CUDA, headless), then start tools/train_worlds.sh
#                                    in its own process session (it outlives this call) with stage
#                                    budgets that end MINUTES after this call began; watch until
#                                    this call's 9.5 minutes are used
#   gpu_train.sh wait OUT            watch the training for up to 9.5 minutes
#   gpu_train.sh pack OUT            wait for the end, then export each world (f32, or WL_PACK_DTYPE) and its logs into
#                                    OUT as <world>.tar split into 15 MiB parts (the device returns
#                                    at most 8 files of 16 MiB)
#   gpu_train.sh all OUT SECONDS     build, datasets, the three stages and pack in one call that ends
#                                    within SECONDS (the safest use of a short lease)
#   gpu_train.sh build OUT           only build worldloop (for callers that run more than training)
#   gpu_train.sh launch OUT DIT_MIN ROLLOUT_MIN
#                                    start tools/train_worlds.sh in the background on an existing
#                                    build (WL_INIT_ROOT continues exported worlds) and return at once
#   gpu_train.sh eval OUT            export each world's newest checkpoint (no waiting: lease 8 lost
#                                    its weights waiting here), and score it beside the
#                                    shipped one with `worldloop eval` on the GPU (8 seeds, horizons 1
#                                    and 8, response; OUT/eval_<world>_{shipped,trained}.txt and .json)
# WL_TRAIN_ARGS adds flags to the dit and rollout stages (e.g. --action-lr-scale 10); WL_WORLDS (e.g.
# "voxel robot") trains only those worlds, which then share the GPU and the cores among fewer.
# Build and runs live outside the repository copy (WL_GPU_WORK, default /tmp/wl-gpu): a device call
# replaces the carried repository folders, and with them anything written inside.
set -uo pipefail
mode=${1:?usage: gpu_train.sh start|wait|pack OUT [MINUTES]}
out=${2:?usage: gpu_train.sh start|wait|pack OUT [MINUTES]}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${WL_GPU_WORK:-/tmp/wl-gpu}
build=$work/build-cuda
runs=$work/runs
call_start=$SECONDS
mkdir -p "$out" "$runs"

watch() {   # watch SECONDS: progress every 30 s until the training ends or SECONDS pass
  local until=$((call_start + $1))
  while [ $SECONDS -lt $until ]; do
    if ! pgrep -f train_worlds.sh > /dev/null; then echo "[watch] training finished"; return 0; fi
    sleep 30
    echo "[watch] $((SECONDS - call_start)) s: $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader)"
    for w in "$runs"/*.log; do echo "  $(basename "$w" .log): $(grep -a 'train ' "$w" | tail -1)"; done
  done
  return 1
}

build_worldloop() {
    if [ -d "$root/.deps" ]; then
      for f in "$root"/.deps/runtime/*.deb "$root"/.deps/build/*.deb; do dpkg -x "$f" /opt/wl-deps; done
    fi
    prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWL_CUDA=ON \
      -DCMAKE_PREFIX_PATH="$prefix;/opt/wl-deps/usr" -DPKG_CONFIG_USE_CMAKE_PREFIX_PATH=OFF \
      -DWL_WINDOW=OFF -DWL_RECORDING=OFF -DWL_FUZZ=OFF -DWL_GIT_COMMIT_OVERRIDE="${WL_COMMIT:-unknown}" \
      > "$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
    cmake --build "$build" --target worldloop -j "$(nproc)" > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
    echo "[build] built in $((SECONDS - call_start)) s"
}

export_world() {   # export_world W: the newest rollout (else dit) checkpoint of W -> $runs/export/W/world
    local w=$1 run="$runs/$1/rollout"
    [ -f "$run/latest" ] || run="$runs/$w/dit"
    [ -f "$run/latest" ] || { echo "[export] $w: no dit or rollout checkpoint"; return 1; }
    rm -rf "$runs/export/$w" && mkdir -p "$runs/export/$w/logs"
    "$build/sim/worldloop" export --run "$run" --out "$runs/export/$w/world" --dtype "${WL_PACK_DTYPE:-f32}"
}

pack() {
    cat "$runs/train_worlds.log"
    for w in voxel driving robot; do
      [ -d "$runs/$w" ] || continue
      export_world "$w" || continue
      dest=$runs/export/$w
      for s in ae dit rollout; do
        [ -d "$runs/$w/$s" ] || continue
        cp "$runs/$w/$s/loss.csv" "$dest/logs/$s.loss.csv"
        cp "$runs/$w/$s/run.json" "$dest/logs/$s.run.json"
      done
      cp "$runs/$w.log" "$dest/logs/train.log"
      tar -C "$runs/export" -cf "$runs/export/$w.tar" "$w"
      split -b 15M -d "$runs/export/$w.tar" "$out/$w.tar.part"
    done
    ls -la "$out"
}

case $mode in
  all)
    seconds=${3:?gpu_train.sh all OUT SECONDS}
    build_worldloop
    # Budgets (seconds): datasets ~60, ae 75 (none when WL_INIT_ROOT continues earlier worlds),
    # rollout 90, packing 45; the DiT gets the rest.
    ae_s=75
    [ -n "${WL_INIT_ROOT:-}" ] && ae_s=0
    dit=$(( seconds - (SECONDS - call_start) - 60 - ae_s - 90 - 45 ))
    [ $dit -ge 60 ] || { echo "[all] only $dit s left for the DiT: too little" >&2; exit 1; }
    echo "[all] budgets: ae $ae_s s, dit $dit s, rollout 90 s"
    WL_DATA_EPISODES=${WL_DATA_EPISODES:-16} WL_AE_MINUTES=1.25 WL_ROLLOUT_MINUTES=1.5 \
      WL_DIT_MINUTES=$(awk "BEGIN { print $dit / 60 }") \
      bash "$root/tools/train_worlds.sh" "$build" "$runs" > "$runs/train_worlds.log" 2>&1
    echo "[all] training exit $? at $((SECONDS - call_start)) s"
    for w in "$runs"/*.log; do echo "== $w"; grep -a "train \|error" "$w" | grep -v "step .*/" | tail -8; grep -a "step " "$w" | tail -2; done
    pack
    ;;
  start)
    minutes=${3:?gpu_train.sh start OUT MINUTES}
    build_worldloop
    # Stage budgets: what is left of MINUTES after the build, the datasets (~1.5 minutes) and 1.5
    # minutes for packing.
    left=$(( minutes * 60 - (SECONDS - call_start) - 180 ))
    ae=3; rollout=5
    dit=$(( left / 60 - ae - rollout ))
    [ $dit -ge 2 ] || { echo "[start] only $left s left after the build: too little to train" >&2; exit 1; }
    echo "[start] budgets: ae $ae min, dit $dit min, rollout $rollout min"
    WL_AE_MINUTES=$ae WL_DIT_MINUTES=$dit WL_ROLLOUT_MINUTES=$rollout \
      setsid nohup bash "$root/tools/train_worlds.sh" "$build" "$runs" > "$runs/train_worlds.log" 2>&1 < /dev/null &
    sleep 5
    watch 570
    ;;
  wait)
    watch 570
    ;;
  build)
    build_worldloop
    ;;
  launch)
    dit=${3:?gpu_train.sh launch OUT DIT_MIN ROLLOUT_MIN}
    rollout=${4:?gpu_train.sh launch OUT DIT_MIN ROLLOUT_MIN}
    [ -x "$build/sim/worldloop" ] || { echo "[launch] $build/sim/worldloop is missing: run build first" >&2; exit 1; }
    # Private copies of the binary, the script and the worlds it continues: the next device call
    # replaces the repository copy, and a test build may relink the binary, while this runs.
    private=$work/train-copy
    rm -rf "$private" && mkdir -p "$private/build/sim"
    cp "$build/sim/worldloop" "$private/build/sim/" && cp "$root/tools/train_worlds.sh" "$private/"
    if [ -n "${WL_INIT_ROOT:-}" ]; then
      cp -r "$WL_INIT_ROOT" "$private/init" && export WL_INIT_ROOT=$private/init
    fi
    # Its working directory too: a process whose directory the next call deletes dies in oneMKL's
    # loader ("Cannot load libtorch_cpu.so"), as every stage did in the 14:32 UTC lease.
    cd "$private" || exit 1
    WL_AE_MINUTES=${WL_AE_MINUTES:-3} WL_DIT_MINUTES=$dit WL_ROLLOUT_MINUTES=$rollout \
      setsid nohup bash "$private/train_worlds.sh" "$private/build" "$runs" ${WL_WORLDS:-} > "$runs/train_worlds.log" 2>&1 < /dev/null &
    echo "[launch] training started (${WL_WORLDS:-all worlds}): dit $dit min, rollout $rollout min per world"
    ;;
  pack)
    watch 480 || echo "[pack] still training after 8 minutes; packing the latest checkpoints"
    pack
    ;;
  eval)
    pgrep -f train_worlds.sh > /dev/null && echo "[eval] still training; scoring the newest checkpoints"
    for w in voxel driving robot; do
      [ -d "$runs/$w" ] && export_world "$w" > /dev/null || continue
      for which in shipped trained; do
        model=$root/assets/worlds/$w
        [ $which = trained ] && model=$runs/export/$w/world
        "$build/sim/worldloop" eval --model "$model" --device cuda --seeds 8 --horizons 1 8 --stability-frames 20 \
          --json "$out/eval_${w}_$which.json" > "$out/eval_${w}_$which.txt" 2>&1
        echo "== $w $which: $(grep -A1 '^action response' "$out/eval_${w}_$which.txt" | tail -1)"
        grep -a "horizon 8" "$out/eval_${w}_$which.txt"
      done
    done
    ;;
  *) echo "gpu_train.sh: unknown mode '$mode' (all, start, wait, pack, build or launch)" >&2; exit 1 ;;
esac

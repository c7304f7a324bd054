#!/usr/bin/env bash
# train_worlds.sh: the shipped worlds' training recipe, all three worlds at once on one GPU.
#   tools/train_worlds.sh BUILD_DIR RUNS_DIR [WORLD...]      (default: voxel driving robot)
# Per world, three `worldloop train` stages run in turn, each resumable and bounded in wall time:
#   RUNS_DIR/<world>/ae        stage ae       (WL_AE_MINUTES, default 3)
#   RUNS_DIR/<world>/dit       stage dit      (WL_DIT_MINUTES, default 11)
#   RUNS_DIR/<world>/rollout   stage rollout  (WL_ROLLOUT_MINUTES, default 6)
# Run it again with the same RUNS_DIR and every stage continues from its last checkpoint (a finished
# stage is skipped when its step count is reached). Logs: RUNS_DIR/<world>.log. The worlds run as
# three processes sharing the GPU and the CPU cores. Frames come from RUNS_DIR/data/<world>/ when
# it exists (WL_DATA_PARTS `worldloop dataset` folders per world, made here first in parallel, half
# by the world's scripted policy and half by sticky_random), else from simulators on the fly.
# WL_TRAIN_ARGS: extra flags for the dit and rollout stages (word-split), e.g. --action-lr-scale 10;
# WL_TRAIN_ARGS_<WORLD> (e.g. WL_TRAIN_ARGS_VOXEL) adds flags for that world's only, after them.
# WL_ROLLOUT_ARGS: flags for the rollout stage only (e.g. --rollout-blocks 8).
# On a machine with several GPUs (WL_GPUS, default: nvidia-smi's count) the first world gets GPU 0
# to itself and the others share the rest in turn: the three worlds kept one GPU 98-100% busy.
set -euo pipefail
build=${1:?usage: train_worlds.sh BUILD_DIR RUNS_DIR [WORLD...]}
runs=${2:?usage: train_worlds.sh BUILD_DIR RUNS_DIR [WORLD...]}
shift 2
worlds=("$@")
[ ${#worlds[@]} -gt 0 ] || worlds=(voxel driving robot)
bin="$build/sim/worldloop"
[ -x "$bin" ] || { echo "train_worlds: $bin is missing; build the worldloop target first" >&2; exit 1; }
device=${WL_TRAIN_DEVICE:-cuda}
mkdir -p "$runs"
threads=$(( $(nproc) / ${#worlds[@]} ))
gpus=${WL_GPUS:-$(nvidia-smi -L 2> /dev/null | grep -c '^GPU' || true)}
[ "${gpus:-0}" -ge 1 ] || gpus=1
gpu_of() {   # gpu_of I: the GPU of the I-th world
  if [ "$gpus" -le 1 ] || [ "$1" -eq 0 ]; then echo 0; else echo $(( 1 + ($1 - 1) % (gpus - 1) )); fi
}
[ "$threads" -ge 1 ] || threads=1

# stage NAME DIR ARGS...: new run, or --resume when DIR already has a checkpoint.
stage() {
  local name=$1 dir=$2
  shift 2
  local resume=()
  [ -f "$dir/latest" ] && resume=(--resume)
  OMP_NUM_THREADS=$threads "$bin" train --stage "$name" --out "$dir" --device "$device" "${resume[@]}" "$@"
}

train_world() {
  local w=$1 r="$runs/$1"
  local own="WL_TRAIN_ARGS_${w^^}"
  local args="${WL_TRAIN_ARGS:-} ${!own:-}"
  mkdir -p "$r"
  # Frames from RUNS_DIR/data/<world>/ (datasets made beforehand, in parallel) when it exists,
  # else simulated on the fly.
  local data=()
  [ -d "$runs/data/$w" ] && data=(--data "$runs/data/$w")
  # WL_INIT_ROOT/<world>/ (an exported world) continues an earlier lease's training: its
  # autoencoder is kept and the DiT starts from its weights with a fresh optimizer.
  local from=(--ae "$r/ae")
  if [ -n "${WL_INIT_ROOT:-}" ] && [ -d "$WL_INIT_ROOT/$w" ]; then
    from=(--init "$WL_INIT_ROOT/$w")
  else
    stage ae "$r/ae" --world "$w" "${data[@]}" --steps 100000 --batch 32 --lr 1e-3 --warmup 200 \
      --max-minutes "${WL_AE_MINUTES:-3}" --checkpoint-every 1000 --log-every 250
  fi
  stage dit "$r/dit" --world "$w" "${data[@]}" "${from[@]}" --steps 100000 --batch "${WL_DIT_BATCH:-16}" --lr 3e-4 \
    --warmup 300 --max-minutes "${WL_DIT_MINUTES:-11}" --checkpoint-every 1000 --log-every 250 $args
  stage rollout "$r/rollout" --world "$w" "${data[@]}" --init "$r/dit" --steps 100000 --batch "${WL_ROLLOUT_BATCH:-8}" --lr 1e-4 --warmup 50 \
    --max-minutes "${WL_ROLLOUT_MINUTES:-6}" --checkpoint-every 200 --log-every 50 $args ${WL_ROLLOUT_ARGS:-}
}

# Datasets: parts of WL_DATA_EPISODES episodes of 200 frames each, all cores at once.
parts=${WL_DATA_PARTS:-16}
if [ "$parts" -gt 0 ]; then
  jobs=()
  for w in "${worlds[@]}"; do
    for i in $(seq 0 $((parts - 1))); do
      policy=sticky_random
      [ $((i % 2)) -eq 0 ] && policy=$(case $w in voxel) echo explore;; driving) echo lane_keep;; robot) echo pick_place;; esac)
      jobs+=("$w $policy $i")
    done
  done
  printf '%s\n' "${jobs[@]}" | xargs -P "$(nproc)" -L 1 bash -c 'OMP_NUM_THREADS=1 "$0" dataset --world "$1" --policy "$2" \
      --episodes '"${WL_DATA_EPISODES:-30}"' --frames 200 --seed $(( $3 * 100000 )) --out "'"$runs"'/data/$1/part_$3" \
      --no-video --no-progress > /dev/null' "$bin"
  echo "train_worlds: datasets ready: $(du -sh "$runs/data" | cut -f1)"
fi

pids=()
for i in "${!worlds[@]}"; do
  w=${worlds[$i]}
  if [ "$device" = cuda ] && [ "$gpus" -gt 1 ]; then
    echo "train_worlds: $w on GPU $(gpu_of "$i") of $gpus"
    CUDA_VISIBLE_DEVICES=$(gpu_of "$i") train_world "$w" > "$runs/$w.log" 2>&1 &
  else
    train_world "$w" > "$runs/$w.log" 2>&1 &
  fi
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "train_worlds: ${worlds[$i]} failed; see $runs/${worlds[$i]}.log" >&2
    status=1
  fi
done
exit $status

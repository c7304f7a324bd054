#!/usr/bin/env bash
# capture_session.sh OUT.mp4 [WORLD] [SECONDS]: a screen capture of `worldloop play` in a real
# window under Xvfb (lavapipe Vulkan), driven through the X server's input events by xdotool
# (walk, turn with the mouse, jump, open and close the overlay), as a person at the keyboard would
# drive it. For docs/: what a session looks like, overlay included.
set -euo pipefail
out=${1:?usage: capture_session.sh OUT.mp4 [WORLD] [SECONDS]}
world=${2:-voxel}
seconds=${3:-12}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${WL_BUILD_DIR:-$root/build}/sim/worldloop
for tool in Xvfb xdotool ffmpeg; do
  command -v "$tool" > /dev/null || { echo "capture_session: $tool is missing (apt-get install xvfb xdotool ffmpeg)" >&2; exit 1; }
done
display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1024x768x24 > /dev/null 2>&1 &
xvfb=$!
trap 'kill $play $xvfb 2> /dev/null || true' EXIT
export DISPLAY=$display
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/share/vulkan/icd.d/lvp_icd.x86_64.json}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
sleep 1
"$bin" play --world "$world" --snapshots "$(mktemp -d)" > /tmp/capture_play.log 2>&1 &
play=$!
for _ in $(seq 60); do
  window=$(xdotool search --name "worldloop" 2> /dev/null | head -1 || true)
  [ -n "$window" ] && break
  sleep 0.5
done
[ -n "${window:-}" ] || { echo "capture_session: no worldloop window appeared; see /tmp/capture_play.log" >&2; exit 1; }
xdotool windowmove "$window" 0 0 windowfocus "$window"
sleep 3
ffmpeg -loglevel error -y -f x11grab -video_size 1024x768 -framerate 20 -i "$display" -t "$seconds" \
  -vf scale=768:-2 -c:v libx264 -pix_fmt yuv420p -crf 32 "$out" &
capture=$!
step=$(awk "BEGIN { print $seconds / 6 }")
xdotool keydown w; sleep "$step"; xdotool keyup w
for _ in $(seq 10); do xdotool mousemove_relative -- 30 0; sleep 0.1; done
xdotool keydown w key space; sleep "$step"; xdotool keyup w
xdotool key F1; sleep "$step"; xdotool key F1
for _ in $(seq 10); do xdotool mousemove_relative -- -30 5; sleep 0.1; done
xdotool keydown a; sleep "$step"; xdotool keyup a
wait $capture
echo "capture_session: wrote $out ($(du -h "$out" | cut -f1))"

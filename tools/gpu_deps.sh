#!/usr/bin/env bash
# gpu_deps.sh: run on the build machine. Downloads the Debian 12 amd64 packages that the GPU
# machine lacks into .deps/ (git-ignored), so that device calls can carry them (`carry: [".deps"]`)
# and tools/gpu_run.sh can unpack them there without any network:
#   runtime, unpacked into /:       the Vulkan loader and GL/EGL dispatch (toolchain.md's .gl set)
#   build-only, into /opt/wl-deps:  Vulkan headers, GoogleTest, CLI11, nlohmann-json, GLM, ImGui + stb
# SDL2 and FFmpeg are not carried: the GPU machine builds the headless engine (no window, no
# recording). Idempotent: packages already downloaded are kept.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runtime=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 vulkan-validationlayers)
build=(libvulkan-dev libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev libglm-dev libimgui-dev libstb-dev libstb0)
mkdir -p "$root/.deps/runtime" "$root/.deps/build" /tmp/wl-amd64/partial
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/wl-amd64)
apt-get "${o[@]}" update -qq
(cd "$root/.deps/runtime" && apt-get "${o[@]}" download "${runtime[@]}" 2>&1 | grep -v '^Get:' || true)
(cd "$root/.deps/build" && apt-get "${o[@]}" download "${build[@]}" 2>&1 | grep -v '^Get:' || true)
du -sh "$root/.deps"

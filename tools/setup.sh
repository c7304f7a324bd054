#!/usr/bin/env bash
# setup.sh: makes this machine able to build worldloop, then configures and builds it.
# Sourced by tools/play.sh and tools/test.sh (the README's two commands). Idempotent: a second run
# installs nothing and rebuilds only what changed.
#   1. Debian packages (apt-get, as root or through sudo), only those missing;
#   2. LibTorch from PyPI torch==2.11.0 in a virtualenv outside the clone, shared by every clone
#      on this machine (${XDG_CACHE_HOME:-~/.cache}/worldloop/venv-torch-2.11.0);
#   3. CMake configure (Ninja, ccache) and build into ./build.
# Environment: WL_BUILD_DIR (default build), WL_JOBS (default nproc), WL_CMAKE_ARGS (extra flags).
set -euo pipefail

wl_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wl_build_dir=${WL_BUILD_DIR:-$wl_root/build}
wl_jobs=${WL_JOBS:-$(nproc)}
wl_torch_version=2.11.0
wl_venv=${XDG_CACHE_HOME:-$HOME/.cache}/worldloop/venv-torch-$wl_torch_version

wl_apt_packages=(
  build-essential cmake ninja-build pkg-config ccache git
  python3 python3-venv python3-pip
  libsdl2-dev libvulkan-dev vulkan-tools mesa-vulkan-drivers vulkan-validationlayers
  glslang-tools glslc spirv-tools libimgui-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev ffmpeg
  libglm-dev nlohmann-json3-dev libgtest-dev libgmock-dev libcli11-dev
  xvfb xauth imagemagick
  clang libclang-rt-14-dev
)

wl_log() { printf '[setup] %s\n' "$*" >&2; }

wl_install_debian_packages() {
  local missing=()
  for p in "${wl_apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  wl_log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

wl_install_torch() {
  if [ -x "$wl_venv/bin/python" ] &&
     "$wl_venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$wl_torch_version')" 2>/dev/null; then
    return 0
  fi
  wl_log "installing torch==$wl_torch_version into $wl_venv (a few GB, once per machine)"
  mkdir -p "$(dirname "$wl_venv")"
  python3 -m venv "$wl_venv"
  "$wl_venv/bin/python" -m pip install -q --upgrade pip
  "$wl_venv/bin/python" -m pip install -q "torch==$wl_torch_version" numpy
}

wl_configure_and_build() {
  local prefix
  prefix=$("$wl_venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  mkdir -p "$wl_build_dir"
  local cuda_args=()
  [ -x /usr/local/cuda/bin/nvcc ] && cuda_args=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
  # shellcheck disable=SC2086
  cmake -S "$wl_root" -B "$wl_build_dir" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" "${cuda_args[@]}" \
    ${WL_CMAKE_ARGS:-} > "$wl_build_dir/configure.log" 2>&1 || { cat "$wl_build_dir/configure.log" >&2; return 1; }
  grep -E "^-- worldloop" "$wl_build_dir/configure.log" >&2 || true
  cmake --build "$wl_build_dir" -j "$wl_jobs" "$@"
}

wl_setup() {
  wl_install_debian_packages
  wl_install_torch
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
  WL_CMAKE_ARGS="-DWL_WINDOW=ON -DWL_RECORDING=ON ${WL_CMAKE_ARGS:-}" wl_configure_and_build "$@"
}

#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs the whole test suite
# (ctest: unit tests, CLI tests, the bounded fuzz run). Without a display, the suite runs under
# xvfb-run with Mesa's lavapipe as the Vulkan driver, so window tests work on CI machines.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
wl_setup

export WL_LOG=${WL_LOG:-warn}   # tests print only warnings and errors unless asked
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/wl-runtime.XXXXXX)}
chmod 700 "$XDG_RUNTIME_DIR"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/share/vulkan/icd.d/lvp_icd.x86_64.json}
fi
ctest_args=(--test-dir "$wl_build_dir" --output-on-failure -j "$wl_jobs" "$@")
if [ -z "${DISPLAY:-}" ]; then
  xvfb-run -a -s '-screen 0 1280x720x24' ctest "${ctest_args[@]}"
else
  ctest "${ctest_args[@]}"
fi

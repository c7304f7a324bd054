#!/usr/bin/env bash
# The README's play command: installs what is missing, builds the engine and plays the default
# world (arguments go to `worldloop play`, e.g. --world driving).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
wl_setup --target worldloop
exec "$wl_build_dir/sim/worldloop" play "$@"

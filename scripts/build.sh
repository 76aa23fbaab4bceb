#!/usr/bin/env bash
# Configures and builds weir and its unit tests with CMake and Ninja.
# Usage: scripts/build.sh [BUILD_DIR [extra cmake args...]]   (default: build)
# WEIR_BUILD_TARGETS="a b" builds only those targets (default: all).
# Compiles through ccache when it is installed (WEIR_CCACHE=0: never), so a
# fresh clone or a second build directory reuses the objects of earlier builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=lib.sh source-path=SCRIPTDIR
source scripts/lib.sh
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$(weir_compiler_launcher)" "$@" >/dev/null
if [[ -n ${WEIR_BUILD_TARGETS:-} ]]; then
  # shellcheck disable=SC2086  # a list of target names
  cmake --build "$dir" --target ${WEIR_BUILD_TARGETS}
else
  cmake --build "$dir"
fi

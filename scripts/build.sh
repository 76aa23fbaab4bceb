#!/usr/bin/env bash
# Configures and builds weir and its unit tests with CMake and Ninja.
# Usage: scripts/build.sh [BUILD_DIR [extra cmake args...]]   (default: build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir"

#!/usr/bin/env bash
# Builds minetrace and runs every test: unit, simulation, integration (real node processes on
# 127.0.0.1). Exits non-zero on any failure. Usage: tests/run.sh [extra ctest args]
#   BUILD_DIR   build folder (default: build)
#   BUILD_TYPE  CMake build type (default: RelWithDebInfo)
#   JOBS        parallel compile/test jobs (default: 2)
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

BUILD_DIR="${BUILD_DIR:-build}"
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"
JOBS="${JOBS:-2}"

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DMINETRACE_WERROR=ON >/dev/null
ninja -C "$BUILD_DIR" -j"$JOBS"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS" "$@"

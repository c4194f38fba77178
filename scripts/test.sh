#!/usr/bin/env bash
# The whole test suite on an optimised build (the numerics are tens of times slower unoptimised).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --build-tests
swift test -c release --skip-build

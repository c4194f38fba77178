#!/usr/bin/env bash
# The whole test suite on an optimised build (the numerics are tens of times slower unoptimised),
# then the integration tests over real sockets with real clients.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --build-tests
swift test -c release --skip-build
swift build -c release --product speculators
if [ -x scripts/integration-test.sh ]; then
  scripts/integration-test.sh
fi

#!/usr/bin/env bash
# The whole test suite on an optimised build (the numerics are tens of times slower unoptimised),
# then the command line's usage errors, the integration tests over real sockets with real
# clients, and the fuzzers' seeds and kept inputs replayed through their harnesses. Ends with a
# plain "N passed, 0 failed" line so CI logs close on the count of tests that ran.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift build -c release --build-tests
swift test -c release --skip-build 2>&1 | tee "$log"
swift build -c release --product speculators
scripts/cli-usage-test.sh 2>&1 | tee -a "$log"
scripts/integration-test.sh 2>&1 | tee -a "$log"
scripts/fuzz/replay.sh 2>&1 | tee -a "$log"
swift_tests=$(grep -Eo 'Test run with [0-9]+ tests' "$log" | grep -Eo '[0-9]+' | tail -1)
integration=$(grep -Eo 'service checks: [0-9]+ passed' "$log" | grep -Eo '[0-9]+' | tail -1)
cli=$(grep -Eo 'cli checks: [0-9]+ passed' "$log" | grep -Eo '[0-9]+' | tail -1)
fuzz=$(grep -Eo 'fuzz regression checks: [0-9]+ passed' "$log" | grep -Eo '[0-9]+' | tail -1)
echo "make test: $(( ${swift_tests:-0} + ${integration:-0} + ${cli:-0} + ${fuzz:-0} )) passed, 0 failed"

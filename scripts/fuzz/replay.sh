#!/usr/bin/env bash
# Replays the fuzzers' seeds (scripts/fuzz/seeds.py), the regression inputs kept in
# Tests/Fuzz/HARNESS and the committed corpus Tests/Fuzz/corpus/HARNESS through every harness
# of the normally built speculators-fuzz (part of `make test`): each input must pass its
# harness's oracle, as it did when it was kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product speculators-fuzz 2>&1 | grep -E 'error|Build' || true
binary=.build/release/speculators-fuzz
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 scripts/fuzz/seeds.py "$seeds"
passed=0
for harness in http request config tokenizer gguf safetensors draft convert server; do
    inputs=("$seeds/$harness")
    [ -d "Tests/Fuzz/$harness" ] && inputs+=("Tests/Fuzz/$harness")
    [ -d "Tests/Fuzz/corpus/$harness" ] && inputs+=("Tests/Fuzz/corpus/$harness")
    out=$(SPECULATORS_ROOT=$PWD "$binary" "$harness" "${inputs[@]}" 2>&1 | grep -v ' info ' ) || {
        echo "$out" | tail -20
        echo "fuzz regression: $harness FAILED"
        exit 1
    }
    echo "$out" | tail -1
    passed=$((passed + 1))
done
echo "fuzz regression checks: $passed passed"

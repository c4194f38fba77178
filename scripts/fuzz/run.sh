#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer and the address sanitizer (`make fuzz`).
#
#   scripts/fuzz/run.sh [SECONDS_PER_HARNESS] [HARNESS...]
#
# Builds Sources/SpeculatorsFuzz as a libFuzzer binary (debug, so Swift's overflow and bounds
# checks stay on; sanitizers on every Swift target) in .build-fuzz, then runs each harness for
# the given time (default 60 s) from the seeds scripts/fuzz/seeds.py writes, the regression
# inputs in Tests/Fuzz/HARNESS, the committed corpus Tests/Fuzz/corpus/HARNESS (a set-cover
# merge of earlier runs), and the corpus local runs keep in runs/fuzz/corpus/HARNESS.
# A finding (a trap, a sanitizer report, an oracle failure, a hang past 60 s) stops that harness,
# leaves the input in runs/fuzz/findings/HARNESS and makes the script fail. Replay one with
#   .build/release/speculators-fuzz HARNESS FILE
# and, once fixed, add it to Tests/Fuzz/HARNESS so `make test` keeps checking it.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(http request config tokenizer gguf safetensors draft convert server)

echo "building the libFuzzer binary (.build-fuzz, debug, -sanitize=fuzzer,address)"
swift build --product speculators-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING 2>&1 | grep -E 'error|warning: unre|Compiling|Build' || true
binary=.build-fuzz/debug/speculators-fuzz
[ -x "$binary" ] || { echo "fuzz build failed"; exit 1; }

seeds=runs/fuzz/seeds
rm -rf "$seeds"
python3 scripts/fuzz/seeds.py "$seeds"

failed=()
for harness in "${harnesses[@]}"; do
    corpus=runs/fuzz/corpus/$harness
    findings=runs/fuzz/findings/$harness
    mkdir -p "$corpus" "$findings"
    inputs=("$corpus" "$seeds/$harness")
    [ -d "Tests/Fuzz/$harness" ] && inputs+=("Tests/Fuzz/$harness")
    [ -d "Tests/Fuzz/corpus/$harness" ] && inputs+=("Tests/Fuzz/corpus/$harness")
    # Checkpoints are files of kilobytes; everything else is a request or a text.
    max_len=4096
    case $harness in gguf|safetensors|convert) max_len=600000 ;; esac
    dictionary=()
    case $harness in request|server|config|draft) dictionary=(-dict=scripts/fuzz/openai.dict) ;; esac
    echo "fuzzing $harness for ${seconds} s (log: runs/fuzz/$harness.log)"
    if SPECULATORS_FUZZ=$harness SPECULATORS_ROOT=$PWD ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no \
        "$binary" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 -max_len=$max_len \
        -artifact_prefix="$findings/" -print_final_stats=1 "${dictionary[@]}" "${inputs[@]}" > "runs/fuzz/$harness.log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "runs/fuzz/$harness.log" | tail -2 | sed 's/^/  /'
    else
        echo "  FINDING in $harness: $(ls "$findings" | tail -1) (runs/fuzz/$harness.log)"
        grep -E 'FINDING|ERROR|Fatal error|SUMMARY' "runs/fuzz/$harness.log" | head -5 | sed 's/^/  /'
        failed+=("$harness")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: findings in ${failed[*]}"
    exit 1
fi
echo "fuzz: ${#harnesses[@]} harnesses, ${seconds} s each, no finding"

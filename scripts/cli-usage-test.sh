#!/usr/bin/env bash
# Bad command-line options are usage errors (exit code 64) that name the option, reported before
# any model or data is loaded (the paths below do not exist). Runs the release binary.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.build/release/speculators
[[ -x $BIN ]] || { echo "cli-usage-test: $BIN is missing; run 'swift build -c release' first" >&2; exit 1; }

passed=0
failed=0
# record WANTED_STATUS EXPECTED_TEXT STATUS OUTPUT COMMAND: counts one check.
record() {
  if [[ $3 == "$1" && $4 == *"$2"* ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $5: exit $3, '$4' (expected $1 and '$2')" >&2
  fi
}

# expected text | arguments
while IFS='|' read -r expected args; do
  expected=${expected% }
  # shellcheck disable=SC2086
  output=$(timeout 20 "$BIN" $args 2>&1 >/dev/null)
  record 64 "$expected" $? "$output" "speculators $args"
done <<'CASES'
--max-tokens must be at least 1 | generate --model none --prompt p --max-tokens 0
--temperature must be 0 or more | generate --model none --prompt p --temperature=-1
--num-speculative-tokens must be in [0, 32] | generate --model none --prompt p --num-speculative-tokens 40
--top-logits needs --json | generate --model none --prompt p --top-logits 5
--runs must be at least 1 | bench verifier --runs 0
--rows takes comma-separated integers | bench kernel --rows 1,x
--instruction-sets: unknown variant | bench kernel --instruction-sets avx3
--k takes comma-separated integers | bench spec --k 0,x
--batch takes comma-separated integers | bench spec --batch 0
--optimizer must be adamw or muon | bench train --optimizer sgd
--matmul-precision must be f32, bf16 or both | bench train --matmul-precision f16
--matmul-precision must be f32 or bf16 | datagen --output none --magpie 1 --matmul-precision f16
--epochs must be at least 1 | train --data none --verifier none --output none --epochs 0
--lr must be a positive number | train --data none --verifier none --output none --lr=-1
--optimizer must be adamw or muon | train --data none --verifier none --output none --optimizer sgd
--supervise must be assistant or all | train --data none --verifier none --output none --supervise none
--validation-fraction must be in [0, 1) | train --data none --verifier none --output none --validation-fraction 1
--max-steps must not be negative | train --data none --verifier none --output none --max-steps=-1
--muon-lr must be a positive number | train --data none --verifier none --output none --muon-lr 0
--matmul-precision must be bf16 or f32 | train --data none --verifier none --output none --matmul-precision f16
--threads must be between 1 and 1024 | generate --model none --prompt p --threads 100000
--threads must be between 1 and 1024 | datagen --output none --magpie 1 --threads 0
--max-conversations must be at least 1 | datagen --output none --magpie 1 --max-conversations 0
--output README.md is a file, not a folder | datagen --output README.md --magpie 1
--output README.md is a file, not a folder | train --data none --verifier none --output README.md
--max-data-tokens must be at least 1 | vocab --data none --max-data-tokens 0
bench verifier measures the verifier alone | bench verifier --speculator assets/drafts/smollm2-135m-eagle3
--speculator and --no-speculator contradict each other | serve --speculator assets/drafts/smollm2-135m-eagle3 --no-speculator
the output folder is given twice | convert none out1 --output-path out2 --verifier none
CASES

# Input that cannot be taken is an error (exit code 1) naming the problem, read before any model.
while IFS='|' read -r expected input args; do
  expected=${expected% }
  input=${input# }
  input=${input% }
  # shellcheck disable=SC2086
  output=$(printf "$input" | timeout 20 "$BIN" $args 2>&1 >/dev/null)
  record 1 "$expected" $? "$output" "printf '$input' | speculators $args"
done <<'CASES'
the bytes from offset 2 (of 5) are not a valid UTF-8 sequence | ab\xffcd | tokenize --model none -
the bytes from offset 3 (of 4) are not a valid UTF-8 sequence | h\xc3\xa9\xe2 | generate --model none --prompt -
CASES
echo "cli checks: $passed passed, $failed failed"
[[ $failed == 0 ]]

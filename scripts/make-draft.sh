#!/usr/bin/env bash
# `make draft`: reproduces the project's default SmolLM2 EAGLE-3 draft from scratch with a fixed seed:
# datagen (templated + self-written Magpie prompts, greedy answers, hidden states), vocab (d2t/t2d), train.
# Prints how long each stage took. Every stage is resumable: after an interruption, run it again.
#
# The result is copied to SHIP (default assets/drafts/smollm2-135m-eagle3, the draft `make serve` uses;
# SHIP= with nothing after it skips the copy, for trial runs).
#
# Budget knobs (environment): TEMPLATE_PROMPTS, MAGPIE, MAX_NEW_TOKENS, DRAFT_VOCAB, SEED, THREADS, RUN,
# SHIP, DATAGEN_ARGS and TRAIN_ARGS (extra arguments for `speculators datagen` and `speculators train`).
# The defaults take about 117 minutes on 2 cores: 15 for the Magpie prompts (1800 free, 1800 steered
# by the openings in assets/datagen/magpie-openings.txt), 37 for datagen (4200 conversations,
# 0.9 M tokens) and 64-67 for training (5 epochs, TTT step losses weighted 1, 0.6, 0.36).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.build/release/speculators}
MODEL=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
RUN=${RUN:-runs/draft}
SEED=${SEED:-0}
THREADS=${THREADS:-2}
TEMPLATE_PROMPTS=${TEMPLATE_PROMPTS:-600}
MAGPIE=${MAGPIE:-1800}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-192}
DRAFT_VOCAB=${DRAFT_VOCAB:-8192}
DATAGEN_ARGS=${DATAGEN_ARGS:---batch-size 64 --magpie-max-tokens 100 --shard-conversations 256 --magpie-steered 1800 --magpie-openings assets/datagen/magpie-openings.txt}
TRAIN_ARGS=${TRAIN_ARGS:---epochs 5 --lr 5e-4 --scheduler cosine --ttt-step-loss-decay 0.6 --verifier-name HuggingFaceTB/SmolLM2-135M-Instruct}
SHIP=${SHIP-assets/drafts/smollm2-135m-eagle3}
DATA="$RUN/data"
VOCAB="$DATA/vocab-$DRAFT_VOCAB.safetensors"
OUT="$RUN/speculator"

[ -x "$BIN" ] || { echo "draft: $BIN is missing (make build)" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "draft: $MODEL is missing (make models)" >&2; exit 1; }
mkdir -p "$RUN"

declare -a STAGES=()
stage() { # name command...
  local name=$1; shift
  local start; start=$(date +%s)
  echo "draft: === $name ==="
  "$@"
  local seconds=$(( $(date +%s) - start ))
  STAGES+=("$(printf '%-8s %4dm%02ds' "$name" $((seconds / 60)) $((seconds % 60)))")
  echo "draft: $name took ${seconds}s"
}

# The first TEMPLATE_PROMPTS prompts of the shipped set (a balanced mix of kinds in any prefix).
head -n "$TEMPLATE_PROMPTS" assets/datagen/prompts.jsonl > "$RUN/template-prompts.jsonl"

# shellcheck disable=SC2086
stage datagen "$BIN" datagen --model "$MODEL" --output "$DATA" \
  --data "$RUN/template-prompts.jsonl" --magpie "$MAGPIE" \
  --max-new-tokens "$MAX_NEW_TOKENS" --seed "$SEED" --threads "$THREADS" $DATAGEN_ARGS

stage vocab "$BIN" vocab --data "$DATA" --draft-vocab-size "$DRAFT_VOCAB" --output "$VOCAB"

# shellcheck disable=SC2086
stage train "$BIN" train --verifier "$MODEL" --data "$DATA" --vocab "$VOCAB" --output "$OUT" \
  --seed "$SEED" --threads "$THREADS" $TRAIN_ARGS

if [ -n "$SHIP" ]; then
  mkdir -p "$SHIP"
  cp "$OUT/config.json" "$OUT/model.safetensors" "$SHIP/"
  echo "draft: copied the speculator to $SHIP"
fi
echo "draft: done; the speculator is in $OUT"
for line in "${STAGES[@]}"; do echo "draft: $line"; done

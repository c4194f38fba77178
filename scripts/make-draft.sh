#!/usr/bin/env bash
# `make draft`: reproduces the project's default SmolLM2 EAGLE-3 draft from scratch with fixed seeds:
# datagen (templated + self-written Magpie prompts, greedy answers, hidden states), vocab (d2t/t2d),
# train. Prints how long each stage took. Every stage is resumable: after an interruption, run it again.
# An optional second datagen stage (more Magpie prompts, another seed; off by default) extends data an
# earlier run made instead of making it again: vocab and train then read both.
#
# The result is copied to SHIP (default assets/drafts/smollm2-135m-eagle3, the draft `make serve` uses;
# SHIP= with nothing after it skips the copy, for trial runs).
#
# Budget knobs (environment): TEMPLATE_PROMPTS, MAGPIE, MAX_NEW_TOKENS, DRAFT_VOCAB, SEED, THREADS, RUN,
# SHIP, DATAGEN_ARGS, EXTRA_MAGPIE, EXTRA_STEERED, EXTRA_SEED, EXTRA_ARGS (EXTRA_MAGPIE=0
# EXTRA_STEERED=0 skips the second stage) and TRAIN_ARGS (extra arguments for `speculators datagen`
# and `speculators train`). The defaults took 67 minutes on 2 cores on 2026-12-05 (about 106 at the
# slower speeds this machine had earlier that day; see the stage lines printed at the end and
# assets/drafts/smollm2-135m-eagle3/README.md): datagen 35 (3515 free and 3516 steered Magpie prompts,
# by the openings in assets/datagen/magpie-openings.txt, + 600 templated; 7631 conversations, 1.7 M
# tokens; the verifier's batched products in bfloat16, as the reference made its data with a bf16
# verifier), training 32 (4 epochs, bfloat16 products, TTT step losses weighted 1, 0.6, 0.36).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.build/release/speculators}
MODEL=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
RUN=${RUN:-runs/draft}
SEED=${SEED:-0}
THREADS=${THREADS:-2}
TEMPLATE_PROMPTS=${TEMPLATE_PROMPTS:-600}
MAGPIE=${MAGPIE:-3515}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-192}
DRAFT_VOCAB=${DRAFT_VOCAB:-8192}
DATAGEN_ARGS=${DATAGEN_ARGS:---batch-size 128 --magpie-max-tokens 100 --shard-conversations 256 --magpie-steered 3516 --magpie-openings assets/datagen/magpie-openings.txt --matmul-precision bf16}
EXTRA_MAGPIE=${EXTRA_MAGPIE:-0}
EXTRA_STEERED=${EXTRA_STEERED:-0}
# Far from SEED: Magpie attempt i samples with seed SEED + i, so the two stages never share a stream.
EXTRA_SEED=${EXTRA_SEED:-100000}
EXTRA_ARGS=${EXTRA_ARGS:---batch-size 128 --magpie-max-tokens 100 --shard-conversations 256 --magpie-openings assets/datagen/magpie-openings.txt}
TRAIN_ARGS=${TRAIN_ARGS:---epochs 4 --lr 5e-4 --scheduler cosine --ttt-step-loss-decay 0.6 --matmul-precision bf16 --verifier-name HuggingFaceTB/SmolLM2-135M-Instruct}
SHIP=${SHIP-assets/drafts/smollm2-135m-eagle3}
DATA="$RUN/data"
EXTRA="$RUN/data-extra"
VOCAB="$RUN/vocab-$DRAFT_VOCAB.safetensors"
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

# The first stage's data goes last: train holds out the last conversations for validation, which are
# then the first stage's last steered prompts, as when it was the only stage.
DATA_ARGS=(--data "$DATA")
if (( EXTRA_MAGPIE + EXTRA_STEERED > 0 )); then
  # shellcheck disable=SC2086
  stage extra "$BIN" datagen --model "$MODEL" --output "$EXTRA" --magpie "$EXTRA_MAGPIE" --magpie-steered "$EXTRA_STEERED" \
    --max-new-tokens "$MAX_NEW_TOKENS" --seed "$EXTRA_SEED" --threads "$THREADS" $EXTRA_ARGS
  DATA_ARGS=(--data "$EXTRA" --data "$DATA")
fi

stage vocab "$BIN" vocab "${DATA_ARGS[@]}" --draft-vocab-size "$DRAFT_VOCAB" --output "$VOCAB"

# shellcheck disable=SC2086
stage train "$BIN" train --verifier "$MODEL" "${DATA_ARGS[@]}" --vocab "$VOCAB" --output "$OUT" \
  --seed "$SEED" --threads "$THREADS" $TRAIN_ARGS

if [ -n "$SHIP" ]; then
  mkdir -p "$SHIP"
  cp "$OUT/config.json" "$OUT/model.safetensors" "$SHIP/"
  echo "draft: copied the speculator to $SHIP"
fi
echo "draft: done; the speculator is in $OUT"
for line in "${STAGES[@]}"; do echo "draft: $line"; done

#!/usr/bin/env bash
# The same-budget check of issue 6: a draft trained on no more tokens (193,670) and no more training
# time (20 minutes on 2 cores) than the Python reference draft, measured against it in one run.
#
# It reuses the data of `make draft` (RUN, default runs/draft): SHARDS shards from FIRST_SHARD on
# (default 2-5: the last 88 templated prompts and the first Magpie ones, so both kinds are in), of
# which vocab and train take the leading conversations that fit in BUDGET_TOKENS.
# Knobs (environment): RUN, OUT (runs/budget), FIRST_SHARD, SHARDS, BUDGET_TOKENS, EPOCHS, SEED, BIN,
# MATMUL_PRECISION (f32, as the measured budget draft was trained; bf16 trains about 1.4x faster).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.build/release/speculators}
MODEL=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
RUN=${RUN:-runs/draft}
OUT=${OUT:-runs/budget}
FIRST_SHARD=${FIRST_SHARD:-2}
SHARDS=${SHARDS:-4}
BUDGET_TOKENS=${BUDGET_TOKENS:-193670}
EPOCHS=${EPOCHS:-6}
SEED=${SEED:-0}

[ -f "$RUN/data/index.json" ] || { echo "budget: $RUN/data has no dataset (run make draft first)" >&2; exit 1; }
mkdir -p "$OUT/data"
python3 - "$RUN/data" "$OUT/data" "$FIRST_SHARD" "$SHARDS" <<'PY'
import json, os, sys
source, target, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
index = json.load(open(os.path.join(source, "index.json")))
kept = index["shards"][first:first + count]
if len(kept) < count:
    sys.exit(f"budget: {source} has {len(index['shards'])} shards, fewer than {first + count}")
for shard in kept:
    link = os.path.join(target, shard["file"])
    if not os.path.lexists(link):
        os.symlink(os.path.abspath(os.path.join(source, shard["file"])), link)
index["shards"] = kept
for key in ("conversations", "tokens", "supervised_tokens"):
    index[key] = sum(shard[key] for shard in kept)
index["planned_shards"], index["planned_conversations"] = len(kept), index["conversations"]
index["source"] += f" (shards {first}-{first + count - 1} of {source})"
json.dump(index, open(os.path.join(target, "index.json"), "w"), indent=1, sort_keys=True)
PY
"$BIN" vocab --data "$OUT/data" --draft-vocab-size 8192 --max-data-tokens "$BUDGET_TOKENS" --output "$OUT/vocab-8192.safetensors"
start=$(date +%s)
"$BIN" train --verifier "$MODEL" --data "$OUT/data" --vocab "$OUT/vocab-8192.safetensors" --output "$OUT/speculator" \
  --max-data-tokens "$BUDGET_TOKENS" --epochs "$EPOCHS" --lr 5e-4 --scheduler cosine --seed "$SEED" --threads 2 \
  --matmul-precision "${MATMUL_PRECISION:-f32}" \
  --verifier-name HuggingFaceTB/SmolLM2-135M-Instruct
echo "budget: training took $(( $(date +%s) - start ))s (the budget is 1200 s)"
for set in "" "--prompts data/humaneval.jsonl --limit 40 --raw"; do
  # shellcheck disable=SC2086
  "$BIN" bench spec --speculator "$OUT/speculator" --compare assets/drafts/smollm2-135m-eagle3-ref --k 3 --batch 1 $set
done

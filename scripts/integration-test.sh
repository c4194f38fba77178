#!/usr/bin/env bash
# Integration tests of `speculators serve` over a real socket: curl, the official `openai`
# Python client, concurrent streams, a bad-input suite, memory and /metrics agreement.
#
# Builds nothing: it runs the release binary `make test` built (.build/release/speculators).
# Serves SmolLM2-135M (models/, fetched by `make models`) with the reference EAGLE-3 draft, or
# the tiny test models when SmolLM2 is absent (or INTEGRATION_MODELS=tiny). Every step is bounded in time; the server is
# stopped (SIGTERM) whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.build/release/speculators
[[ -x $BIN ]] || { echo "integration-test: $BIN is missing; run 'swift build -c release' first" >&2; exit 1; }

if [[ ${INTEGRATION_MODELS:-} != tiny && -f models/SmolLM2-135M-Instruct.Q4_1.gguf ]]; then
  MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
  DRAFT=assets/drafts/smollm2-135m-eagle3
  NAME=SmolLM2-135M-Instruct
  K=3
else
  echo "integration-test: SmolLM2 not found (run 'make models'); using the tiny test models" >&2
  MODEL=Tests/ServerTests/Fixtures/tiny-llama
  DRAFT=Tests/ServerTests/Fixtures/tiny-eagle3
  NAME=tiny
  K=3
fi

python3 -c 'import openai' 2>/dev/null || timeout 300 python3 -m pip install -q openai
python3 -c 'import prometheus_client' 2>/dev/null || timeout 300 python3 -m pip install -q prometheus-client

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp -d)/serve
"$BIN" serve --host 127.0.0.1 --port "$PORT" --model "$MODEL" --served-model-name "$NAME" \
  --speculator "$DRAFT" --num-speculative-tokens "$K" --registry assets/drafts --max-batch 8 --max-queue 64 \
  --max-model-len 2048 --threads 2 --metrics-log-interval 5 >"$LOG.out" 2>"$LOG.err" &
PID=$!
cleanup() {
  if kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# Waits (at most 60 s) for the server $PID to print its "Serving" line.
wait_until_serving() {
  for _ in $(seq 300); do
    grep -q "^Serving " "$LOG.out" 2>/dev/null && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$LOG.err" >&2; echo "integration-test: the server exited" >&2; exit 1; }
    sleep 0.2
  done
  cat "$LOG.err" >&2; echo "integration-test: no 'Serving' line after 60 s" >&2; exit 1
}
wait_until_serving
cat "$LOG.out"

fail() { echo "FAIL: $*" >&2; tail -20 "$LOG.err" >&2; exit 1; }
BASE="http://127.0.0.1:$PORT"
CURL=(curl -sS --max-time 120)

# curl: the operational endpoints and one completion, streamed and not.
[[ $("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/health") == 200 ]] || fail "GET /health"
[[ $("${CURL[@]}" -o /dev/null -w '%{http_code}' -X POST "$BASE/ping") == 200 ]] || fail "POST /ping"
"${CURL[@]}" "$BASE/version" | grep -q '"version"' || fail "GET /version"
"${CURL[@]}" "$BASE/v1/models" | grep -q "\"id\":\"$NAME\"" || fail "GET /v1/models"
"${CURL[@]}" "$BASE/v1/completions" -H 'Content-Type: application/json' \
  -d '{"prompt":"The capital of France is","max_tokens":8,"temperature":0}' | grep -q '"object":"text_completion"' \
  || fail "POST /v1/completions"
STREAM=$("${CURL[@]}" -N "$BASE/v1/completions" -H 'Content-Type: application/json' \
  -d '{"prompt":"The capital of France is","max_tokens":8,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}')
[[ $(printf '%s' "$STREAM" | tail -n 2 | head -n 1) == "data: [DONE]" || $(printf '%s\n' "$STREAM" | grep -c '^data: \[DONE\]$') == 1 ]] \
  || fail "the stream does not end with data: [DONE]"
printf '%s' "$STREAM" | grep -q '"choices":\[\],"usage"' || fail "the stream has no usage chunk"
[[ $("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/v1/completions" -H 'Content-Type: application/json' -d '{"prompt":') == 400 ]] \
  || fail "invalid JSON is not a 400"
[[ $("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/v1/nothing") == 404 ]] || fail "an unknown route is not a 404"
"${CURL[@]}" "$BASE/v1/speculators" | grep -q '"loaded"' || fail "GET /v1/speculators"
[[ $("${CURL[@]}" -o /dev/null -w '%{http_code}' "$BASE/v1/speculators/..%2F..%2Fetc%2Fpasswd") == 404 ]] \
  || fail "a registry name outside the folder is not a 404"
echo "ok   curl checks"

timeout 900 python3 Tests/Integration/service_checks.py --port "$PORT" --model "$NAME" --pid "$PID" \
  --spec-decode --k "$K" || fail "service checks"

# The line is periodic (--metrics-log-interval 5): wait up to one interval past the checks.
for _ in $(seq 35); do grep -q "SpecDecoding metrics" "$LOG.err" && break; sleep 0.2; done
grep -q "SpecDecoding metrics" "$LOG.err" || fail "no 'SpecDecoding metrics' log line"

# Greedy completion texts of a few prompts, to compare with the server computing from the GGUF's
# quantised blocks below.
greedy() { # port
  for prompt in "The capital of France is" "def fibonacci(n):" "Write a haiku about the sea."; do
    "${CURL[@]}" "http://127.0.0.1:$1/v1/completions" -H 'Content-Type: application/json' \
      -d "{\"prompt\":\"$prompt\",\"max_tokens\":48,\"temperature\":0,\"ignore_eos\":true}" \
      | python3 -c 'import json, sys; print(json.load(sys.stdin)["choices"][0]["text"])'
  done
}
[[ $MODEL == *.gguf ]] && EXPECTED=$(greedy "$PORT")

kill -TERM "$PID"
for _ in $(seq 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$PID" 2>/dev/null && fail "the server did not stop within 30 s of SIGTERM"
wait "$PID" || true
cp "$LOG.err" "$LOG.err.default"

if [[ $MODEL == *.gguf ]]; then
  # The server above computed from the GGUF's quantised blocks (the default); with
  # --no-quantized-weights it computes from float32 weights: the same text, token for token
  # (the logits have the same bits).
  grep -q 'weights=quantized' "$LOG.err.default" || fail "the default server does not log quantised weights"
  "$BIN" serve --host 127.0.0.1 --port "$PORT" --model "$MODEL" --served-model-name "$NAME" \
    --speculator "$DRAFT" --num-speculative-tokens "$K" --no-quantized-weights --threads 2 >"$LOG.out" 2>"$LOG.err" &
  PID=$!
  wait_until_serving
  grep -q 'weights=float32' "$LOG.err" || fail "the --no-quantized-weights server does not log float32 weights"
  [[ $(greedy "$PORT") == "$EXPECTED" ]] || fail "float32 weights changed greedy completions"
  echo "ok   quantised (default) and float32 weights serve the same greedy completions"
fi
# `generate` end to end: adaptive speculation (pass costs calibrated first) and pinned k emit
# exactly the tokens plain decoding does.
generated() { # extra generate arguments...
  "$BIN" generate --model "$MODEL" --speculator "$DRAFT" --prompt "Write a haiku about the sea." \
    --max-tokens 48 --threads 2 --json "$@" | python3 -c 'import json, sys; print(json.load(sys.stdin)["output_ids"])'
}
PLAIN=$(generated --num-speculative-tokens 0) || fail "generate without speculation failed"
[[ $(generated) == "$PLAIN" ]] || fail "generate with adaptive speculation changed the greedy tokens"
[[ $(generated --num-speculative-tokens 3) == "$PLAIN" ]] || fail "generate with k = 3 changed the greedy tokens"
echo "ok   generate: adaptive and k = 3 emit plain greedy decoding's tokens"
# --top-logits: the first position's largest logits, in order, led by the first greedy token.
"$BIN" generate --model "$MODEL" --prompt "Write a haiku about the sea." --max-tokens 1 --threads 2 --json \
  --top-logits 5 | python3 -c '
import json, sys
out = json.load(sys.stdin)
top = out["first_position_top"]
assert len(top["ids"]) == 5 and len(top["logits"]) == 5, top
assert top["logits"] == sorted(top["logits"], reverse=True), top
assert top["ids"][0] == out["output_ids"][0], (top, out["output_ids"])
' || fail "generate --top-logits does not report the first position's largest logits"
echo "ok   generate --top-logits: the first position's five largest logits, led by the greedy token"
echo "integration: all checks passed"

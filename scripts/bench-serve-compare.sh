#!/usr/bin/env bash
# `make bench-serve`: the same client load against the server without and with the draft, in
# alternating rounds (plain, draft, plain, draft, ...) so that both see the same minutes of a
# shared machine. Prints each round and the ratio of the summed output tokens per second.
#
# Knobs (environment): CONCURRENCY (8), DURATION seconds per round (60), ROUNDS (2), PORT (8011),
# SPECULATOR (the config's default), K (adaptive), MAX_BATCH (= CONCURRENCY), BIN, and MODES
# ("plain draft"; add "gate" for the draft with the confidence gate on, also against plain), and
# SERVE_ARGS, extra `serve` arguments for every mode (e.g. --no-quantized-weights: float32 weights).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.build/release/speculators}
CONCURRENCY=${CONCURRENCY:-8}
DURATION=${DURATION:-60}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-8011}
K=${K:-adaptive}
MAX_BATCH=${MAX_BATCH:-$CONCURRENCY}
MODES=${MODES:-plain draft}
SERVE_ARGS=${SERVE_ARGS:-}
SPECULATOR=${SPECULATOR:-}
LOGS=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$LOGS"' EXIT
SERVER=

start_server() { # extra serve arguments...
  "$BIN" serve --port "$PORT" --max-batch "$MAX_BATCH" --max-queue $((CONCURRENCY * 4)) $SERVE_ARGS "$@" > "$LOGS/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$PORT/health" > /dev/null 2>&1 && return 0
    kill -0 "$SERVER" 2>/dev/null || { cat "$LOGS/server.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "bench-serve: the server did not become healthy" >&2; exit 1
}

stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=; }

declare -A TOKENS=() SECONDS_=()
for mode in $MODES; do TOKENS[$mode]=0; SECONDS_[$mode]=0; done
[ -n "${TOKENS[plain]+set}" ] || { echo "bench-serve: MODES must include plain (the baseline)" >&2; exit 1; }
for round in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    case "$mode" in
      plain) start_server --no-speculator ;;
      draft) start_server ${SPECULATOR:+--speculator "$SPECULATOR"} --num-speculative-tokens "$K" ;;
      gate) start_server ${SPECULATOR:+--speculator "$SPECULATOR"} --num-speculative-tokens "$K" --confidence-gate ;;
      *) echo "bench-serve: unknown mode $mode (plain, draft, gate)" >&2; exit 1 ;;
    esac
    "$BIN" bench serve --port "$PORT" --concurrency "$CONCURRENCY" --duration "$DURATION" --pid "$SERVER" \
      --progress-interval 1000 --json > "$LOGS/$mode-$round.json"
    stop_server
    read -r tokens seconds line < <(python3 - "$LOGS/$mode-$round.json" "$mode" "$round" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
al = r.get("meanAcceptanceLength")
line = (f"round {sys.argv[3]} {sys.argv[2]:5}: {r['outputTokensPerSecond']:.1f} tok/s, {r['requests']} requests, "
        f"{r['errors']} errors, TTFT p50 {r['ttftMs']['p50']:.0f} ms, inter-token p50 {r['interTokenMs']['p50']:.1f} ms"
        + (f", mean acceptance length {al:.3f}" if al else "")
        + (f", peak RSS {r['serverPeakRSSMiB']:.0f} MiB" if r.get("serverPeakRSSMiB") else ""))
print(r["outputTokens"], r["seconds"], line)
PY
)
    echo "bench-serve: $line"
    TOKENS[$mode]=$((TOKENS[$mode] + tokens))
    SECONDS_[$mode]=$(python3 -c "print(${SECONDS_[$mode]} + $seconds)")
  done
done
for mode in $MODES; do
  [ "$mode" = plain ] && continue
  python3 - "${TOKENS[plain]}" "${SECONDS_[plain]}" "${TOKENS[$mode]}" "${SECONDS_[$mode]}" "$CONCURRENCY" "$mode" <<'PY'
import sys
pt, ps, dt, ds, c, mode = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
plain, draft = pt / ps, dt / ds
label = "with draft" if mode == "draft" else "with draft and the confidence gate"
print(f"bench-serve: {c} clients: plain {plain:.1f} tok/s, {label} {draft:.1f} tok/s, ratio {draft / plain:.3f}x")
PY
done

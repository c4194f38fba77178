#!/usr/bin/env python3
"""Checks a Prometheus text exposition (a file, '-' for stdin, or an http:// URL such as
http://127.0.0.1:8000/metrics) with the real parser of the Python prometheus_client, then checks
what the project promises about it:

  * every vLLM core metric family is present, with the process collector's (resident memory,
    CPU seconds, ...) that prometheus_client serves by default (and, with --spec-decode, the speculative-decoding
    counters, with per-position series 0..k-1 when --k is given);
  * every vllm:* sample carries model_name (equal to --model when given) and engine labels;
  * histograms: buckets ascending, cumulative counts non-decreasing, a +Inf bucket equal to
    _count, a finite _sum;
  * counters are non-negative; accepted tokens never exceed draft tokens; per-position
    acceptance never increases with the position and never exceeds the number of drafts.

Prints the derived mean acceptance length (1 + accepted/drafts) when drafts are present.
Exit status 0 when everything holds, 1 with one line per problem otherwise.
Needs: pip install prometheus-client"""
import argparse, math, sys, urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

CORE = [
    "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
    "vllm:prompt_tokens", "vllm:generation_tokens", "vllm:request_success",
    "vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds",
    "vllm:e2e_request_latency_seconds", "vllm:request_queue_time_seconds",
    "vllm:request_prefill_time_seconds", "vllm:request_decode_time_seconds",
    "process_virtual_memory_bytes", "process_resident_memory_bytes", "process_start_time_seconds",
    "process_cpu_seconds", "process_open_fds", "process_max_fds",
]
SPEC = [
    "vllm:spec_decode_num_drafts", "vllm:spec_decode_num_draft_tokens",
    "vllm:spec_decode_num_accepted_tokens", "vllm:spec_decode_num_accepted_tokens_per_pos",
]


def read(source):
    if source == "-":
        return sys.stdin.read()
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:
            return response.read().decode("utf-8")
    with open(source, encoding="utf-8") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="file, '-' or http(s) URL")
    ap.add_argument("--model", help="expected model_name label value")
    ap.add_argument("--spec-decode", action="store_true", help="require the speculative-decoding counters")
    ap.add_argument("--k", type=int, help="expected number of per-position series")
    ap.add_argument("--no-core", action="store_true", help="do not require the vLLM core families")
    args = ap.parse_args()

    problems = []
    try:
        families = list(text_string_to_metric_families(read(args.source)))
    except Exception as error:  # the parser raises ValueError on malformed text
        print(f"not a valid Prometheus exposition: {error}")
        return 1
    by_name = {f.name: f for f in families}

    required = ([] if args.no_core else CORE) + (SPEC if args.spec_decode else [])
    for name in required:
        if name not in by_name:
            problems.append(f"missing metric family {name}")

    totals = defaultdict(float)
    per_position = {}
    for family in families:
        if family.name.startswith("vllm:"):
            for s in family.samples:
                if "model_name" not in s.labels or "engine" not in s.labels:
                    problems.append(f"{s.name}{s.labels}: missing model_name or engine label")
                elif args.model is not None and s.labels["model_name"] != args.model:
                    problems.append(f"{s.name}: model_name={s.labels['model_name']!r}, expected {args.model!r}")
        if family.type == "counter":
            for s in family.samples:
                if s.name.endswith("_total"):
                    if s.value < 0 or math.isnan(s.value):
                        problems.append(f"{s.name}{s.labels}: counter value {s.value}")
                    totals[family.name] += s.value
                    if family.name == "vllm:spec_decode_num_accepted_tokens_per_pos":
                        per_position[int(s.labels.get("position", "-1"))] = s.value
        if family.type == "histogram":
            problems += check_histogram(family)

    drafts = totals.get("vllm:spec_decode_num_drafts", 0.0)
    accepted = totals.get("vllm:spec_decode_num_accepted_tokens", 0.0)
    drafted = totals.get("vllm:spec_decode_num_draft_tokens", 0.0)
    if accepted > drafted:
        problems.append(f"accepted tokens {accepted} exceed draft tokens {drafted}")
    positions = [per_position[p] for p in sorted(per_position)]
    if args.k is not None and sorted(per_position) != list(range(args.k)):
        problems.append(f"per-position series {sorted(per_position)}, expected positions 0..{args.k - 1}")
    for i in range(1, len(positions)):
        if positions[i] > positions[i - 1]:
            problems.append(f"accepted at position {i} ({positions[i]}) exceeds position {i - 1} ({positions[i - 1]})")
    if positions and positions[0] > drafts:
        problems.append(f"accepted at position 0 ({positions[0]}) exceeds the number of drafts ({drafts})")
    if drafts > 0:
        print(f"mean acceptance length {1 + accepted / drafts:.3f} over {int(drafts)} drafts; "
              f"per-position acceptance {', '.join(f'{p / drafts:.3f}' for p in positions)}")

    for p in problems:
        print(p)
    print(f"{len(families)} metric families, {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def check_histogram(family):
    problems = []
    groups = defaultdict(lambda: {"buckets": [], "count": None, "sum": None})
    for s in family.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        if s.name.endswith("_bucket"):
            groups[key]["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            groups[key]["count"] = s.value
        elif s.name.endswith("_sum"):
            groups[key]["sum"] = s.value
    for key, g in groups.items():
        where = f"{family.name}{dict(key)}"
        bounds = [b for b, _ in g["buckets"]]
        counts = [c for _, c in g["buckets"]]
        if not bounds or bounds[-1] != math.inf:
            problems.append(f"{where}: no +Inf bucket")
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            problems.append(f"{where}: bucket bounds not strictly ascending")
        if any(b < a for a, b in zip(counts, counts[1:])):
            problems.append(f"{where}: bucket counts are not cumulative")
        if g["count"] is None or (counts and counts[-1] != g["count"]):
            problems.append(f"{where}: +Inf bucket {counts[-1] if counts else None} != _count {g['count']}")
        if g["sum"] is None or not math.isfinite(g["sum"]):
            problems.append(f"{where}: _sum missing or not finite")
    return problems


if __name__ == "__main__":
    sys.exit(main())

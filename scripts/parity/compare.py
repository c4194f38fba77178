#!/usr/bin/env python3
"""Our verifier against the reference (reference.py) on the held-out prompts, through the CLI.

For every prompt and every variant (float32 weights, quantised blocks, quantised with the default
draft at k = 3): the rendered prompt ids must be equal, the greedy ids equal up to the first
position whose reference top-1/top-2 margin is below 1e-3 (the fixtures' near-tie rule), and the
five largest logits of the first generated position within 1e-3 of the reference's. Exits 1 on
any difference.

    python3 scripts/parity/compare.py --binary .build/release/speculators \
        --model models/SmolLM2-135M-Instruct.Q4_1.gguf --reference runs/parity/reference.json
"""
import argparse
import json
import subprocess
import sys

TOLERANCE = 1e-3

parser = argparse.ArgumentParser()
parser.add_argument("--binary", required=True)
parser.add_argument("--model", required=True)
parser.add_argument("--reference", required=True)
parser.add_argument("--speculator", default="assets/drafts/smollm2-135m-eagle3")
args = parser.parse_args()

with open(args.reference) as f:
    reference = json.load(f)["cases"]
variants = {
    "float32": ["--no-quantized-weights", "--num-speculative-tokens", "0"],
    "quantised": ["--quantized-weights", "--num-speculative-tokens", "0"],
    "quantised+draft k=3": ["--quantized-weights", "--speculator", args.speculator, "--num-speculative-tokens", "3"],
}
failures = 0
compared_tokens = 0
worst_logit = 0.0
for index, case in enumerate(reference):
    chat = ["--chat"] if case["kind"] == "chat" else []
    expected = case["output_ids"]
    for name, variant in variants.items():
        run = subprocess.run([args.binary, "generate", "--model", args.model, "--json", "--top-logits", "5",
                              "--max-tokens", str(len(expected)), "--prompt", "-", *chat, *variant],
                             input=case["text"].encode(), capture_output=True)
        label = f"case {index} ({case['kind']}, {len(case['prompt_ids'])} prompt tokens), {name}"
        if run.returncode != 0:
            print(f"{label}: generate failed: {run.stderr.decode()[-400:]}")
            failures += 1
            continue
        ours = json.loads(run.stdout)
        problems = []
        if ours["prompt_ids"] != case["prompt_ids"]:
            problems.append("prompt ids differ")
        else:
            checked = 0
            for position, token in enumerate(expected):
                if case["margins"][position] < TOLERANCE:
                    break
                if position >= len(ours["output_ids"]) or ours["output_ids"][position] != token:
                    problems.append(f"greedy token {position} differs (reference margin {case['margins'][position]:.4f})")
                    break
                checked += 1
            compared_tokens += checked
            top, want = ours["first_position_top"], case["first_position_top5"]
            for rank, (token, logit) in enumerate(zip(want["ids"], want["logits"])):
                got = dict(zip(top["ids"], top["logits"])).get(token)
                if got is None:
                    # Allowed only where the reference's ranks are themselves within the tolerance.
                    if rank > 0 and abs(want["logits"][rank - 1] - logit) < TOLERANCE:
                        continue
                    problems.append(f"top-5 token {token} (rank {rank}) missing")
                    continue
                worst_logit = max(worst_logit, abs(got - logit))
                if abs(got - logit) > TOLERANCE:
                    problems.append(f"logit of token {token} off by {abs(got - logit):.2e}")
        if problems:
            failures += 1
            print(f"{label}: " + "; ".join(problems))
print(f"parity: {len(reference)} prompts x {len(variants)} variants, {compared_tokens} greedy tokens compared, "
      f"largest first-position logit difference {worst_logit:.2e} (tolerance {TOLERANCE:g}), {failures} failing")
sys.exit(1 if failures else 0)

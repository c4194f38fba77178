#!/usr/bin/env python3
"""Reference greedy continuations and first-position logits for the held-out prompts (prompts.py).

SmolLM2-135M-Instruct from the project's GGUF (Q4_1, dequantised to float32 by transformers'
GGUF loader), transformers on the CPU in float32, as the fixtures' SmolLM2 goldens were made.
Prompt ids come from the fixture tokenizer (smollm2-hf: the GGUF converter's tokenizer with the
`smollm` pre-tokenizer restored). Needs torch, transformers, accelerate and gguf.

    python3 scripts/parity/reference.py --gguf models/SmolLM2-135M-Instruct.Q4_1.gguf \
        --tokenizer Tests/TokenizersTests/Fixtures/smollm2-hf --output runs/parity/reference.json
"""
import argparse
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prompts import cases  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--gguf", required=True)
parser.add_argument("--tokenizer", required=True, help="folder with tokenizer.json and the chat template")
parser.add_argument("--output", required=True)
parser.add_argument("--max-new-tokens", type=int, default=64)
args = parser.parse_args()

torch.set_num_threads(os.cpu_count() or 1)
tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
folder, name = os.path.split(os.path.abspath(args.gguf))
model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()

results = []
for kind, text in cases():
    if kind == "chat":
        ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True)
        if not isinstance(ids, list):
            ids = ids["input_ids"]
    else:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    ids = [int(i) for i in ids]
    output, margins = [], []
    with torch.no_grad():
        result = model(torch.tensor([ids]), use_cache=True)
        logits = result.logits[0, -1]
        top5 = torch.topk(logits, 5)
        for _ in range(args.max_new_tokens):
            best = torch.topk(logits, 2)
            token = int(best.indices[0])
            margins.append(float(best.values[0] - best.values[1]))
            output.append(token)
            if token == 2:  # <|im_end|>
                break
            result = model(torch.tensor([[token]]), past_key_values=result.past_key_values, use_cache=True)
            logits = result.logits[0, -1]
    results.append({"kind": kind, "text": text, "prompt_ids": ids, "output_ids": output, "margins": margins,
                    "first_position_top5": {"ids": top5.indices.tolist(), "logits": top5.values.tolist()}})
    print(f"reference: {len(results)} {kind}, {len(ids)} prompt tokens, {len(output)} generated", file=sys.stderr)

os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
with open(args.output, "w") as f:
    json.dump({"generator": {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                             "dtype": "float32"}, "cases": results}, f)

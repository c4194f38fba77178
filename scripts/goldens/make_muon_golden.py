"""Reference Muon + AdamW steps computed by PyTorch's own `torch.optim.Muon` (2.9), the optimizer
the speculators library uses by default (`--optimizer muon`): Muon (momentum 0.95, Nesterov,
weight decay 0.1, 5 Newton-Schulz steps, `adjust_lr_fn="match_rms_adamw"`, lr = 10 x the base)
for the 2-D weights, each projection on its own (q/k/v and gate/up separately), and
`torch.optim.AdamW` (weight decay 0.01) for the norm weights.

The tensors use the Swift trainer's stacked layout and names (`self_attn.qkv_proj`,
`mlp.gate_up_proj`); values and gradients come from closed formulas the Swift test repeats.
Written twice: with torch's bfloat16 Newton-Schulz iterations (`bf16`) and with the same
iterations in float32 (`f32`, what the Swift trainer computes).

Usage (needs torch >= 2.9):  python scripts/goldens/make_muon_golden.py OUTPUT_JSON
"""
import json
import math
import sys

import torch
import torch.optim._muon as muon_module

H, INTER = 4, 5
# (name, shape, row split of a stacked tensor) in DraftTrainables.named order.
TENSORS = [
    ("fc.weight", [H, 3 * H], None),
    ("layers.0.input_layernorm.weight", [H], None),
    ("layers.0.hidden_norm.weight", [H], None),
    ("layers.0.self_attn.qkv_proj.weight", [8, 2 * H], [4, 2, 2]),
    ("layers.0.self_attn.o_proj.weight", [H, H], None),
    ("layers.0.post_attention_layernorm.weight", [H], None),
    ("layers.0.mlp.gate_up_proj.weight", [2 * INTER, H], [INTER, INTER]),
    ("layers.0.mlp.down_proj.weight", [H, INTER], None),
    ("norm.weight", [H], None),
]
BASE_LR, MUON_SCALE, MULTIPLIERS = 0.01, 10.0, [1.0, 0.5, 0.25]


def initial(t, n, vector):
    return [(1.0 if vector else 0.0) + 0.1 * math.sin(0.7 * i + 1.9 * t) for i in range(n)]


def gradient(t, n, step):
    return [0.01 * math.cos(0.31 * i * (step + 1) + 0.5 * t + step) * (1 + 0.2 * t) for i in range(n)]


def run(float32_iterations):
    original = muon_module._zeropower_via_newtonschulz
    if float32_iterations:
        def ns32(grad, ns_coefficients, ns_steps, eps):
            a, b, c = ns_coefficients
            x = grad.float()
            if grad.size(0) > grad.size(1):
                x = x.T
            x = x / x.norm().clamp(min=eps)
            for _ in range(ns_steps):
                gram = x @ x.T
                update = torch.addmm(gram, gram, gram, beta=b, alpha=c)
                x = torch.addmm(x, update, x, beta=a)
            if grad.size(0) > grad.size(1):
                x = x.T
            return x
        muon_module._zeropower_via_newtonschulz = ns32
    try:
        pieces = []  # (tensor index, row range, parameter)
        for t, (name, shape, split) in enumerate(TENSORS):
            n = math.prod(shape)
            full = torch.tensor(initial(t, n, len(shape) == 1), dtype=torch.float64).float().reshape(shape)
            if split is None:
                pieces.append((t, None, torch.nn.Parameter(full.clone())))
            else:
                start = 0
                for rows in split:
                    pieces.append((t, (start, start + rows), torch.nn.Parameter(full[start:start + rows].clone())))
                    start += rows
        matrices = [p for _, _, p in pieces if p.ndim == 2]
        vectors = [p for _, _, p in pieces if p.ndim == 1]
        muon = torch.optim.Muon(matrices, lr=BASE_LR * MUON_SCALE, weight_decay=0.1, momentum=0.95, nesterov=True,
                                adjust_lr_fn="match_rms_adamw")
        adamw = torch.optim.AdamW(vectors, lr=BASE_LR, weight_decay=0.01, betas=(0.9, 0.999), eps=1e-8)
        for step, multiplier in enumerate(MULTIPLIERS):
            for t, rows, p in pieces:
                name, shape, _ = TENSORS[t]
                full = torch.tensor(gradient(t, math.prod(shape), step), dtype=torch.float64).float().reshape(shape)
                p.grad = (full if rows is None else full[rows[0]:rows[1]]).clone()
            for group in muon.param_groups:
                group["lr"] = BASE_LR * MUON_SCALE * multiplier
            for group in adamw.param_groups:
                group["lr"] = BASE_LR * multiplier
            muon.step()
            adamw.step()
        result = {}
        for t, (name, shape, _) in enumerate(TENSORS):
            parts = [p.detach() for i, _, p in pieces if i == t]
            result[name] = torch.cat(parts).reshape(-1).tolist()
        return result
    finally:
        muon_module._zeropower_via_newtonschulz = original


golden = {
    "source": f"torch {torch.__version__} torch.optim.Muon + torch.optim.AdamW, scripts/goldens/make_muon_golden.py",
    "base_lr": BASE_LR, "muon_lr_scale": MUON_SCALE, "lr_multipliers": MULTIPLIERS,
    "tensors": [{"name": n, "shape": s, "row_split": r} for n, s, r in TENSORS],
    "initial": "0.1*sin(0.7*i + 1.9*t), plus 1 for vectors (t: tensor index, i: flat index)",
    "gradient": "0.01*cos(0.31*i*(step+1) + 0.5*t + step)*(1 + 0.2*t)",
    "f32": run(True),
    "bf16": run(False),
}
with open(sys.argv[1], "w") as f:
    json.dump(golden, f, indent=1)

"""Reference EAGLE-3 training step computed by the speculators library itself (0.9.0, PyPI).

Builds the tiny draft from the `tiny-eagle3` fixture (verifier `tiny-llama`), makes a packed
batch of two conversations from the verifier's own hidden states, runs the library's
`Eagle3DraftModel.forward` with ttt_steps=3 and ttt_step_loss_decay=0.8 (default kl_div loss),
backward, clip_grad_norm_(1.0) and one torch AdamW step, and writes the inputs, loss, metrics,
pre-clip gradient norm, gradients and updated weights (full for vectors, a fixed sample of
entries for matrices) to JSON.

Usage (from anywhere; needs torch, transformers, speculators==0.9.0):
    python scripts/goldens/make_train_step_golden.py FIXTURES_DIR OUTPUT_JSON
where FIXTURES_DIR holds `tiny-llama/` and `tiny-eagle3/`.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM

from speculators.losses.utils import resolve_loss_config
from speculators.models.eagle3 import Eagle3DraftModel, Eagle3SpeculatorConfig

fixtures, output = sys.argv[1], sys.argv[2]
os.chdir(fixtures)  # the draft's verifier name_or_path is the relative "tiny-llama"
torch.manual_seed(0)

verifier = AutoModelForCausalLM.from_pretrained("tiny-llama", dtype=torch.float32).eval()
# FlexAttention has no CPU backward: use the eager path (its TTT mask is correct in 0.9.0).
config = Eagle3SpeculatorConfig.from_pretrained("tiny-eagle3")
config.transformer_layer_config._attn_implementation = "eager"
draft = Eagle3DraftModel.from_pretrained("tiny-eagle3", config=config).float()
draft.train()

# Two conversations; the first 3 tokens of each are "prompt" (loss mask 0).
generator = torch.Generator().manual_seed(1234)
lengths = [10, 8]
conversations = [torch.randint(0, 384, (n,), generator=generator) for n in lengths]
aux_ids = [1, 2, 3]

captured = {}
verifier.model.norm.register_forward_hook(lambda module, args, out: captured.__setitem__("pre_norm", args[0]))

rows = {"input_ids": [], "hidden_states": [], "last": [], "loss_mask": [], "document_ids": [], "position_ids": []}
for doc, ids in enumerate(conversations):
    with torch.no_grad():
        out = verifier(ids[None], output_hidden_states=True)
    aux = torch.cat([out.hidden_states[i][0] for i in aux_ids], dim=-1)  # [T, 192], id k = entering layer k
    last = captured["pre_norm"][0]  # [T, 64], id N = pre-norm output of the last layer
    mask = torch.tensor([0] * 3 + [1] * (len(ids) - 3))
    # The EAGLE-3 shift (training.md 4.2).
    rows["input_ids"].append(ids[1:])
    rows["hidden_states"].append(aux[:-1])
    rows["last"].append(last[1:])
    rows["loss_mask"].append(mask[1:])
    rows["document_ids"].append(torch.full((len(ids) - 1,), doc))
    rows["position_ids"].append(torch.arange(1, len(ids)))

input_ids = torch.cat(rows["input_ids"])[None]
hidden_states = torch.cat(rows["hidden_states"])[None]
last_hidden = torch.cat(rows["last"])[None]
loss_mask = torch.cat(rows["loss_mask"])[None].bool()
document_ids = torch.cat(rows["document_ids"])[None]
position_ids = torch.cat(rows["position_ids"])[None]

params = [p for p in draft.parameters() if p.requires_grad]
names = [n for n, p in draft.named_parameters() if p.requires_grad]
optimizer = torch.optim.AdamW(params, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)

_, loss, metrics = draft(
    hidden_states=hidden_states,
    input_ids=input_ids,
    document_ids=document_ids,
    loss_mask=loss_mask,
    position_ids=position_ids,
    verifier_last_hidden_states=last_hidden,
    ttt_steps=3,
    ttt_step_loss_decay=0.8,
    # The fused (Triton) loss needs a GPU; the eager one is the library's reference with the same values.
    loss_config=resolve_loss_config("kl_div", "eager"),
)
optimizer.zero_grad()
loss.backward()
grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
gradients = {n: p.grad.detach().clone() for n, p in zip(names, params)}  # after clipping
optimizer.step()

sampler = torch.Generator().manual_seed(99)


def sample(name, tensor):
    flat = tensor.detach().reshape(-1)
    if tensor.dim() == 1:
        indices = list(range(flat.numel()))
    else:
        indices = sorted(set(torch.randint(0, flat.numel(), (48,), generator=sampler).tolist()))
    return indices, [float(f"{flat[i].item():.7g}") for i in indices]


grad_entries, updated_entries = {}, {}
for n, p in zip(names, params):
    indices, values = sample(n, gradients[n])
    shape = list(p.shape)
    grad_entries[n] = {"shape": shape, "indices": indices, "values": values}
    flat = p.detach().reshape(-1)
    updated_entries[n] = {"shape": shape, "indices": indices,
                          "values": [float(f"{flat[i].item():.7g}") for i in indices]}


def floats(t):
    return [float(f"{v:.7g}") for v in t.reshape(-1).tolist()]


golden = {
    "library": "speculators 0.9.0, torch " + torch.__version__,
    "draft": "tiny-eagle3", "verifier": "tiny-llama",
    "ttt_steps": 3, "ttt_step_loss_decay": 0.8, "loss_fn": "kl_div",
    "optimizer": {"name": "AdamW", "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01},
    "clip_grad_norm": 1.0,
    "attention": draft._attn_impl,
    "rows": int(input_ids.shape[1]),
    "input_ids": input_ids[0].tolist(),
    "hidden_states": floats(hidden_states[0]),
    "verifier_last_hidden_states": floats(last_hidden[0]),
    "loss_mask": [int(v) for v in loss_mask[0].tolist()],
    "document_ids": document_ids[0].tolist(),
    "position_ids": position_ids[0].tolist(),
    "loss": float(loss.item()),
    "metrics": {k: float(v.item()) for k, v in metrics.items()},
    "grad_norm_before_clip": float(grad_norm.item()),
    "clipped_gradients": grad_entries,
    "updated_weights": updated_entries,
}
with open(output, "w") as f:
    json.dump(golden, f, indent=1)
print("loss", loss.item(), "grad norm", grad_norm.item(), "attention", draft._attn_impl)

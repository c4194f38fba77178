"""Writes library-data/: three conversations in the Python speculators library's offline layout
(a `datasets` Arrow dataset of input_ids, loss_mask and seq_len, and hidden_states/hs_<row>.safetensors
with token_ids and hidden_states [T, A+1, H] in bfloat16), with values the tests recompute:
token t of row r is (r * 37 + t * 11) % 384, its mask is t % 3 != 0, and hidden_states[t, l, h] is
((r * 5 + t * 7 + l * 3 + h) % 64) / 16, exact in bfloat16. A = 3 aux layers, H = 64.
Run: python3 library-data-generate.py (needs torch, safetensors, datasets)."""
import os
import torch
from datasets import Dataset
from safetensors.torch import save_file

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "library-data")
os.makedirs(os.path.join(here, "hidden_states"), exist_ok=True)
columns = {"input_ids": [], "loss_mask": [], "seq_len": []}
for r, length in enumerate([6, 9, 5]):
    ids = [(r * 37 + t * 11) % 384 for t in range(length)]
    columns["input_ids"].append(ids)
    columns["loss_mask"].append([int(t % 3 != 0) for t in range(length)])
    columns["seq_len"].append(length)
    t, l, h = torch.meshgrid(torch.arange(length), torch.arange(4), torch.arange(64), indexing="ij")
    states = (((r * 5 + t * 7 + l * 3 + h) % 64).float() / 16).to(torch.bfloat16)
    save_file({"token_ids": torch.tensor(ids, dtype=torch.int64), "hidden_states": states.contiguous()},
              os.path.join(here, "hidden_states", f"hs_{r}.safetensors"))
Dataset.from_dict(columns).save_to_disk(here)

"""Loads a speculator folder written by our trainer with the speculators library (0.9.0) and
compares its step-0 logits with the ones our Swift inference model computed from the same folder.

Usage:
    TRAINER_INTEROP_OUTPUT=/tmp/interop swift test -c release --skip-build --filter TrainerInteropExport
    python scripts/interop/check_trained_checkpoint.py /tmp/interop FIXTURES_DIR
FIXTURES_DIR must hold the `tiny-llama` verifier (the checkpoint's verifier name_or_path is "tiny-llama").
"""
import json
import os
import shutil
import sys

import torch

from speculators.models.eagle3 import Eagle3DraftModel, Eagle3SpeculatorConfig

folder, fixtures = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
work = os.path.join(folder, "py")
os.makedirs(work, exist_ok=True)
link = os.path.join(work, "tiny-llama")
if not os.path.exists(link):
    shutil.copytree(os.path.join(fixtures, "tiny-llama"), link)
os.chdir(work)

speculator = os.path.join(folder, "speculator")
config = Eagle3SpeculatorConfig.from_pretrained(speculator)
config.transformer_layer_config._attn_implementation = "eager"
model = Eagle3DraftModel.from_pretrained(speculator, config=config).float().eval()

ours = json.load(open(os.path.join(folder, "swift-logits.json")))
ids = torch.tensor(ours["input_ids"])[None]
n = ids.shape[1]
hidden = torch.tensor(ours["hidden_states"], dtype=torch.float32).reshape(1, n, -1)
with torch.no_grad():
    # The library's own forward without targets returns draft ids; run its modules for logits
    # exactly as forward does at TTT step 0 (input_norm -> fc -> layer 0 -> norm -> lm_head).
    h = model.input_norm(hidden) if model.input_norm is not None else hidden
    h = model.fc(h)
    e = model.embed_tokens(ids)
    x = torch.cat([e, h], dim=-1)
    positions = (1 + torch.arange(n))[None]
    pe = model.rotary_emb(x, positions)
    docs = torch.zeros(n, dtype=torch.long)
    mask = model._build_attn_mask(docs, n, "cpu", model.sliding_window if model.uses_sliding_window_attn else None)
    from transformers.cache_utils import DynamicCache
    cache = DynamicCache()
    for layer in model.layers:
        x = layer(x, attention_mask=mask, position_ids=positions, past_key_values=cache,
                  cache_position=torch.arange(n), position_embeddings=pe)
    logits = model.lm_head(model.norm(x))[0]
    draft_ids = model(hidden_states=hidden, input_ids=ids, document_ids=docs[None], ttt_steps=1)[0][0]
swift = torch.tensor(ours["logits"]).reshape(n, -1)
diff = (logits - swift).abs().max().item()
same_argmax = bool((logits.argmax(-1) == swift.argmax(-1)).all())
forward_argmax = bool((draft_ids == swift.argmax(-1)).all())
print(f"rows {n}, draft vocab {swift.shape[1]}: max |library - swift| logit difference {diff:.3g}; "
      f"argmax equal {same_argmax}; library forward() draft ids equal {forward_argmax}")
sys.exit(0 if diff < 1e-3 and same_argmax and forward_argmax else 1)

#!/usr/bin/env python3
"""Converts offline EAGLE-3 training data between `speculators datagen`'s folder and the Python
`speculators` library's, in both directions, without changing a token, mask bit or hidden state.

  python3 scripts/interop/datagen_format.py to-python   OURS  LIBRARY
  python3 scripts/interop/datagen_format.py from-python LIBRARY OURS --verifier-layers N [--aux-layer-ids 2,15,27]

Ours (docs/training-data.md): index.json + shard-XXXXX.safetensors, each shard holding several
conversations (input_ids I32, loss_mask BOOL, offsets I64, aux_hidden_states [T, A*H] and
last_hidden_states [T, H] in BF16).
The library's: a Hugging Face Arrow dataset with one row per conversation (input_ids, loss_mask
as 0/1, seq_len) and hidden_states/hs_<row>.safetensors holding token_ids [T] (int64) and
hidden_states [T, A+1, H] (the aux layers, then the last layer's output before the final norm).

The library's folder does not say which verifier layers its hidden states come from, so
`from-python` needs them: --aux-layer-ids, else the library's default [2, N/2, N-3] of
--verifier-layers N. Needs torch, safetensors and datasets (pip); the runtime never does.
"""
import argparse
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def to_python(source, destination):
    from datasets import Dataset

    with open(os.path.join(source, "index.json")) as f:
        index = json.load(f)
    if index.get("format") != "speculators-swift-datagen":
        sys.exit(f"{source}/index.json: not a speculators datagen folder")
    hidden, aux = index["hidden_size"], len(index["aux_layer_ids"])
    os.makedirs(os.path.join(destination, "hidden_states"), exist_ok=True)
    columns = {"input_ids": [], "loss_mask": [], "seq_len": []}
    row = 0
    for shard in index["shards"]:
        with safe_open(os.path.join(source, shard["file"]), "pt") as f:
            ids, mask, offsets = f.get_tensor("input_ids"), f.get_tensor("loss_mask"), f.get_tensor("offsets")
            aux_states, last_states = f.get_tensor("aux_hidden_states"), f.get_tensor("last_hidden_states")
        for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
            length = end - start
            columns["input_ids"].append(ids[start:end].long().tolist())
            columns["loss_mask"].append(mask[start:end].long().tolist())
            columns["seq_len"].append(length)
            states = torch.cat([aux_states[start:end].reshape(length, aux, hidden),
                                last_states[start:end].reshape(length, 1, hidden)], dim=1)
            save_file({"token_ids": ids[start:end].long().contiguous(), "hidden_states": states.contiguous()},
                      os.path.join(destination, "hidden_states", f"hs_{row}.safetensors"))
            row += 1
    Dataset.from_dict(columns).save_to_disk(destination)
    print(f"wrote {row} conversations to {destination} (aux layers {index['aux_layer_ids']} of "
          f"{index['verifier_layers']}, verifier {index['verifier']})")


def from_python(source, destination, verifier_layers, aux_layer_ids, verifier, vocab_size, per_shard):
    from datasets import load_from_disk

    rows = load_from_disk(source)
    if aux_layer_ids is None:
        n = verifier_layers
        aux_layer_ids = [2, n // 2, n - 3]
    os.makedirs(destination, exist_ok=True)
    shards, totals = [], {"conversations": 0, "tokens": 0, "supervised_tokens": 0}
    hidden = None
    for first in range(0, len(rows), per_shard):
        ids, masks, aux_states, last_states, offsets = [], [], [], [], [0]
        for row in range(first, min(first + per_shard, len(rows))):
            with safe_open(os.path.join(source, "hidden_states", f"hs_{row}.safetensors"), "pt") as f:
                states = f.get_tensor("hidden_states")
            tokens = torch.tensor(rows[row]["input_ids"], dtype=torch.int64)
            mask = torch.tensor(rows[row]["loss_mask"], dtype=torch.int64) != 0
            length, layers, width = states.shape
            if layers != len(aux_layer_ids) + 1:
                sys.exit(f"hs_{row}: {layers - 1} aux layers stored, but {len(aux_layer_ids)} aux layer ids given")
            if tokens.numel() != length or mask.numel() != length:
                sys.exit(f"row {row}: {tokens.numel()} ids and {mask.numel()} mask entries for {length} hidden states")
            hidden = hidden or width
            ids.append(tokens.to(torch.int32))
            masks.append(mask)
            aux_states.append(states[:, :-1, :].reshape(length, -1).to(torch.bfloat16))
            last_states.append(states[:, -1, :].to(torch.bfloat16))
            offsets.append(offsets[-1] + length)
        name = f"shard-{len(shards):05d}.safetensors"
        input_ids, loss_mask = torch.cat(ids), torch.cat(masks)
        save_file({"input_ids": input_ids, "loss_mask": loss_mask, "offsets": torch.tensor(offsets, dtype=torch.int64),
                   "aux_hidden_states": torch.cat(aux_states).contiguous(),
                   "last_hidden_states": torch.cat(last_states).contiguous()},
                  os.path.join(destination, name), metadata={"format": "speculators-swift-datagen"})
        entry = {"file": name, "conversations": len(offsets) - 1, "tokens": int(input_ids.numel()),
                 "supervised_tokens": int(loss_mask.sum())}
        shards.append(entry)
        for key in totals:
            totals[key] += entry[key]
    index = {
        "format": "speculators-swift-datagen", "version": 1, "verifier": verifier, "hidden_size": hidden,
        "verifier_layers": verifier_layers, "vocab_size": vocab_size, "aux_layer_ids": aux_layer_ids,
        "hidden_dtype": "BF16", "shards": shards, "source": f"python-library:{os.path.abspath(source)}",
        "source_sha256": "", "seed": 0,
        "generation": {"regenerate": False, "max_new_tokens": 0, "temperature": 0, "top_p": 1, "top_k": 0,
                       "max_length": max((e["tokens"] for e in shards), default=0), "shard_conversations": per_shard},
        "planned_conversations": totals["conversations"], "planned_shards": len(shards), **totals,
        "dropped_evaluation": 0, "dropped_empty": 0, "complete": True,
    }
    with open(os.path.join(destination, "index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {totals['conversations']} conversations in {len(shards)} shards to {destination} "
          f"(aux layers {aux_layer_ids} of {verifier_layers})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    out = commands.add_parser("to-python", help="ours -> the library's")
    out.add_argument("source")
    out.add_argument("destination")
    back = commands.add_parser("from-python", help="the library's -> ours")
    back.add_argument("source")
    back.add_argument("destination")
    back.add_argument("--verifier-layers", type=int, required=True, help="decoder layers of the verifier (N)")
    back.add_argument("--aux-layer-ids", help="comma-separated; default the library's [2, N/2, N-3]")
    back.add_argument("--verifier", default="", help="the verifier's name or path, for index.json")
    back.add_argument("--vocab-size", type=int, required=True, help="the verifier's vocabulary size")
    back.add_argument("--shard-conversations", type=int, default=128)
    args = parser.parse_args()
    if args.command == "to-python":
        to_python(args.source, args.destination)
    else:
        ids = [int(x) for x in args.aux_layer_ids.split(",")] if args.aux_layer_ids else None
        from_python(args.source, args.destination, args.verifier_layers, ids, args.verifier, args.vocab_size,
                    args.shard_conversations)


if __name__ == "__main__":
    main()

"""Writes tiny-llama/tokenizer.json and tokenizer_config.json for the service tests.

The tiny random verifier (vocab 384, bos 1, eos 2) has no tokenizer. This cuts SmolLM2's
byte-level BPE tokenizer (Tests/TokenizersTests/Fixtures/smollm2-hf, whose ids 0-2 are the same
<|endoftext|>, <|im_start|>, <|im_end|>) down to its first 384 ids: the special tokens, the 256
byte symbols and the merges whose parts and result all fall below 384. Every string therefore
encodes to ids the tiny model accepts. Run from the repository root: python3 <this file>.
"""
import json
import pathlib

root = pathlib.Path("Tests")
source = root / "TokenizersTests/Fixtures/smollm2-hf"
target = root / "ServerTests/Fixtures/tiny-llama"
VOCAB = 384

tok = json.loads((source / "tokenizer.json").read_text())
vocab = {t: i for t, i in tok["model"]["vocab"].items() if i < VOCAB}
merges = []
for merge in tok["model"]["merges"]:
    a, b = merge if isinstance(merge, list) else merge.split(" ")
    if a in vocab and b in vocab and a + b in vocab:
        merges.append([a, b])
tok["model"]["vocab"] = vocab
tok["model"]["merges"] = merges
tok["added_tokens"] = [t for t in tok["added_tokens"] if t["id"] < VOCAB]
assert sorted(vocab.values()) == list(range(VOCAB)), "ids below 384 must be contiguous"
(target / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False, indent=1) + "\n")

config = json.loads((source / "tokenizer_config.json").read_text())
config.pop("added_tokens_decoder", None)
config = {k: v for k, v in config.items() if k in
          ("bos_token", "eos_token", "pad_token", "unk_token", "add_bos_token", "chat_template",
           "clean_up_tokenization_spaces", "model_max_length")}
config["model_max_length"] = 256
(target / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=1) + "\n")
print(f"{len(vocab)} tokens, {len(merges)} merges")

#!/usr/bin/env python3
"""Writes Tests/TrainingTests/Fixtures/vocab-golden.json: d2t/t2d goldens of the Python library's
`build_vocab_mappings_from_distribution` (speculators 0.9.0, `speculators/train/vocab_mapping.py`).

The function is executed from the library's own wheel (sha256-checked); torch, datasets, tqdm and transformers
are not installed here, so the module is loaded with small numpy-backed stand-ins for the few torch calls the
function makes (tensor/arange/zeros with long and bool dtypes, subtraction, index assignment). Nothing of the
library is copied into this repository.

Usage: pip download --no-deps speculators==0.9.0 -d <dir>
       python3 scripts/datagen/vocab_golden.py <dir>/speculators-0.9.0-py3-none-any.whl > Tests/TrainingTests/Fixtures/vocab-golden.json
"""
import hashlib, json, sys, types, zipfile

import numpy as np

WHEEL_SHA = "f0de7571274ce996d769ce81240379728dcb38701f77d2d34cfd0d670d1b4481"


def load_library_function(wheel):
    digest = hashlib.sha256(open(wheel, "rb").read()).hexdigest()
    if digest != WHEEL_SHA:
        sys.exit(f"{wheel}: sha256 {digest} != {WHEEL_SHA}")
    torch = types.ModuleType("torch")
    torch.long, torch.bool, torch.Tensor = np.int64, np.bool_, np.ndarray
    torch.tensor = lambda values, dtype=None: np.array(values, dtype=dtype)
    torch.arange = lambda n, dtype=None: np.arange(n, dtype=dtype)
    torch.zeros = lambda n, dtype=None: np.zeros(n, dtype=dtype)
    stubs = {"torch": torch, "datasets": types.ModuleType("datasets"), "tqdm": types.ModuleType("tqdm"),
             "transformers": types.ModuleType("transformers")}
    stubs["datasets"].Dataset = object
    stubs["tqdm"].tqdm = lambda x, **_: x
    stubs["transformers"].AutoConfig = object
    sys.modules.update(stubs)
    source = zipfile.ZipFile(wheel).read("speculators/train/vocab_mapping.py").decode()
    namespace = {"__name__": "vocab_mapping"}
    exec(compile(source, "speculators/train/vocab_mapping.py", "exec"), namespace)
    return namespace["build_vocab_mappings_from_distribution"]


def cases():
    rng = np.random.default_rng(20261129)
    yield "ties broken by smaller id", {5: 3, 2: 3, 9: 1, 7: 3, 1: 2}, 3, 12
    yield "fewer distinct ids than the draft vocabulary: padded with 0, 1, 2, ...", {10: 4, 3: 1, 0: 2}, 6, 16
    yield "draft vocabulary = every distinct id", {4: 1, 8: 1, 15: 9}, 3, 16
    yield "draft vocabulary = target vocabulary", {1: 5, 6: 2}, 8, 8
    yield "no supervised tokens", {}, 4, 10
    zipf = rng.zipf(1.3, size=20000)
    counts = {}
    for value in zipf:
        token = int(value * 7919) % 1000
        counts[token] = counts.get(token, 0) + 1
    yield "zipf-like counts over 1000 ids, many ties", counts, 96, 1000
    big = {int(i): int(c) for i, c in zip(rng.choice(49152, size=9000, replace=False), rng.geometric(0.05, size=9000))}
    yield "SmolLM2-sized vocabulary, 9000 distinct ids, draft 8192", big, 8192, 49152


def main():
    build = load_library_function(sys.argv[1])
    out = []
    for name, counts, draft, target in cases():
        d2t, t2d = build(dict(counts), draft, target)
        out.append({"name": name, "draft_vocab_size": draft, "target_vocab_size": target,
                    "counts": sorted([k, v] for k, v in counts.items()),
                    "d2t": [int(x) for x in d2t], "t2d_true_ids": [int(i) for i in np.nonzero(t2d)[0]]})
    json.dump({"source": "speculators 0.9.0 build_vocab_mappings_from_distribution (wheel sha256 " + WHEEL_SHA + ")",
               "cases": out}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Rewrites a safetensors file with every F32 tensor rounded to BF16 (nearest, ties to even).

Used once to make assets/drafts/smollm2-135m-eagle3-ref/ from the shared reference draft.
Needs only numpy. Usage: make_reference_draft_bf16.py SRC DST
"""
import json
import struct
import sys

import numpy as np


def main(src, dst):
    raw = open(src, "rb").read()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + size])
    base = 8 + size
    metadata = header.pop("__metadata__", None)
    out, blobs, offset = {}, [], 0
    for name in sorted(header):
        info = header[name]
        start, end = info["data_offsets"]
        data = raw[base + start:base + end]
        dtype = info["dtype"]
        if dtype == "F32":
            bits = np.frombuffer(data, dtype="<u4").astype(np.uint64)
            data = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()
            dtype = "BF16"
        out[name] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        out["__metadata__"] = metadata
    encoded = json.dumps(out, separators=(",", ":")).encode()
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(dst, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

#!/usr/bin/env python3
"""Writes the fuzzers' starting inputs, one folder per harness, from the repository's test fixtures.

Usage: scripts/fuzz/seeds.py OUT_FOLDER

Each input is what the harness of the same name reads (Sources/SpeculatorsFuzz): raw HTTP bytes
after one byte that seeds the cutting (http); a JSON body (request, config); an endpoint selector
byte and a JSON body (server); a whole checkpoint file (gguf, safetensors); a file selector byte and
a research checkpoint's config or weights (convert); a mode byte and text or token ids (tokenizer). Nothing here is generated at random but the one ids seed, from a fixed seed.
"""
import glob
import json
import os
import random
import sys

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests")
# The server harness's endpoint selector (ServerHarness.endpoints).
ENDPOINT = {"completions": 0, "chat": 1, "tokenize": 2, "detokenize": 3, "validate": 4, "raw": 5}

# Raw requests for the server harness's raw mode: every GET route, pipelining, a chunked body.
RAW = [
    b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /version HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/speculators HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/speculators/tiny-eagle3 HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/speculators/schema HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/speculators/..%2F..%2Fetc HTTP/1.1\r\nHost: x\r\n\r\nDELETE /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"prompt\": \"hi\"}\r\n0\r\n\r\n",
    b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 53\r\n\r\n"
    b'{"prompt": "hi", "max_tokens": 5, "stream": true}    '
    b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /detokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 17\r\nExpect: 100-continue\r\n\r\n{\"tokens\": [1,2]}",
]

# Requests that succeed, covering the options the engine acts on.
GOOD = [
    ("completions", {"model": "tiny", "prompt": "Hello there", "max_tokens": 16, "temperature": 0}),
    ("completions", {"prompt": ["a b", "c"], "max_tokens": 8, "n": 2, "temperature": 0.8, "top_p": 0.9, "top_k": 5,
                     "seed": 3, "logprobs": 3, "echo": True}),
    ("completions", {"prompt": [1, 2, 3, 4], "max_tokens": 12, "stream": True, "stream_options": {"include_usage": True},
                     "stop": ["a", "b c"], "logprobs": 2}),
    ("completions", {"prompt": "x", "max_tokens": 0, "echo": True, "logprobs": 1}),
    ("completions", {"prompt": "x y z", "max_tokens": 20, "min_tokens": 5, "ignore_eos": True, "stop_token_ids": [5, 6],
                     "presence_penalty": 0.5, "frequency_penalty": 0.3, "repetition_penalty": 1.2,
                     "logit_bias": {"7": 5.0}, "num_speculative_tokens": 2}),
    ("completions", {"prompt": "x", "max_tokens": 10, "allowed_token_ids": [3, 4, 5], "prompt_logprobs": 2,
                     "include_stop_str_in_output": True, "skip_special_tokens": False, "min_p": 0.1}),
    # Greedy: the server harness also asks the server without a draft and compares. A bias on
    # token 7, which the harness's draft always proposes, gets drafts accepted.
    ("completions", {"prompt": "a b c", "max_tokens": 40, "temperature": 0, "logit_bias": {"7": 4.0}}),
    ("completions", {"prompt": ["a b c", "d"], "max_tokens": 30, "temperature": 0, "logit_bias": {"7": 3.0},
                     "stop": ["ab"], "min_tokens": 3, "logprobs": 2, "echo": True}),
    ("completions", {"prompt": [5, 6, 7], "max_tokens": 30, "temperature": 0, "stream": True, "logit_bias": {"7": 5.0},
                     "stop_token_ids": [9], "presence_penalty": 0.2, "frequency_penalty": 0.1, "repetition_penalty": 1.1,
                     "include_stop_str_in_output": True, "stop": ["x"]}),
    # Penalties that grow with each 7 until the bias no longer wins: the drafts of a step must
    # count as history, or the verifier accepts 7s it would not emit.
    *[("completions", {"prompt": "a b c", "max_tokens": 40, "temperature": 0, "logit_bias": {"7": bias}, penalty: value})
      for bias in (2.0, 4.0) for penalty, value in (("frequency_penalty", 0.5), ("frequency_penalty", 1.5),
                                                  ("repetition_penalty", 1.5), ("repetition_penalty", 3.0))],
    ("chat", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 30, "temperature": 0,
              "logit_bias": {"7": 4.0}, "stream": True, "logprobs": True, "top_logprobs": 2}),
    ("chat", {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "max_tokens": 10}),
    ("chat", {"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 10, "stream": True,
              "logprobs": True, "top_logprobs": 3, "n": 2, "temperature": 1.0, "seed": 1}),
    ("tokenize", {"prompt": "hello world", "add_special_tokens": True, "return_token_strs": True}),
    ("tokenize", {"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": True}),
    ("detokenize", {"tokens": [1, 2, 3, 200]}),
]

TEXTS = ["Hello, world!", "  leading spaces\n\n\ttabs 12345 678", "naïve café 日本語 🙂👍🏽",
         "<|im_start|>user\nhi<|im_end|>", "'s 've 're I'm DON'T", "a" * 50, "x\u0301\u0301 ﬁ ＡＢＣ"]


def main(out):
    def put(harness, name, data):
        folder = os.path.join(out, harness)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)

    cases = json.load(open(os.path.join(TESTS, "HTTPTests/Fixtures/parser-cases.json")))["cases"]
    for i, case in enumerate(cases):
        raw = case["raw"].encode("latin-1")
        put("http", f"case{i:03d}-whole-pieces", bytes([1]) + raw)
        put("http", f"case{i:03d}-bytewise", bytes([0]) + raw)
        put("server", f"raw-case{i:03d}", bytes([ENDPOINT["raw"]]) + raw)
    for i, raw in enumerate(RAW):
        put("server", f"raw{i}", bytes([ENDPOINT["raw"]]) + raw)

    validation = json.load(open(os.path.join(TESTS, "ServerTests/Fixtures/request-validation.json")))["cases"]
    for i, case in enumerate(validation):
        body = case["body"] if isinstance(case["body"], str) else json.dumps(case["body"])
        put("request", f"validation{i:03d}", body.encode())
        put("server", f"validation{i:03d}", bytes([ENDPOINT.get(case["endpoint"], 0)]) + body.encode())
    for i, (endpoint, body) in enumerate(GOOD):
        data = json.dumps(body).encode()
        put("request", f"good{i:03d}", data)
        put("server", f"good{i:03d}", bytes([ENDPOINT[endpoint]]) + data)

    for path in sorted(glob.glob(os.path.join(TESTS, "ConfigsTests/Fixtures/*/*.json"))):
        if os.path.basename(path) == "expected.json":
            continue
        name = os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path)
        data = open(path, "rb").read()
        put("config", name, data)
        put("server", "config-" + name, bytes([ENDPOINT["validate"]]) + data)

    for folder in ("ServerTests/Fixtures/tiny-eagle3", "EngineTests/Fixtures/tiny-eagle3"):
        put("draft", folder.split("/")[0] + "-config", open(os.path.join(TESTS, folder, "config.json"), "rb").read())
    put("gguf", "tiny-gguf", open(os.path.join(TESTS, "CheckpointsTests/Fixtures/tiny-gguf.bin"), "rb").read())
    put("gguf", "tiny-llama-mixed", open(os.path.join(TESTS, "ModelsTests/Fixtures/tiny-llama-mixed-gguf.bin"), "rb").read())
    put("safetensors", "tiny-eagle3", open(os.path.join(TESTS, "ServerTests/Fixtures/tiny-eagle3/model.safetensors"), "rb").read())
    put("safetensors", "reader-dtypes", open(os.path.join(TESTS, "CheckpointsTests/Fixtures/reader-dtypes.safetensors"), "rb").read())

    research = os.path.join(TESTS, "ConversionTests/Fixtures/research")
    for variant in sorted(os.listdir(research)):
        put("convert", f"{variant}-config", bytes([0]) + open(os.path.join(research, variant, "config.json"), "rb").read())
    put("convert", "single-weights", bytes([1]) + open(os.path.join(research, "single", "model.safetensors"), "rb").read())

    for i, text in enumerate(TEXTS):
        put("tokenizer", f"text{i}", bytes([0]) + text.encode())
        put("tokenizer", f"text{i}-special", bytes([2]) + text.encode())
    rng = random.Random(0)
    put("tokenizer", "ids", bytes([1]) + bytes(rng.randrange(256) for _ in range(64)))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])

#!/usr/bin/env python3
"""Our tokenizer and chat template against Hugging Face's on random inputs the tests do not have.

Starts `speculators serve` on a free port (the GGUF's tokenizer, as served) and compares, over its
/tokenize and /detokenize endpoints:
  * STRINGS random strings (pieces that stress pre-tokenisation: digits, spaces, scripts, emoji,
    special-token text, control characters; random code points): ids against `tokenizers` with
    the fixture tokenizer.json (`encode(add_special_tokens=False)`), and decoded text against its
    `decode(skip_special_tokens=False)`;
  * CHATS random conversations (system or not, 1-4 turns, with or without the generation prompt):
    ids against transformers' `apply_chat_template` with the fixture's template.
Exits 1 on any difference. Needs `tokenizers` and `transformers`.

    python3 scripts/parity/tokenizer.py --binary .build/release/speculators \
        --model models/SmolLM2-135M-Instruct.Q4_1.gguf --tokenizer Tests/TokenizersTests/Fixtures/smollm2-hf
"""
import argparse
import json
import random
import socket
import subprocess
import sys
import time
import urllib.request

from tokenizers import Tokenizer
from transformers import AutoTokenizer

parser = argparse.ArgumentParser()
parser.add_argument("--binary", required=True)
parser.add_argument("--model", required=True)
parser.add_argument("--tokenizer", required=True, help="folder with tokenizer.json and the chat template")
parser.add_argument("--strings", type=int, default=20000)
parser.add_argument("--chats", type=int, default=2000)
parser.add_argument("--seed", type=int, default=20261206)
args = parser.parse_args()

PIECES = ["hello", " world", "  ", "\t", "\n", "\r\n", "123", "4567890", " 42", "  7", "²", "½", "١٢٣", "Ⅻ", "𝟘𝟙",
          "é", "e\u0301", "ß", "İ", "ﬁ", "日本語", "中文字", "한국어", "ไทย", "עברית", "العربية", "😀", "👩‍👩‍👧", "🇫🇷", "\u200b",
          "\u00a0", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start", "im_end|>", "'s", "'ll", "'RE", "n't",
          "https://example.com/a?b=c&d=e", "foo_bar", "camelCase", "x=1;y=2", "()", "...", "—", "“quoted”", "\\", "#!",
          "    def f(x):\n        return x", "\x00", "\x7f", "\ufffd", "a" * 50, " " * 17, "\n\n\n", "µ", "∑", "ǅ", "ﾊﾝｶｸ",
          "Ｆｕｌｌ"]
RANGES = [(32, 126), (0xA0, 0x2FF), (0x370, 0x4FF), (0x4E00, 0x4FFF), (0x1F300, 0x1F64F), (0x600, 0x6FF), (0x900, 0x97F)]
CHAT_TEXTS = ["hi", "Explain TCP.", "  spaced  ", "line1\nline2", "", "日本語で", "😀 emoji", "x" * 300, "1+1=?",
              "<|im_end|> typed", "tab\there", "Quote \"this\"", "{{ not jinja }}", "{% raw %}", "trailing\n", "\n\nleading"]


def random_string(rng):
    kind = rng.random()
    if kind < 0.6:
        return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12)))
    if kind < 0.8:
        return "".join(chr(rng.randint(*rng.choice(RANGES))) for _ in range(rng.randint(1, 40)))
    points = (rng.randint(1, 0x2FFFF) for _ in range(rng.randint(1, 20)))
    return "".join(chr(p) for p in points if not 0xD800 <= p <= 0xDFFF)


def random_chat(rng):
    messages = []
    if rng.random() < 0.4:
        messages.append({"role": "system", "content": rng.choice(CHAT_TEXTS)})
    turns = rng.randint(1, 4)
    for turn in range(turns):
        messages.append({"role": "user", "content": rng.choice(CHAT_TEXTS) + rng.choice(CHAT_TEXTS)})
        if turn < turns - 1 or rng.random() < 0.3:
            messages.append({"role": "assistant", "content": rng.choice(CHAT_TEXTS)})
    return messages, rng.random() < 0.8


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()
server = subprocess.Popen([args.binary, "serve", "--model", args.model, "--port", str(port), "--threads", "2"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def post(path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


try:
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit("tokenizer parity: the server did not start")
    rng = random.Random(args.seed)
    fast = Tokenizer.from_file(f"{args.tokenizer}/tokenizer.json")
    failures = 0
    for _ in range(args.strings):
        text = random_string(rng)
        ours = post("/tokenize", {"prompt": text, "add_special_tokens": False})["tokens"]
        theirs = fast.encode(text, add_special_tokens=False).ids
        decoded = post("/detokenize", {"tokens": theirs})["prompt"]
        expected = fast.decode(theirs, skip_special_tokens=False)
        if ours != theirs or decoded != expected:
            failures += 1
            if failures <= 10:
                print(f"string {text!r}: ids {ours[:16]} against {theirs[:16]}, text {decoded!r} against {expected!r}")
    template = AutoTokenizer.from_pretrained(args.tokenizer)
    for _ in range(args.chats):
        messages, generation_prompt = random_chat(rng)
        theirs = template.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=True)
        theirs = list(theirs if isinstance(theirs, list) else theirs["input_ids"])
        ours = post("/tokenize", {"messages": messages, "add_generation_prompt": generation_prompt})["tokens"]
        if ours != theirs:
            failures += 1
            if failures <= 10:
                print(f"chat {messages} (generation prompt {generation_prompt}): ids differ")
    print(f"tokenizer parity: {args.strings} strings (ids and decoded text), {args.chats} chats (template ids), "
          f"{failures} differing")
finally:
    server.terminate()
    server.wait(timeout=30)
sys.exit(1 if failures else 0)

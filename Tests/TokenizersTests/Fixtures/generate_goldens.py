#!/usr/bin/env python3
"""Regenerates extra-goldens.json from the reference implementations (development only; tests never run it).

    pip install tokenizers==0.23.3 jinja2==3.1.6
    python3 generate_goldens.py

Tokenizer goldens come from the Hugging Face `tokenizers` library run on smollm2-hf/tokenizer.json and on
variants of it (other pre-tokenizers, normalizers, added-token flags) described by JSON overrides that the
Swift tests apply the same way. Chat goldens come from Jinja2 configured as transformers' apply_chat_template
configures it (trim_blocks, lstrip_blocks, loopcontrols, strftime_now, raise_exception).
"""
import copy, json, random
from datetime import datetime
import jinja2, jinja2.ext, jinja2.sandbox
import tokenizers
from tokenizers import Tokenizer

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
BASE = json.load(open(f"{HERE}/smollm2-hf/tokenizer.json"))

# ---------------------------------------------------------------- fuzz strings
PIECES = (["the", "The", " quick", "word", "Hello", " world", "x", "I", "LOUD", "naïve", "café", "Straße",
           "Привет", "мир", "Γειά", "你好", "世界", "日本語", "한국어", "مرحبا", "שלום", "हिन्दी", "ſ", "K"]
          + list("0123456789") + ["١٢٣", "²", "½", "Ⅻ", "𝟙", "٤"]
          + [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", "\xa0", "\u2003", "\u3000", "\x85",
             "\u200b", "\x1c", "\u2028"]
          + ["'", "'s", "'S", "'t", "'re", "'RE", "'ve", "'m", "'ll", "'LL", "'d", "'D", "'ſ", "''"]
          + list("!?.,;:-_()[]{}<>|/\\\"#$%&*+=@^`~") + ["...", "—", "–", "…", "“", "”", "‘", "’"]
          + ["e\u0301", "\u0301", "\u0308", "😀", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "𝔘", "\U0010FFFD"]
          + ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|", "<repo_name>", "<|im_"])

def fuzz(rng, count, max_pieces=14):
    out = []
    for _ in range(count):
        n = rng.randint(1, max_pieces)
        out.append("".join(rng.choice(PIECES) for _ in range(n)))
    return out

rng = random.Random(20250601)
FUZZ = fuzz(rng, 400)
FUZZ_SHORT = FUZZ[:160]

def random_code_point(rng):
    """Any scalar: ASCII, contraction letters, BMP, and astral planes (including ones unassigned or assigned
    after Unicode 16.0, which the reference library treats as unassigned)."""
    r = rng.random()
    if r < 0.3: return chr(rng.randint(0x20, 0x7E))
    if r < 0.4: return rng.choice(" \t\n\r'sStTdDlLmMvVrReE")
    if r < 0.8:
        while True:
            c = rng.randint(0x80, 0xFFFF)
            if not 0xD800 <= c <= 0xDFFF: return chr(c)
    return chr(rng.randint(0x10000, 0x10FFFF)) if rng.random() < 0.5 else chr(rng.randint(0x1F000, 0x3347F))

urng = random.Random(99)
# Canonically equivalent but different characters (singleton decompositions), which must stay different tokens.
TWINS = ["\u00C5", "\u212B", "\u00C5.\u212B", "\u03A9 \u2126", "\u8C48\uF900", "\uF900", "\u8C48", "K\u212A",
         "\u1E9B\u0323", "\u1E9B\u0323 \u017F\u0323\u0307", "\u2F800\u4E3D", "\u4E3D \u2F800"]
UNICODE = TWINS + ["".join(random_code_point(urng) for _ in range(urng.randint(1, 30))) for _ in range(600)]

# ---------------------------------------------------------------- tokenizer variants
LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
BYTELEVEL_NOREGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}

def added(id_, content, special, single_word=False, lstrip=False, rstrip=False, normalized=False):
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}

VARIANTS = {
    "gpt2": {"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}},
    "llama3": {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
            BYTELEVEL_NOREGEX]},
        "model": {"ignore_merges": True},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|im_start|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}}}]},
    },
    "qwen2": {
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
            BYTELEVEL_NOREGEX]},
    },
    "prefix-space-digit-runs": {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": False},
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}]},
    },
    "split-behaviours": {
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[0-9]+"}, "behavior": "MergedWithPrevious", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[.!?]"}, "behavior": "Removed", "invert": False},
            {"type": "Split", "pattern": {"Regex": "[a-z]+"}, "behavior": "Contiguous", "invert": True},
            BYTELEVEL_NOREGEX]},
    },
    "added-token-flags": {
        "normalizer": {"type": "Lowercase"},
        "extra_added_tokens": [
            added(49152, "<mask>", True, lstrip=True),
            added(49153, "[SEP]", True, rstrip=True),
            added(49154, "wordtok", False, single_word=True),
            added(49155, "<|user|>", False),
            added(49156, "hello world", False, normalized=True),
            added(49157, "ÉTÉ", False, normalized=True),
            added(49158, "  spaced  ", True, lstrip=True, rstrip=True),
        ],
    },
}

FLAG_STRINGS = ["I saw a <mask> cat", "I saw a    <mask>", "<mask>start", "[SEP]   next", "a [SEP]\t\n b",
                "wordtok alone", "inwordtoken", "wordtok_x", "x wordtok.", "(wordtok)", "éwordtok", "wordtok2",
                "say <|user|> hi", "<|im_start|><|user|><|im_end|>", "Hello World and HELLO WORLD", "hello  world",
                "ÉTÉ été Été", "a  spaced  b", "x   spaced   y", "<mask><mask> [SEP][SEP]", "",
                "<|im_start|>user\nHello World<|im_end|>", "<mask", "wordtok", " wordtok ", "ŞwordtokŞ"]

def build(name):
    spec = VARIANTS[name]
    data = copy.deepcopy(BASE)
    for key in ("normalizer", "pre_tokenizer", "post_processor"):
        if key in spec:
            data[key] = spec[key]
    data["model"].update(spec.get("model", {}))
    data["added_tokens"] += spec.get("extra_added_tokens", [])
    return Tokenizer.from_str(json.dumps(data))

def encode(tok, text, parse_special=True, add_special=False):
    tok.encode_special_tokens = not parse_special
    ids = tok.encode(text, add_special_tokens=add_special).ids
    tok.encode_special_tokens = False
    return ids

def variant_cases(name):
    tok = build(name)
    texts = FUZZ_SHORT + (FLAG_STRINGS if name == "added-token-flags" else [])
    cases = []
    for text in texts:
        case = {"text": text, "ids": encode(tok, text), "ids_literal_specials": encode(tok, text, parse_special=False)}
        if name == "llama3":
            case["ids_with_special_tokens"] = encode(tok, text, add_special=True)
        cases.append(case)
    decode_checks = []
    if name == "added-token-flags":
        for ids in ([49152, 49153, 49154, 49155, 49156, 49157, 49158], [81, 49152, 82], [49155, 0, 49158, 2]):
            decode_checks.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                                  "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)})
    return {"overrides": VARIANTS[name], "cases": cases, "decode_checks": decode_checks}

# ---------------------------------------------------------------- base tokenizer fuzz, decode, pre-tokenizers
base = Tokenizer.from_str(json.dumps(BASE))
base_cases = []
for text in FUZZ:
    ids = encode(base, text)
    base_cases.append({"text": text, "ids": ids, "ids_literal_specials": encode(base, text, parse_special=False),
                       "decoded": base.decode(ids, skip_special_tokens=False),
                       "decoded_skip_special": base.decode(ids, skip_special_tokens=True)})

drng = random.Random(7)
partial_ids = [10813, 235, 231, 151, 219, 164, 111, 153, 237, 23159, 238, 242, 18645, 250, 321, 229, 0, 1, 2, 33, 216]
decode_cases = []
for _ in range(120):
    ids = [drng.choice(partial_ids) if drng.random() < 0.8 else drng.randrange(0, 49152) for _ in range(drng.randint(1, 12))]
    decode_cases.append({"ids": ids, "decoded": base.decode(ids, skip_special_tokens=False),
                         "decoded_skip_special": base.decode(ids, skip_special_tokens=True)})

def raw_pieces(pre, text):
    return [p for p, _ in pre.pre_tokenize_str(text)]

def unbyte(piece):
    """Inverse of the GPT-2 byte-to-unicode table: a byte-level piece back to its text."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    table = {chr(c): b for b, c in zip(bs, cs)}
    return bytes(table[ch] for ch in piece).decode("utf-8")

pre = tokenizers.pre_tokenizers
PRETOKENIZERS = {
    "gpt2": lambda t: [unbyte(p) for p in raw_pieces(pre.ByteLevel(add_prefix_space=False), t)],
    "digitsThenGPT2": lambda t: [unbyte(p) for p in raw_pieces(pre.Sequence([pre.Digits(individual_digits=True), pre.ByteLevel(add_prefix_space=False)]), t)],
    "llama3": lambda t: raw_pieces(pre.Split(tokenizers.Regex(LLAMA3_REGEX), behavior="isolated"), t),
    "qwen2": lambda t: raw_pieces(pre.Split(tokenizers.Regex(QWEN2_REGEX), behavior="isolated"), t),
}
pretokenizer_cases = {name: [{"text": t, "pieces": f(t)} for t in FUZZ + UNICODE] for name, f in PRETOKENIZERS.items()}
unicode_cases = [{"text": t, "ids": encode(base, t), "ids_literal_specials": encode(base, t, parse_special=False)} for t in UNICODE]

# ---------------------------------------------------------------- chat templates
def render(template, messages, add_generation_prompt, **extra):
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                       extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, indent=None: json.dumps(x, ensure_ascii=False, indent=indent)
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template).render(messages=messages, add_generation_prompt=add_generation_prompt, **extra)

M = lambda role, content: {"role": role, "content": content}
CONVERSATIONS = [
    [M("user", "What is the capital of France?")],
    [M("system", "You are a terse assistant."), M("user", "List three prime numbers.")],
    [M("user", "Hi!"), M("assistant", "Hello! How can I help?"), M("user", "Tell me a joke about  spaces\tand\nnewlines.")],
    [M("system", "  Be brief.\n"), M("user", "\n  padded question  \n"), M("assistant", " padded answer \x1c")],
    [M("user", "\xa0nbsp edges\u3000"), M("assistant", "ok")],
    [M("system", "first"), M("system", "second system"), M("user", "q")],
    [M("user", "Solve 2+2"), M("assistant", "<think>\nadd them\n</think>\n\n4"), M("user", "and 3+3?")],
    [M("user", "Solve 2+2"), M("assistant", "<think>\nadd them\n</think>\n\n4")],
    [M("user", "Explain"), M("assistant", "\n\nno think block here\n")],
    [M("user", "<|im_start|>literal specials<|im_end|>")],
]
TEMPLATES = {
    "smollm2": open(f"{HERE}/smollm2-hf/chat_template.jinja").read(),
    "qwen2.5": open(f"{HERE}/templates/qwen2.5-instruct.jinja").read(),
    "qwen3": open(f"{HERE}/templates/qwen3.jinja").read(),
    "llama-3.0": open(f"{HERE}/templates/llama-3.0-instruct.jinja").read(),
    "llama-3.3": open(f"{HERE}/templates/llama-3.3-instruct.jinja").read(),
    "llama-3.2": open(f"{HERE}/templates/llama-3.2-instruct.jinja").read(),
}
SPECIALS = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
chat_cases = []
for name, template in TEMPLATES.items():
    extras = [{}]
    if name == "qwen3":
        extras = [{}, {"enable_thinking": False}, {"enable_thinking": True}]
    if name == "llama-3.2":
        extras = [{"date_string": "05 Mar 2025"}]
    for conversation in CONVERSATIONS:
        for add_generation_prompt in (True, False):
            for extra in extras:
                bos = SPECIALS if name.startswith("llama") else {}
                chat_cases.append({"template": name, "messages": conversation, "add_generation_prompt": add_generation_prompt,
                                   "options": extra, "bos_token": bos.get("bos_token"),
                                   "rendered": render(template, conversation, add_generation_prompt, **bos, **extra)})

json.dump({
    "generator": {"tokenizers": tokenizers.__version__, "jinja2": jinja2.__version__},
    "base_cases": base_cases,
    "long_text": {"text": " ".join(FUZZ[:160]), "ids": encode(base, " ".join(FUZZ[:160]))},
    "decode_cases": decode_cases,
    "unicode_cases": unicode_cases,
    "variants": {name: variant_cases(name) for name in VARIANTS},
    "pretokenizer_cases": pretokenizer_cases,
    "chat_cases": chat_cases,
}, open(f"{HERE}/extra-goldens.json", "w"), ensure_ascii=False, indent=None, separators=(",", ":"))
print("wrote extra-goldens.json")

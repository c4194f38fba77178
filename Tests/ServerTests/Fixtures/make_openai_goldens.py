#!/usr/bin/env python3
"""One-off generator of openai-goldens.json from the example blocks of the project spec
(/work/shared/spec/openai-completions.md and spec-decode-serving.md). Each JSON example is
re-serialised compactly (separators (",", ":"), key order kept, non-ASCII raw), which is how
vLLM writes bodies; the SSE example is copied verbatim. Run from this folder."""
import json, re, sys

spec = open(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/spec/openai-completions.md", encoding="utf-8").read()
blocks = re.findall(r"```(\w*)\n(.*?)```", spec, flags=re.S)

def compact(text):
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)

json_blocks = [body for lang, body in blocks if lang == "json"]
by_first_key = {}
for body in json_blocks:
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        continue
    by_first_key.setdefault(next(iter(obj)), []).append(body)

goldens = {
    "error_body": compact(by_first_key["error"][0]),
    "completion_response": compact(next(b for b in by_first_key["id"] if '"text_completion"' in b)),
    "logprobs_object": compact(by_first_key["text_offset"][0]),
    "models_list": compact(by_first_key["object"][0]),
}
curl = next(body for lang, body in blocks if body.startswith("$ curl -N"))
goldens["stream_events"] = curl[curl.index("data: "):]
goldens["tokenize_response"] = compact(re.search(r"→ `(\{\"count\".*?\})`", spec).group(1))
goldens["version_response"] = compact(re.search(r"→ `(\{\"version\": \"0.1.0\"\})`", spec).group(1))
goldens["context_length_message"] = (
    "This model's maximum context length is <L> tokens. However, you requested <m> output tokens and your "
    "prompt contains at least <P> input tokens, for a total of at least <P+m> tokens. Please reduce the length "
    "of the input prompt or the number of requested output tokens. (parameter=input_tokens, value=<P>)")
json.dump(goldens, open("openai-goldens.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
print("\n".join(f"{k}: {v[:100]!r}" for k, v in goldens.items()))

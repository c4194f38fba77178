#!/usr/bin/env python3
"""Writes request-validation.json: request bodies (kept as raw text, so 16 and 16.0 stay
distinct) with the status, error type, param and message the service must answer, the messages
being vLLM's wording as given in the project spec (openai-completions.md §3-§5). Cases with
"status": 200 must decode. Run from this folder."""
import json

def body(obj):
    return json.dumps(obj, ensure_ascii=False)

def bad(message, param=None, status=400, type_="BadRequestError"):
    return {"status": status, "type": type_, "param": param, "message": message}

def schema(param, prefix="1 validation error:\n  "):
    return {"status": 400, "type": "Bad Request", "param": param, "message_prefix": prefix}

OK = {"status": 200}
P = {"prompt": "Hello"}
cases = []
def case(name, endpoint, raw, expect, context=None):
    c = {"name": name, "endpoint": endpoint, "body": raw if isinstance(raw, str) else body(raw)}
    c.update(expect)
    if context:
        c["context"] = context
    cases.append(c)

C = "completions"
# prompt forms (§2.3)
case("prompt absent", C, {}, bad("Either prompt or prompt_embeds must be provided and non-empty. (parameter=prompt)", "prompt"))
case("prompt null", C, {"prompt": None}, bad("Either prompt or prompt_embeds must be provided and non-empty. (parameter=prompt)", "prompt"))
case("prompt empty string", C, {"prompt": ""}, bad("Either prompt or prompt_embeds must be provided and non-empty. (parameter=prompt)", "prompt"))
case("prompt empty token list", C, {"prompt": []}, bad("The decoder prompt cannot be empty"))
case("prompt batch with an empty token list", C, {"prompt": [[1, 2], []]}, bad("The decoder prompt cannot be empty"))
case("prompt negative token id", C, {"prompt": [1, -2]}, schema("body.prompt.1", "1 validation error:\n  {'type': 'greater_than_equal', 'loc': ('body', 'prompt', 1), 'msg': 'Input should be greater than or equal to 0', 'input': -2, 'ctx': {'ge': 0}}"))
case("prompt ints mixed with a string", C, {"prompt": [1, "a"]}, schema("body.prompt.1"))
case("prompt strings mixed with an int", C, {"prompt": ["a", 1]}, schema("body.prompt.1"))
case("prompt a bare number", C, {"prompt": 5}, schema("body.prompt"))
case("prompt token out of vocabulary", C, {"prompt": [1, 400, 7]}, bad("Token id 400 is out of vocabulary"))
case("prompt batch longer than the limit", C, {"prompt": ["a", "b", "c", "d", "e"]}, bad("prompt list length 5 exceeds the maximum allowed count of 4. To increase this limit, raise limits.max_prompts_per_request in the server configuration. (parameter=prompt)", "prompt"))
case("flat token list longer than the batch limit is one prompt", C, {"prompt": [1, 2, 3, 4, 5, 6]}, OK)
case("prompt batch of token lists", C, {"prompt": [[1, 2], [3]]}, OK)
case("prompt_embeds are refused", C, {"prompt": "x", "prompt_embeds": "AAAA"}, bad("prompt_embeds are not supported by this server. (parameter=prompt_embeds)", "prompt_embeds"))
# model (§5)
case("unknown model", C, {"prompt": "x", "model": "gpt-4"}, bad("The model `gpt-4` does not exist.", None, 404, "NotFoundError"))
case("empty model means the served model", C, {"prompt": "x", "model": ""}, OK)
case("served alias", C, {"prompt": "x", "model": "alias"}, OK)
# max_tokens (§3, §4)
case("max_tokens zero", C, {**P, "max_tokens": 0}, bad("max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)", "max_tokens"))
case("max_tokens zero with echo", C, {**P, "max_tokens": 0, "echo": True}, OK)
case("max_tokens above the context length", C, {**P, "max_tokens": 129}, bad("max_tokens=129 cannot be greater than max_model_len=128. Please request fewer output tokens. (parameter=max_tokens, value=129)", "max_tokens"))
case("max_tokens a string", C, {**P, "max_tokens": "16"}, schema("body.max_tokens", "1 validation error:\n  {'type': 'int_type', 'loc': ('body', 'max_tokens'), 'msg': 'Input should be a valid integer', 'input': '16'}"))
case("max_tokens fractional", C, '{"prompt": "x", "max_tokens": 16.5}', schema("body.max_tokens", "1 validation error:\n  {'type': 'int_from_float'"))
case("max_tokens integral float", C, '{"prompt": "x", "max_tokens": 16.0}', OK)
case("max_tokens null is the default", C, {**P, "max_tokens": None}, OK)
# sampling ranges (§3)
case("temperature negative", C, {**P, "temperature": -1}, bad("temperature must be non-negative, got -1.0. (parameter=temperature, value=-1.0)", "temperature"))
case("temperature above two", C, {**P, "temperature": 2.5}, bad("temperature must be in [0, 2], got 2.5. (parameter=temperature, value=2.5)", "temperature"))
case("temperature NaN", C, '{"prompt": "x", "temperature": NaN}', bad("temperature must be a finite number, got nan. (parameter=temperature, value=nan)", "temperature"))
case("temperature a string", C, {**P, "temperature": "hot"}, schema("body.temperature", "1 validation error:\n  {'type': 'float_type', 'loc': ('body', 'temperature'), 'msg': 'Input should be a valid number', 'input': 'hot'}"))
case("top_p zero", C, {**P, "top_p": 0}, bad("top_p must be in (0, 1], got 0.0. (parameter=top_p, value=0.0)", "top_p"))
case("top_p above one", C, {**P, "top_p": 1.5}, bad("top_p must be in (0, 1], got 1.5. (parameter=top_p, value=1.5)", "top_p"))
case("top_k below minus one", C, {**P, "top_k": -2}, bad("top_k must be 0 (disable), or at least 1, got -2."))
case("top_k minus one disables", C, {**P, "top_k": -1}, OK)
case("min_p above one", C, {**P, "min_p": 1.5}, bad("min_p must be in [0, 1], got 1.5."))
case("presence_penalty out of range", C, {**P, "presence_penalty": 3}, bad("presence_penalty must be in [-2, 2], got 3.0."))
case("frequency_penalty out of range", C, {**P, "frequency_penalty": -3}, bad("frequency_penalty must be in [-2, 2], got -3.0."))
case("repetition_penalty zero", C, {**P, "repetition_penalty": 0}, bad("repetition_penalty must be greater than zero, got 0.0."))
case("repetition_penalty infinite", C, '{"prompt": "x", "repetition_penalty": Infinity}', bad("repetition_penalty must be a finite number, got inf."))
case("n zero", C, {**P, "n": 0}, bad("n must be at least 1, got 0."))
case("n above the server limit", C, {**P, "n": 9}, bad("n must be at most 8 on this server, got 9. (parameter=n, value=9)", "n"))
case("n greater than one with greedy sampling", C, {**P, "n": 2, "temperature": 0}, bad("n must be 1 when using greedy sampling, got 2."))
case("n two with sampling", C, {**P, "n": 2, "temperature": 0.7}, OK)
case("seed above int64", C, '{"prompt": "x", "seed": 9223372036854775808}', schema("body.seed", "1 validation error:\n  {'type': 'less_than_equal', 'loc': ('body', 'seed'), 'msg': 'Input should be less than or equal to 9223372036854775807'"))
case("seed minus one means unseeded", C, {**P, "seed": -1}, OK)
# stop (§3)
case("stop holding an empty string", C, {**P, "stop": ["a", ""]}, bad("stop cannot contain an empty string."))
case("stop a bare empty string", C, {**P, "stop": ""}, bad("stop cannot contain an empty string."))
case("stop a number", C, {**P, "stop": 5}, schema("body.stop"))
case("min_tokens negative", C, {**P, "min_tokens": -1}, bad("min_tokens must be greater than or equal to 0, got -1."))
case("min_tokens above max_tokens", C, {**P, "min_tokens": 20, "max_tokens": 10}, bad("min_tokens must be less than or equal to max_tokens=10, got 20."))
case("ignore_eos null", C, {**P, "ignore_eos": None}, schema("body.ignore_eos"))
# logprobs (§3)
case("logprobs below minus one", C, {**P, "logprobs": -2}, bad("`logprobs` must be a positive value or -1. (parameter=logprobs, value=-2)", "logprobs"))
case("logprobs above the server maximum", C, {**P, "logprobs": 21}, bad("Requested sample logprobs of 21, which is greater than max allowed: 20 (parameter=logprobs, value=21)", "logprobs"))
case("logprobs minus one is the whole vocabulary", C, {**P, "logprobs": -1}, bad("Requested sample logprobs of 384, which is greater than max allowed: 20 (parameter=logprobs, value=-1)", "logprobs"))
case("logprobs zero", C, {**P, "logprobs": 0}, OK)
case("prompt_logprobs above the server maximum", C, {**P, "prompt_logprobs": 25}, bad("Requested prompt logprobs of 25, which is greater than max allowed: 20 (parameter=prompt_logprobs, value=25)", "prompt_logprobs"))
case("prompt_logprobs with stream", C, {**P, "prompt_logprobs": 1, "stream": True}, bad("`prompt_logprobs` are not available when `stream=True`. (parameter=prompt_logprobs)", "prompt_logprobs"))
case("logit_bias key not an integer", C, {**P, "logit_bias": {"abc": 1}}, bad("logit_bias contains key(s) that cannot be converted to integer token IDs: ['abc'] (parameter=logit_bias, value=['abc'])", "logit_bias"))
case("logit_bias key out of vocabulary", C, {**P, "logit_bias": {"999": 1}}, bad("token_id(s) [999] in logit_bias contain out-of-vocab token ids. Vocabulary size: 384 (parameter=logit_bias, value=[999])", "logit_bias"))
case("logit_bias value not a number", C, {**P, "logit_bias": {"5": "x"}}, schema("body.logit_bias.5"))
case("allowed_token_ids empty", C, {**P, "allowed_token_ids": []}, bad("allowed_token_ids is not None and empty! (parameter=allowed_token_ids)", "allowed_token_ids"))
case("allowed_token_ids out of vocabulary", C, {**P, "allowed_token_ids": [500]}, bad("allowed_token_ids contains out-of-vocab token id! (parameter=allowed_token_ids)", "allowed_token_ids"))
# streaming (§3, §7)
case("stream_options without stream", C, {**P, "stream_options": {"include_usage": True}}, bad("Stream options can only be defined when `stream=True`. (parameter=stream_options)", "stream_options"))
case("empty stream_options without stream", C, {**P, "stream_options": {}}, OK)
# unsupported features (§2.1, §2.2)
case("best_of above n", C, {**P, "best_of": 2}, bad("vLLM V1 does not yet support best_of. (parameter=best_of, value=2)", "best_of"))
case("best_of one", C, {**P, "best_of": 1}, OK)
case("beam search with streaming", C, {**P, "use_beam_search": True, "stream": True}, bad("Streaming is not currently supported with beam search"))
case("beam search", C, {**P, "use_beam_search": True}, bad("Beam search is not supported by this server. (parameter=use_beam_search)", "use_beam_search"))
case("response_format json_object", C, {**P, "response_format": {"type": "json_object"}}, bad("response_format type 'json_object' is not supported by this server; only 'text' is. (parameter=response_format)", "response_format"))
case("response_format text", C, {**P, "response_format": {"type": "text"}}, OK)
case("priority non-zero", C, {**P, "priority": 1}, bad("priority must be 0: this server does not use priority scheduling, got 1. (parameter=priority, value=1)", "priority"))
case("truncate_prompt_tokens above the context", C, {**P, "truncate_prompt_tokens": 200}, bad("truncate_prompt_tokens value (200) is greater than max_model_len (128). Please, select a smaller truncation size. (parameter=truncate_prompt_tokens, value=200)", "truncate_prompt_tokens"))
# the num_speculative_tokens extension
case("num_speculative_tokens above the maximum", C, {**P, "num_speculative_tokens": 4}, bad("num_speculative_tokens must be in [0, 3], got 4. (parameter=num_speculative_tokens, value=4)", "num_speculative_tokens"))
case("num_speculative_tokens without a speculator", C, {**P, "num_speculative_tokens": 2}, bad("num_speculative_tokens=2 needs a speculator, and this server runs without one. (parameter=num_speculative_tokens, value=2)", "num_speculative_tokens"), {"max_speculative_tokens": None})
case("num_speculative_tokens zero without a speculator", C, {**P, "num_speculative_tokens": 0}, OK, {"max_speculative_tokens": None})
# JSON and unknown fields (§1)
case("malformed JSON", C, '{"prompt": "x",}', schema("body.15", "1 validation error:\n  {'type': 'json_invalid', 'loc': ('body', 15), 'msg': 'JSON decode error', 'input': {}, 'ctx': {'error': 'Expecting property name enclosed in double quotes'}}"))
case("empty body", C, '', schema("body.0"))
case("body not an object", C, '[1]', schema("body", "1 validation error:\n  {'type': 'model_attributes_type', 'loc': ('body',)"))
case("unknown fields are ignored", C, {**P, "frobnicate": 1, "extra_body": {"x": [1]}, "suffix": "s", "user": "u"}, OK)
case("several schema problems at once", C, {**P, "max_tokens": "a", "temperature": "b"}, schema("body.temperature", "2 validation errors:\n  "))
case("unicode escapes in a string", C, '{"prompt": "\\u00e9"}', OK)

H = "chat"
M = {"messages": [{"role": "user", "content": "Hi"}]}
case("messages absent", H, {}, schema("body.messages", "1 validation error:\n  {'type': 'missing', 'loc': ('body', 'messages'), 'msg': 'Field required'"))
case("messages empty", H, {"messages": []}, bad("messages must contain at least one message. (parameter=messages)", "messages"))
case("message without role", H, {"messages": [{"content": "Hi"}]}, schema("body.messages.0.role"))
case("message content a number", H, {"messages": [{"role": "user", "content": 3}]}, schema("body.messages.0.content"))
case("image content part", H, {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, bad("Content part 'image_url' is not supported: this server accepts text only. (parameter=messages[0].content[0])", "messages[0].content[0]"))
case("text content parts", H, {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"text": "b"}]}]}, OK)
case("top_logprobs without logprobs", H, {**M, "top_logprobs": 5}, bad("when using `top_logprobs`, `logprobs` must be set to true. (parameter=top_logprobs)", "top_logprobs"))
case("top_logprobs negative", H, {**M, "logprobs": True, "top_logprobs": -2}, bad("`top_logprobs` must be a positive value or -1. (parameter=top_logprobs, value=-2)", "top_logprobs"))
case("top_logprobs above the maximum", H, {**M, "logprobs": True, "top_logprobs": 21}, bad("Requested sample logprobs of 21, which is greater than max allowed: 20 (parameter=top_logprobs, value=21)", "top_logprobs"))
case("continue_final_message with add_generation_prompt", H, {**M, "continue_final_message": True}, bad("Cannot set both `continue_final_message` and `add_generation_prompt` to True."))
case("continue_final_message alone", H, {**M, "continue_final_message": True, "add_generation_prompt": False}, OK)
case("tools empty", H, {**M, "tools": []}, bad("`tools` must not be an empty array. Either provide at least one tool or omit the field entirely. (parameter=tools)", "tools"))
case("tools with the default tool_choice", H, {**M, "tools": [{"type": "function", "function": {"name": "f"}}]}, bad("tool_choice \"auto\" is not supported: this server has no tool-call parser. Send tool_choice \"none\" to pass tools to the chat template only. (parameter=tool_choice)", "tool_choice"))
case("tools with tool_choice none", H, {**M, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none"}, OK)
case("tool_choice without tools", H, {**M, "tool_choice": "auto"}, bad("When using `tool_choice`, `tools` must be set. (parameter=tool_choice)", "tool_choice"))
case("max_completion_tokens above the context length", H, {**M, "max_completion_tokens": 200}, bad("max_completion_tokens=200 cannot be greater than max_model_len=128. Please request fewer output tokens. (parameter=max_completion_tokens, value=200)", "max_completion_tokens"))
case("max_completion_tokens zero", H, {**M, "max_completion_tokens": 0}, bad("max_tokens must be at least 1, got 0. (parameter=max_completion_tokens, value=0)", "max_completion_tokens"))
case("chat unknown model", H, {**M, "model": "nope"}, bad("The model `nope` does not exist.", None, 404, "NotFoundError"))
case("chat stream_options without stream", H, {**M, "stream_options": {"include_usage": True}}, bad("Stream options can only be defined when `stream=True`. (parameter=stream_options)", "stream_options"))
case("chat greedy with n two", H, {**M, "n": 2, "temperature": 0}, bad("n must be 1 when using greedy sampling, got 2."))

T = "tokenize"
case("tokenize prompt", T, {"prompt": "Hello"}, OK)
case("tokenize messages", T, M, OK)
case("tokenize without prompt", T, {}, schema("body.prompt"))
case("tokenize prompt a number", T, {"prompt": 5}, schema("body.prompt"))
case("tokenize unknown model", T, {"prompt": "x", "model": "nope"}, bad("The model `nope` does not exist.", None, 404, "NotFoundError"))
D = "detokenize"
case("detokenize tokens", D, {"tokens": [1, 2, 3]}, OK)
case("detokenize out of vocabulary", D, {"tokens": [1, 384]}, bad("Token id 384 is out of vocabulary"))
case("detokenize negative id", D, {"tokens": [-1]}, bad("Token id -1 is out of vocabulary"))
case("detokenize without tokens", D, {}, schema("body.tokens"))

doc = {
    "context": {"served_model_names": ["m", "alias"], "max_model_len": 128, "vocabulary_size": 384, "max_logprobs": 20,
                "max_prompts_per_request": 4, "max_choices": 8, "max_speculative_tokens": 3},
    "cases": cases,
}
json.dump(doc, open("request-validation.json", "w", encoding="utf-8"), ensure_ascii=False, indent=1)
print(len(cases), "cases")

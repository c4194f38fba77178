#!/usr/bin/env python3
"""Integration checks against a running `speculators serve` (started by scripts/integration-test.sh).

Runs, in order: the official `openai` client (completions, streaming, chat, errors), concurrent
greedy streams compared with the same requests run one at a time, a bad-input suite over raw
sockets (every case must get a 4xx/5xx or a closed connection, and the server must keep serving
with its memory back near the baseline), and metric agreement: /metrics must parse with the real
Prometheus parser (scripts/check_metrics.py) and its token and request counters must equal what
the clients received. Prints one line per check; exit status 1 on the first failed check.

Usage: service_checks.py --port PORT --model NAME --pid SERVER_PID [--spec-decode --k K]
"""
import argparse
import concurrent.futures as futures
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import openai

ARGS = None
CHECKS = 0


def check(condition, message):
    global CHECKS
    CHECKS += 1
    if not condition:
        print(f"FAIL: {message}", flush=True)
        sys.exit(1)
    print(f"ok   {message}", flush=True)


def url(path):
    return f"http://127.0.0.1:{ARGS.port}{path}"


def http(method, path, body=None, headers=None, timeout=120):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url(path), data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def metrics():
    _, _, body = http("GET", "/metrics")
    values = {}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        values[name] = float(value)
    return values


def series(values, name, **labels):
    total = 0.0
    for key, value in values.items():
        base = key.split("{", 1)[0]
        if base != name:
            continue
        if all(f'{k}="{v}"' in key for k, v in labels.items()):
            total += value
    return total


# --- the official client ------------------------------------------------------------------

def openai_checks(client, totals):
    completion = client.completions.create(model=ARGS.model, prompt="The capital of France is", max_tokens=12,
                                           temperature=0)
    check(completion.object == "text_completion" and len(completion.choices) == 1, "openai: completion shape")
    check(completion.usage.completion_tokens <= 12 and completion.choices[0].finish_reason in ("length", "stop"),
          f"openai: usage and finish_reason ({completion.usage.completion_tokens}, {completion.choices[0].finish_reason})")
    totals.append(completion.usage)

    stream = client.completions.create(model=ARGS.model, prompt="The capital of France is", max_tokens=12,
                                       temperature=0, stream=True, stream_options={"include_usage": True})
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].text
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    check(text == completion.choices[0].text, "openai: streamed text equals the non-streamed text")
    check(usage is not None and usage.completion_tokens == completion.usage.completion_tokens,
          "openai: stream usage chunk")
    check(finish == completion.choices[0].finish_reason, "openai: stream finish_reason")
    totals.append(usage)

    chat = client.chat.completions.create(model=ARGS.model, messages=[{"role": "user", "content": "Say hi."}],
                                          max_tokens=16, temperature=0)
    check(chat.choices[0].message.role == "assistant" and chat.choices[0].message.content is not None,
          "openai: chat completion")
    totals.append(chat.usage)
    pieces = []
    for chunk in client.chat.completions.create(model=ARGS.model, messages=[{"role": "user", "content": "Say hi."}],
                                                max_tokens=16, temperature=0, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    check("".join(pieces) == chat.choices[0].message.content, "openai: streamed chat equals the non-streamed chat")
    totals.append(chat.usage)

    # The client's own penalty and bias arguments, and vLLM's through extra_body: a greedy
    # request whose every token is pushed towards one id, and one that may not repeat itself.
    biased_id = 42
    biased = client.completions.create(model=ARGS.model, prompt="The capital of France is", max_tokens=6, temperature=0,
                                       logit_bias={str(biased_id): 100}, extra_body={"return_token_ids": True})
    check(biased.choices[0].token_ids == [biased_id] * 6, f"openai: logit_bias ({biased.choices[0].token_ids})")
    totals.append(biased.usage)
    varied = client.completions.create(model=ARGS.model, prompt="The capital of France is", max_tokens=8, temperature=0,
                                       frequency_penalty=2, presence_penalty=2,
                                       extra_body={"repetition_penalty": 1.5, "return_token_ids": True})
    ids = varied.choices[0].token_ids
    check(len(ids) == varied.usage.completion_tokens and varied.choices[0].finish_reason in ("length", "stop"),
          f"openai: penalties ({ids})")
    totals.append(varied.usage)

    # Scoring a text the way evaluation harnesses do: echo, logprobs, no new tokens.
    scored = client.completions.create(model=ARGS.model, prompt="The capital of France is Paris.", max_tokens=0,
                                       echo=True, logprobs=1)
    lp = scored.choices[0].logprobs
    check(scored.choices[0].text == "The capital of France is Paris." and lp.token_logprobs[0] is None
          and len(lp.token_logprobs) == scored.usage.prompt_tokens and all(v <= 0 for v in lp.token_logprobs[1:])
          and scored.usage.completion_tokens == 0,
          f"openai: echo scores the prompt ({len(lp.token_logprobs)} entries, {scored.usage})")
    totals.append(scored.usage)

    models = client.models.list()
    check([m.id for m in models.data] == [ARGS.model], "openai: models.list")

    try:
        client.completions.create(model="no-such-model", prompt="x", max_tokens=1)
        check(False, "openai: unknown model raises NotFoundError")
    except openai.NotFoundError:
        check(True, "openai: unknown model raises NotFoundError")
    try:
        client.completions.create(model=ARGS.model, prompt="x", max_tokens=1, temperature=-1)
        check(False, "openai: negative temperature raises BadRequestError")
    except openai.BadRequestError as error:
        check(error.status_code == 400, "openai: negative temperature raises BadRequestError")
    try:
        client.completions.create(model=ARGS.model, prompt="x " * 5000, max_tokens=10)
        check(False, "openai: a prompt over the context length is a 400")
    except openai.BadRequestError as error:
        check("maximum context length" in str(error), "openai: a prompt over the context length is a 400")


# --- concurrency --------------------------------------------------------------------------

PROMPTS = ["Once upon a time", "The quick brown fox", "def fibonacci(n):", "In 1492, Columbus",
           "The best way to learn", "Water boils at", "My favourite colour is", "List three fruits:"]


def greedy_stream(client, index):
    text, usage = "", None
    stream = client.completions.create(model=ARGS.model, prompt=PROMPTS[index % len(PROMPTS)],
                                       max_tokens=24 + index % 5, temperature=0, stream=True,
                                       stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].text
        if chunk.usage:
            usage = chunk.usage
    return text, usage


def concurrency_checks(client, totals, count):
    sequential = []
    for i in range(count):
        text, usage = greedy_stream(client, i)
        sequential.append(text)
        totals.append(usage)
    started = time.time()
    with futures.ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(lambda i: greedy_stream(client, i), range(count)))
    elapsed = time.time() - started
    for _, usage in results:
        totals.append(usage)
    same = sum(1 for i in range(count) if results[i][0] == sequential[i])
    check(same == count, f"{count} concurrent greedy streams equal one-at-a-time runs ({same}/{count}, {elapsed:.1f} s)")


# --- bad input ----------------------------------------------------------------------------

def raw_exchange(payload, read_timeout=15, shut=True, pause=None):
    """Sends bytes, returns the status code answered (None when the server just closed)."""
    with socket.create_connection(("127.0.0.1", ARGS.port), timeout=read_timeout) as s:
        if pause:
            for piece in payload:
                s.sendall(piece)
                time.sleep(pause)
        else:
            s.sendall(payload)
        if shut:
            s.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while True:
                piece = s.recv(65536)
                if not piece:
                    break
                data += piece
        except (socket.timeout, ConnectionResetError):
            pass
    if not data.startswith(b"HTTP/1."):
        return None
    return int(data[9:12])


def bad_input_checks():
    good = json.dumps({"prompt": "hi", "max_tokens": 2}).encode()
    cases = {
        "garbage request line": b"HELLO\r\n\r\n",
        "missing version": b"GET /health\r\n\r\n",
        "bad version": b"GET /health HTTP/7.0\r\nHost: x\r\n\r\n",
        "header without colon": b"GET /health HTTP/1.1\r\nHost x\r\n\r\n",
        "huge header": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
        "bad content-length": b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        "two content-lengths": b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        "oversized body": (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 50000000\r\n\r\n" + b"{" * 1000),
        "truncated body": (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 500\r\n\r\n" + good),
        "bad chunk size": (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
        "invalid JSON": (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 9\r\nConnection: close\r\n\r\n{\"prompt\""),
        "wrong types": (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 31\r\nConnection: close\r\n\r\n{\"prompt\": 5, \"max_tokens\": []}"),
        "unknown route": b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "unknown method": b"BREW /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "wrong method": b"PUT /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    }
    for name, payload in cases.items():
        status = raw_exchange(payload)
        check(status is None or 400 <= status < 600, f"bad input: {name} -> {status}")
    # A slow client trickling its head byte by byte is answered or cut, never served forever.
    status = raw_exchange([b"G", b"E", b"T", b" /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"], pause=0.2)
    check(status in (None, 200, 408), f"bad input: slow head -> {status}")
    # Abrupt disconnects in the middle of streams.
    body = json.dumps({"prompt": "Tell me a long story", "max_tokens": 200, "stream": True, "ignore_eos": True}).encode()
    for _ in range(6):
        with socket.create_connection(("127.0.0.1", ARGS.port), timeout=30) as s:
            s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            s.recv(4096)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    status, _, _ = http("GET", "/health")
    check(status == 200, "the server keeps serving after the bad-input suite")


# --- main ---------------------------------------------------------------------------------

def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--spec-decode", action="store_true")
    parser.add_argument("--k", type=int)
    parser.add_argument("--concurrency", type=int, default=8)
    ARGS = parser.parse_args()
    client = openai.OpenAI(base_url=url("/v1"), api_key="unused", max_retries=0, timeout=300)
    totals = []

    baseline = None
    openai_checks(client, totals)
    concurrency_checks(client, totals, ARGS.concurrency)
    baseline = rss_kib(ARGS.pid)
    before = metrics()
    bad_input_checks()
    # Aborted streams finish at the next engine step; give them a moment.
    def aborted_since(values):
        return series(values, "vllm:request_success_total", finished_reason="abort") - \
            series(before, "vllm:request_success_total", finished_reason="abort")
    deadline = time.time() + 30
    after = metrics()
    while time.time() < deadline and (aborted_since(after) < 6 or series(after, "vllm:num_requests_running") > 0):
        time.sleep(0.2)
        after = metrics()
    check(series(after, "vllm:num_requests_running") == 0, "no request left running after the disconnects")
    aborted = aborted_since(after)
    check(aborted >= 6, f"abrupt disconnects were aborted in the engine ({aborted:.0f})")
    # Run the good workload again and compare memory with the baseline taken after the same work.
    concurrency_checks(client, totals, ARGS.concurrency)
    grown = rss_kib(ARGS.pid) - baseline
    check(grown < 64 * 1024, f"memory returns to its baseline (RSS {baseline // 1024} MiB, change {grown // 1024:+d} MiB)")

    # Metrics agree with what the clients saw (the bad-input suite generated some tokens too,
    # so compare the deltas of a final clean batch).
    before = metrics()
    batch = []
    concurrency_checks(client, batch, 4)
    # A request's tokens and its success are counted before its answers go out (its prompt at the
    # end of the step that prefilled it), so the counters agree as soon as the clients are done.
    def delta(values, name):
        return series(values, name) - series(before, name)
    after = metrics()
    generated = delta(after, "vllm:generation_tokens_total")
    prompt = delta(after, "vllm:prompt_tokens_total")
    finished = delta(after, "vllm:request_success_total")
    received = sum(u.completion_tokens for u in batch)
    check(generated == received,
          f"generation_tokens_total counts what the clients received ({generated:.0f}, clients {received})")
    prompted = sum(u.prompt_tokens for u in batch)
    check(prompt == prompted, f"prompt_tokens_total counts the prompts ({prompt:.0f}, clients {prompted})")
    check(finished == len(batch), f"request_success_total counts the requests ({finished:.0f}, clients {len(batch)})")
    command = [sys.executable, os.path.join(os.path.dirname(__file__), "../../scripts/check_metrics.py"),
               url("/metrics"), "--model", ARGS.model]
    if ARGS.spec_decode:
        command.append("--spec-decode")
        if ARGS.k:
            command += ["--k", str(ARGS.k)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    print(result.stdout.strip())
    check(result.returncode == 0, f"/metrics passes scripts/check_metrics.py {result.stderr.strip()}")
    print(f"service checks: {CHECKS} passed, 0 failed")


if __name__ == "__main__":
    main()

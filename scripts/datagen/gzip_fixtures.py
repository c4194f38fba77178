#!/usr/bin/env python3
"""Writes the gzip test inputs of Tests/TrainingTests/Fixtures (python3 scripts/datagen/gzip_fixtures.py):
conversations.jsonl.gz (one member), conversations-2members.jsonl.gz (two members, split mid-file) and
truncated.jsonl.gz (the first one cut short). Plain conversations.jsonl holds the same text uncompressed."""
import gzip, pathlib

root = pathlib.Path(__file__).resolve().parents[2] / "Tests/TrainingTests/Fixtures"
lines = [
    '{"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Name a colour."},'
    ' {"from": "gpt", "value": "Blue."}, {"from": "human", "value": "Another?"}, {"from": "bard", "value": "Red."}]}',
    '{"messages": [{"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]},'
    ' {"role": "assistant", "content": "Hi!"}]}',
    '{"prompt": "Write a haiku about the sea.", "system": "You are a poet."}',
    '"A bare string prompt"',
    '{"turns": ["First question", "Second question"]}',
    '{"conversations": [{"from": "gpt", "value": "only an assistant turn"}]}',
]
text = ("\n".join(lines) + "\n").encode()
(root / "conversations.jsonl").write_bytes(text)
(root / "conversations.jsonl.gz").write_bytes(gzip.compress(text, mtime=0))
half = len(text) // 2
(root / "conversations-2members.jsonl.gz").write_bytes(gzip.compress(text[:half], mtime=0) + gzip.compress(text[half:], mtime=0))
(root / "truncated.jsonl.gz").write_bytes(gzip.compress(text, mtime=0)[:60])

#!/usr/bin/env python3
"""Runs prometheus-scenario.json through the real Python prometheus_client (the library vLLM
exposes its metrics with) and writes its text exposition to prometheus-golden.txt. The clock
is pinned to the scenario's "created" time so that the _created series are reproducible.
Run from this folder:  python3 make_prometheus_golden.py"""
import json, time

scenario = json.load(open("prometheus-scenario.json", encoding="utf-8"))
time.time = lambda: scenario["created"]  # prometheus_client stamps _created with time.time()

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

registry = CollectorRegistry()
metrics = {}
for m in scenario["metrics"]:
    kind, name, help_, labels = m["kind"], m["name"], m["help"], m["labels"]
    if kind == "counter":
        metrics[name] = Counter(name, help_, labels, registry=registry)
    elif kind == "gauge":
        metrics[name] = Gauge(name, help_, labels, registry=registry)
    else:
        metrics[name] = Histogram(name, help_, labels, buckets=m["buckets"], registry=registry)

for op in scenario["operations"]:
    metric = metrics[op["metric"]]
    series = metric.labels(*op["labels"]) if op["labels"] else metric
    value = float(op["value"])
    {"inc": lambda: series.inc(value), "set": lambda: series.set(value), "observe": lambda: series.observe(value)}[op["op"]]()

text = generate_latest(registry).decode("utf-8")
open("prometheus-golden.txt", "w", encoding="utf-8").write(text)
print(f"prometheus_client {getattr(prometheus_client, '__version__', '0.26.0')}: wrote {len(text)} characters")

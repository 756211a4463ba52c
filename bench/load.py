#!/usr/bin/env python3
"""Load benchmark for `dragoman serve` (a program, not a test).

Starts the server on 127.0.0.1 (port 0) for each configuration, drives it with N closed-loop
clients for a fixed duration, and prints requests/s, sentences/s and p50/p95/p99 latency per
concurrency, then the throughput ratio of iteration-level batching on vs nearly off at concurrency 32
(--max-batch-tokens 4200: with the demo model's beam 4 and max_length 512 a short sentence costs
~2060 KV positions, so at most two sentences share a step; one alone is no longer expressible,
as any sentence may cost at most half the budget).

usage: bench/load.py DRAGOMAN MODEL_DIR [--duration S] [--concurrency 1,8,32,64]
                     [--workers N] [--threads-per-worker N] [--sentences-per-request K]
"""
import argparse

NEARLY_OFF = 4200  # --max-batch-tokens for "batching nearly off" (see above)
import http.client
import json
import os
import subprocess
import sys
import threading
import time

WORDS = ("the river runs past a small green house where a friend plays music every winter "
         "morning before school and the market opens near the mountain").split()


def text_for(i, k):
    """k sentences of varied length, different per request (no caching effects)."""
    out = []
    for j in range(k):
        n = 4 + (i * 7 + j * 3) % 14
        out.append(" ".join(WORDS[(i + j + t) % len(WORDS)] for t in range(n)).capitalize() + ".")
    return out


def start(binary, model, extra):
    p = subprocess.Popen([binary, "serve", "--model", model, "--port", "0"] + extra,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    line = p.stdout.readline().decode()
    port = int(line.split()[-1])
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/ready")
            if c.getresponse().status == 200:
                return p, port
        except OSError:
            pass
        time.sleep(0.05)
    p.kill()
    raise RuntimeError("server not ready")


def run(port, concurrency, duration, k):
    lat, sentences, errors = [], [0], [0]
    lock = threading.Lock()
    stop = time.time() + duration

    def client(cid):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        i = cid * 100000
        while time.time() < stop:
            body = json.dumps({"text": text_for(i, k)})
            t0 = time.perf_counter()
            try:
                c.request("POST", "/v1/translate", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            dt = time.perf_counter() - t0
            with lock:
                if ok:
                    lat.append(dt)
                    sentences[0] += k
                else:
                    errors[0] += 1
            i += 1

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3 if lat else float("nan")

    return {"concurrency": concurrency, "requests": len(lat), "errors": errors[0],
            "rps": len(lat) / wall, "sps": sentences[0] / wall,
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("model")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--concurrency", default="1,8,32,64")
    ap.add_argument("--workers", default="1")
    ap.add_argument("--threads-per-worker", default="0")
    ap.add_argument("--sentences-per-request", type=int, default=1)
    a = ap.parse_args()
    common = ["--workers", a.workers, "--threads-per-worker", a.threads_per_worker,
              "--max-queue", "100000"]
    k = a.sentences_per_request
    p, port = start(a.binary, a.model, common)
    print("%-12s %9s %9s %11s %8s %8s %8s %6s" % ("concurrency", "requests", "req/s", "sent/s",
                                                   "p50 ms", "p95 ms", "p99 ms", "errors"))
    results = {}
    try:
        for c in [int(x) for x in a.concurrency.split(",")]:
            r = run(port, c, a.duration, k)
            results[c] = r
            print("%-12d %9d %9.1f %11.1f %8.1f %8.1f %8.1f %6d" % (
                c, r["requests"], r["rps"], r["sps"], r["p50_ms"], r["p95_ms"], r["p99_ms"],
                r["errors"]), flush=True)
    finally:
        p.terminate()
        p.wait(60)
    on = results.get(32) or run_once(a, common + [], 32, k)
    p, port = start(a.binary, a.model, common + ["--max-batch-tokens", str(NEARLY_OFF)])
    try:
        off = run(port, 32, a.duration, k)
    finally:
        p.terminate()
        p.wait(60)
    print("batching nearly off (--max-batch-tokens %d, <= 2 sentences per step) at concurrency "
          "32: %.1f sent/s, p50 %.1f ms, p99 %.1f ms"
          % (NEARLY_OFF, off["sps"], off["p50_ms"], off["p99_ms"]))
    print("throughput ratio batching on/nearly off at concurrency 32: %.2fx" % (on["sps"] / off["sps"]))
    return 0


def run_once(a, extra, c, k):
    p, port = start(a.binary, a.model, extra)
    try:
        return run(port, c, a.duration, k)
    finally:
        p.terminate()
        p.wait(60)


if __name__ == "__main__":
    sys.exit(main())

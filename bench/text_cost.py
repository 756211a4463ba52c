#!/usr/bin/env python3
"""What the text work around the model costs (issue 13): throughput of `dragoman serve` with and
without alignment, protected spans and HTML, on the same content (a program, not a test).

One server; closed-loop clients; alternating rounds (A B B A A B ...) so that a machine busy with
other work loads both sides alike; per pair, the ratio of sentences/s summed over its rounds, and
the ratio of the server's CPU time per sentence (/proc: less sensitive to a busy machine).
  align:  plain sentences, options.return_alignment on vs off (the engine's attention rows and
          the word alignment: what protected spans and HTML turn on)
  detect: plain sentences without spans, preserve on vs off (span detection and masking)
  spans:  sentences holding a URL, a number and a placeholder, preserve on vs off (the model then
          sees different text, so this includes decoding differences)
  html:   each sentence as <p>... <b>word</b> ...</p> with format html vs its text as plain text
          (the same model input: parse, alignment, tags placed, rendering)

usage: bench/text_cost.py DRAGOMAN MODEL_DIR [--round S] [--rounds N] [--concurrency C]
                          [--sentences-per-request K] [--pairs align,detect,spans,html]
"""
import argparse
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import start, text_for  # noqa: E402


def sentences(i, k, spans):
    out = text_for(i, k)
    if spans:
        out = [s[:-1] + " at https://example.com/p%d for %%1$s, %d kg." % (i % 97, 3 + i % 9)
               for s in out]
    return out


def html_page(s):
    w = s.split(" ")
    w[len(w) // 2] = "<b>%s</b>" % w[len(w) // 2]
    return "<p>" + " ".join(w) + "</p>"


def body(kind, side, i, k):
    """The request of pair kind, side A (True) or B, for request number i."""
    if kind == "align":
        return {"text": sentences(i, k, False), "options": {"return_alignment": side}}
    if kind == "detect":
        return {"text": sentences(i, k, False), "options": {"preserve": side}}
    if kind == "spans":
        return {"text": sentences(i, k, True), "options": {"preserve": side}}
    if kind == "html":
        t = sentences(i, k, False)
        return {"text": [html_page(s) for s in t], "format": "html"} if side else {"text": t}
    raise ValueError(kind)


def cpu_s(pid):
    """The server's CPU time so far (user + system, all threads), in seconds."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def run(port, concurrency, duration, make):
    done, errors = [0], [0]
    lock = threading.Lock()
    stop = time.time() + duration

    def client(cid):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        i = cid * 1000
        while time.time() < stop:
            b = make(i)
            c.request("POST", "/v1/translate", json.dumps(b), {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            with lock:
                if r.status == 200:
                    done[0] += len(b["text"])
                else:
                    errors[0] += 1
            i += 1

    t0 = time.time()
    th = [threading.Thread(target=client, args=(c,)) for c in range(concurrency)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if errors[0]:
        raise RuntimeError("%d failed requests" % errors[0])
    return done[0] / (time.time() - t0), done[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("model")
    ap.add_argument("--round", type=float, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--sentences-per-request", type=int, default=4)
    ap.add_argument("--pairs", default="align,detect,spans,html")
    a = ap.parse_args()
    k = a.sentences_per_request
    p, port = start(a.binary, a.model, ["--workers", "1", "--threads-per-worker", "1",
                                        "--max-queue", "100000"])
    try:
        run(port, a.concurrency, 2, lambda i: body("align", False, i, k))  # warm up
        for kind in a.pairs.split(","):
            sums = {True: 0.0, False: 0.0}
            cpu = {True: 0.0, False: 0.0}
            sent = {True: 0, False: 0}
            rounds = []
            for r in range(a.rounds):
                for side in ((True, False) if r % 2 == 0 else (False, True)):
                    c0 = cpu_s(p.pid)
                    x, n = run(port, a.concurrency, a.round, lambda i: body(kind, side, i, k))
                    cpu[side] += cpu_s(p.pid) - c0
                    sent[side] += n
                    sums[side] += x
                    rounds.append("%s %.1f" % ("A" if side else "B", x))
            ca, cb = 1e3 * cpu[True] / sent[True], 1e3 * cpu[False] / sent[False]
            print("%-7s throughput A/B = %.3f (A %.1f, B %.1f sentences/s over %d rounds of %gs: "
                  "%s); server CPU per sentence A/B = %.3f (A %.2f ms, B %.2f ms)" % (
                      kind, sums[True] / sums[False], sums[True] / a.rounds,
                      sums[False] / a.rounds, a.rounds, a.round, ", ".join(rounds), ca / cb, ca,
                      cb), flush=True)
    finally:
        p.terminate()
        p.wait(60)


if __name__ == "__main__":
    main()

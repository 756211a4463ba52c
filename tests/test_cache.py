"""The translation cache (--cache-bytes): a repeated request comes back from the cache in
milliseconds with the same translations; a request mixing cached and new sentences gets exactly
what an uncached server answers; other options miss; sampling without a seed is never cached;
the byte budget holds under eviction; /metrics counts hits and misses.

usage: test_cache.py DRAGOMAN
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Check, Server  # noqa: E402

BIN = sys.argv[1]
ck = Check()
WORDS = ["file", "folder", "printer", "document", "window", "page", "image", "account"]
VERBS = ["Open", "Close", "Save", "Delete", "Print", "Rename", "Copy", "Move", "Share", "Check"]
TEXTS = ["%s the %s %d" % (v, w, i) for i, (v, w) in enumerate(
    (v, w) for v in VERBS for w in WORDS)][:75]
TEXTS = [t + ". " + t.replace("the", "this") for t in TEXTS]  # 150 sentences


def translate(srv, texts, options=None):
    t0 = time.time()
    st, _, body = srv.post_json("/v1/translate", {"text": texts, "options": options or {}})
    return st, [t["text"] for t in body["translations"]] if st == 200 else body, time.time() - t0


def main():
    plain = Server(BIN, None)
    try:
        _, want, _ = translate(plain, TEXTS)
        _, want_beam1, _ = translate(plain, TEXTS[:3], {"beam_size": 1})
    finally:
        plain.stop()
    srv = Server(BIN, None, "--cache-bytes", "4000000")
    try:
        st, first, t_first = translate(srv, TEXTS)
        ck.eq((st, first), (200, want), "first request: as without cache")
        ck.eq((srv.metric("dragoman_cache_misses_total"), srv.metric("dragoman_cache_hits_total")),
              (150, 0), "150 misses")
        st, again, t_again = translate(srv, TEXTS)
        ck.eq((st, again), (200, want), "repeated request: the same translations")
        ck.eq(srv.metric("dragoman_cache_hits_total"), 150, "150 hits")
        print("150 sentences: %.1f ms translated, %.1f ms from the cache" % (t_first * 1e3,
                                                                          t_again * 1e3))
        ck(t_again < 0.25 and t_again < t_first / 5, "cached request in milliseconds")
        ck.eq(srv.metric("dragoman_cache_entries"), 150, "150 entries")
        # half cached, half new: exactly the uncached answer
        mixed = [TEXTS[0], "Open the folder", TEXTS[1]]
        plain = Server(BIN, None)
        try:
            _, want_mixed, _ = translate(plain, mixed)
        finally:
            plain.stop()
        st, got, _ = translate(srv, mixed)
        ck.eq((st, got), (200, want_mixed), "cached and new sentences together")
        # other options are other entries
        st, got, _ = translate(srv, TEXTS[:3], {"beam_size": 1})
        ck.eq((st, got), (200, want_beam1), "beam 1: not the beam 4 entries")
        hits = srv.metric("dragoman_cache_hits_total")
        st, a, _ = translate(srv, ["Open the file"], {"do_sample": True, "temperature": 5.0})
        st, b, _ = translate(srv, ["Open the file"], {"do_sample": True, "temperature": 5.0})
        ck.eq(srv.metric("dragoman_cache_hits_total"), hits, "sampling without a seed: no hit")
        translate(srv, ["Open the file"], {"do_sample": True, "seed": 5})
        st, c, _ = translate(srv, ["Open the file"], {"do_sample": True, "seed": 5})
        ck.eq(srv.metric("dragoman_cache_hits_total"), hits + 1, "sampling with a seed: cached")
    finally:
        ck.eq(srv.stop(), 0, "server exit status")
    srv = Server(BIN, None, "--cache-bytes", "3000")
    try:
        translate(srv, TEXTS)
        used = srv.metric("dragoman_cache_bytes")
        ck(0 < used <= 3000, "eviction keeps the budget: %d bytes" % used)
        ck(0 < srv.metric("dragoman_cache_entries") < 150, "eviction drops entries")
        st, got, _ = translate(srv, TEXTS)
        ck.eq((st, got), (200, want), "after eviction: still right")
    finally:
        srv.stop()
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())

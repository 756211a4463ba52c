"""No request starves the others (issue 14), against the real `dragoman serve` with the bundled
demo model on 127.0.0.1:
- while the heaviest request the documented limits allow runs (128 texts, one 512-token
  sentence each, beam 32, max_length 512, repetition_penalty 0.001 so that every hypothesis runs
  to max_length), another client's one-sentence requests all finish before it, with p99 <= 0.5 s;
- while one client sends 128-text requests back to back, a second client's one-sentence
  requests have p99 <= 1 s;
- a sentence larger than half the batch budget is refused (400 naming --max-batch-tokens), and
  --max-memory refuses a request that can never fit (400) or does not fit now (429 +
  Retry-After).
The latency bounds are asserted in optimised builds only (a round over the bound is measured
once more, see short_requests): under AddressSanitizer (argument
--sanitized) every step is several times slower, so there the test checks the ordering (the
short requests all finish while the heavy one still runs), which does not depend on speed.

usage: test_serve_fair.py DRAGOMAN [--sanitized]
"""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Check, Server  # noqa: E402

BIN = sys.argv[1]
SANITIZED = "--sanitized" in sys.argv[2:]
ck = Check()
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "demo-en-de",
                       "config.json")) as f:
    _cfg = json.load(f)
# bytes of one position of the demo model (decoder layers x K,V x d_model floats + ancestry),
# and a memory budget that holds as many positions as 40 MiB did for the 1544-byte positions
# the figures below were worked out with
POS_BYTES = _cfg["decoder_layers"] * 2 * _cfg["d_model"] * 4 + 8
MEM_MIB = -(-40 * POS_BYTES // 1544)
N_SHORT = 15 if SANITIZED else 100  # a p99 needs 100; the sanitized run checks order only
WORDS = ("river house green small bread music winter school garden letter window friend "
         "mountain yellow market morning").split()


def p99(xs):
    """Nearest-rank 99th percentile: of 100 latencies, the second largest."""
    xs = sorted(xs)
    return xs[max(0, -(-99 * len(xs) // 100) - 1)]


def short_text(i):
    return "the %s %s" % (WORDS[i % 16], WORDS[(i * 5 + 3) % 16])


def raw_post(port, obj):
    """Sends a POST on a raw socket and returns it (unread), so the test can hang up."""
    body = json.dumps(obj).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=600)
    s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    return s


def short_requests(srv, n, bound):
    """n one-sentence requests in a row; their latencies (s), or None for a failed one. In an
    optimised build a second round is run when the first one's p99 exceeds bound: a neighbour
    on a shared machine can stall this process for a second, which says nothing about the
    scheduler; two bad rounds in a row do."""
    lat = one_round(srv, n)
    done = [x for x in lat if x is not None]
    if not SANITIZED and done and p99(done) > bound:
        print("first round p99 %.3f s > %.1f s (load %.1f); second round"
              % (p99(done), bound, os.getloadavg()[0]))
        lat = one_round(srv, n)
    return lat


def one_round(srv, n):
    lat = []
    conn = srv.connection()
    for i in range(n):
        t0 = time.monotonic()
        st, _, body = srv.post_json("/v1/translate", {"text": short_text(i)}, conn=conn)
        ok = st == 200 and body and body["translations"][0]["text"]
        lat.append(time.monotonic() - t0 if ok else None)
    conn.close()
    return lat


def test_heaviest():
    srv = Server(BIN, None, "--timeout-ms", "3600000")  # the heavy request must outlive the test
    try:
        long_sentence = " ".join(WORDS[(i * 7) % 16] for i in range(600))  # > 512 tokens
        heavy = {"text": [long_sentence] * 128,
                 "options": {"beam_size": 32, "max_length": 512, "repetition_penalty": 0.001,
                             "truncate": True}}
        sock = raw_post(srv.port, heavy)
        srv.wait_metric("dragoman_inflight_requests", lambda v: v >= 1)
        # its first sentence is decoding: the batch holds one request at its share
        srv.wait_metric("dragoman_batch_sentences_count", lambda v: v >= 1)
        lat = short_requests(srv, N_SHORT, 0.5)
        ck(all(x is not None for x in lat), "short requests beside the heaviest one: all 200")
        # the last short request leaves the gauge just after its reply was read
        ck.eq(srv.wait_metric("dragoman_inflight_requests", lambda v: v <= 1), 1,
              "the heaviest request still runs after the short ones finished")
        done = [x for x in lat if x is not None]
        if done:
            print("beside the heaviest request: short p99 %.3f s, max %.3f s (%d requests)"
                  % (p99(done), max(done), len(done)))
            if not SANITIZED:
                ck(p99(done) <= 0.5, "short p99 %.3f s <= 0.5 s beside the heaviest request"
                   % p99(done))
        sock.close()  # the heavy client hangs up: its sentences are cancelled
        srv.wait_metric("dragoman_inflight_requests", lambda v: v == 0)
        ck.eq(srv.metric("dragoman_inflight_requests"), 0, "heaviest request cancelled on hang-up")
    finally:
        ck.eq(srv.stop(), 0, "exit status")


def test_bulk_client():
    srv = Server(BIN, None, "--timeout-ms", "3600000")
    stop = threading.Event()
    bulk = {"n": 0, "bad": 0}

    def bulk_client():
        conn = srv.connection()
        i = 0
        while not stop.is_set():
            texts = ["%s. The %s is %s." % (short_text(i + k), WORDS[k % 16], WORDS[(i + k) % 16])
                     for k in range(128)]
            st, _, body = srv.post_json("/v1/translate", {"text": texts}, conn=conn)
            bulk["n"] += 1
            bulk["bad"] += not (st == 200 and len(body["translations"]) == 128)
            i += 1
        conn.close()

    try:
        t = threading.Thread(target=bulk_client)
        t.start()
        srv.wait_metric("dragoman_batch_sentences_count", lambda v: v >= 1)
        lat = short_requests(srv, N_SHORT, 1.0)
        running = t.is_alive()
        stop.set()
        t.join(600)
        ck(all(x is not None for x in lat), "second client's requests: all 200")
        ck(running, "the bulk client was still sending when the second one finished")
        ck.eq(bulk["bad"], 0, "bulk requests answered in full")
        done = [x for x in lat if x is not None]
        if done:
            print("beside 128-text requests: short p99 %.3f s, max %.3f s; %d bulk requests"
                  % (p99(done), max(done), bulk["n"]))
            if not SANITIZED:
                ck(p99(done) <= 1.0, "second client's p99 %.3f s <= 1 s" % p99(done))
    finally:
        stop.set()
        ck.eq(srv.stop(), 0, "exit status")


def test_limits():
    srv = Server(BIN, None, "--max-batch-tokens", "8192", "--max-memory", str(MEM_MIB))
    try:
        st, _, body = srv.post_json("/v1/translate", {
            "text": "Hello world", "options": {"beam_size": 32, "max_length": 512}})
        ck.eq(st, 400, "sentence over half the batch budget")
        msg = body["error"]["message"] if body else ""
        ck("--max-batch-tokens (8192)" in msg and "32 beams" in msg, "400 names the limit: %r" % msg)
        # --max-memory 40 MiB (scaled); a position of the micro demo model was 1544 bytes (1 layer
        # x K,V x 192 floats + ancestry); one request may hold at most half a batch: 4096
        # positions = 6 MiB
        st, _, _ = srv.post_json("/v1/translate", {"text": "Hello world"})
        ck.eq(st, 200, "small request within --max-memory")
    finally:
        ck.eq(srv.stop(), 0, "exit status")
    srv = Server(BIN, None, "--max-memory", str(MEM_MIB), "--workers", "1")
    try:
        # each sentence: ~20 + 2 x 512 positions; 24 of them reserve 24 x ~1044 x 1544 B = 37 MiB,
        # and every hypothesis runs to max_length (511 steps: seconds)
        slow = {"text": ["Sentence number %d is long and has many words in it, really many words"
                         % i for i in range(24)],
                "options": {"beam_size": 2, "max_length": 512, "repetition_penalty": 0.001}}
        sock = raw_post(srv.port, slow)
        # a decoder step ran: the request holds its reservation (in-flight counts it earlier)
        srv.wait_metric("dragoman_batch_sentences_count", lambda v: v >= 1)
        st, h, body = srv.post_json("/v1/translate", {"text": ["Hello world"] * 4})  # 12 MiB
        ck.eq((st, body["error"]["code"] if body else None), (429, "queue_full"),
              "request beyond the memory budget")
        ck.eq(h.get("retry-after"), "1", "Retry-After with the 429")
        ck("memory budget" in (body["error"]["message"] if body else ""), "429 says memory")
        st, _, body = srv.post_json("/v1/translate", {"text": ["Hello world"] * 128})
        ck.eq(st, 400, "request that can never fit --max-memory")
        ck("--max-memory (%d MiB)" % MEM_MIB in (body["error"]["message"] if body else ""),
           "400 names --max-memory")
        sock.close()
    finally:
        ck.eq(srv.stop(), 0, "exit status")


def main():
    test_limits()
    test_heaviest()
    test_bulk_client()
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())

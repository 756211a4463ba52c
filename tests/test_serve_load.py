"""Concurrency and robustness of `dragoman serve` under load, against the real binary on
127.0.0.1 (port 0):
- 64 parallel clients, each with its own inputs: every reply equals `dragoman translate` on
  that client's inputs (no cross-talk between batched requests);
- slowloris, garbage-bytes and oversized-header clients do not block normal requests;
- a client that hangs up has its sentences cancelled, others are unaffected;
- SIGTERM under 32 keep-alive clients: no request lost (each gets a correct 200 or 503
  shutting_down; the last reply on each connection says Connection: close); exit 0.

usage: test_serve_load.py DRAGOMAN MODEL_DIR
"""
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Check, Server, reference_translations  # noqa: E402

BIN, MODEL = sys.argv[1], sys.argv[2]
ck = Check()
WORDS = ["river", "house", "green", "small", "bread", "music", "winter", "school", "garden",
         "letter", "window", "friend", "mountain", "yellow", "market", "morning"]
N_CLIENTS = 64


def client_texts(i):
    """Two distinct single-sentence inputs per client."""
    a, b, c = WORDS[i % 16], WORDS[(i // 16 + 3 * i) % 16], WORDS[(i * 7 + 5) % 16]
    return ["%s %s number %d" % (a, b, i), "the %s and the %s" % (c, a) + " x" * (i % 9)]


def test_parallel(srv, ref):
    barrier = threading.Barrier(N_CLIENTS)

    def one(i):
        barrier.wait(60)
        return srv.post_json("/v1/translate", {"text": client_texts(i)})

    with ThreadPoolExecutor(N_CLIENTS) as ex:
        results = list(ex.map(one, range(N_CLIENTS)))
    bad = 0
    for i, (st, _, body) in enumerate(results):
        want = [r["text"][0] for r in ref[2 * i:2 * i + 2]]
        got = [t["text"] for t in body["translations"]] if st == 200 and body else None
        bad += got != want
        if got != want:
            print("client %d: %r, want %r (status %r)" % (i, got, want, st), file=sys.stderr)
    ck.eq(bad, 0, "clients whose reply differs from dragoman translate")
    # the batching actually happened: some decoder step held sentences of several requests
    ck(srv.metric('dragoman_batch_sentences_bucket{le="4"}') <
       srv.metric('dragoman_batch_sentences_count'), "steps with more than 4 sentences")


def test_hostile(srv, ref):
    socks = []
    # slowloris: half a request line, then a byte now and then
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Le")
        socks.append(s)
    # a body that never completes
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100000\r\n\r\n{\"text\": \"")
    socks.append(s)
    # garbage bytes and an oversized header: answered (or closed), never a crash
    g = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    g.sendall(os.urandom(4096) + b"\r\n\r\n")
    h = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    h.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
    for extra in (g, h):
        try:
            data = extra.recv(100)
            ck(data == b"" or data.startswith(b"HTTP/1.1 4"), "hostile bytes: %r" % data[:30])
        except OSError:
            ck(True, "hostile connection reset")
        extra.close()
    t0 = time.time()
    for i in range(5):
        st, _, body = srv.post_json("/v1/translate", {"text": client_texts(i)})
        ck.eq([t["text"] for t in body["translations"]] if st == 200 else None,
              [r["text"][0] for r in ref[2 * i:2 * i + 2]], "normal request beside hostile clients")
    ck(time.time() - t0 < 30, "normal requests not held up (%.1fs)" % (time.time() - t0))
    for s in socks:
        s.sendall(b"x")
        s.close()
    ck.eq(srv.request("GET", "/health")[0], 200, "alive after hostile clients")


def test_disconnect(srv, ref):
    before = srv.metric("dragoman_sentences_cancelled_total")
    body = ('{"text": [%s], "options": {"beam_size": 16, "max_length": 60}}' % ",".join(
        '"sentence %d with quite a lot of words in it to keep the worker busy"' % i
        for i in range(40))).encode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    deadline = time.time() + 30
    while srv.metric("dragoman_inflight_requests") < 1 and time.time() < deadline:
        time.sleep(0.002)
    s.close()
    st, _, r = srv.post_json("/v1/translate", {"text": client_texts(1)})
    ck.eq([t["text"] for t in r["translations"]] if st == 200 else None,
          [x["text"][0] for x in ref[2:4]], "request after a hang-up")
    deadline = time.time() + 30
    while srv.metric("dragoman_sentences_cancelled_total") == before and time.time() < deadline:
        time.sleep(0.01)
    ck(srv.metric("dragoman_sentences_cancelled_total") > before, "hang-up cancelled sentences")
    deadline = time.time() + 30
    while srv.metric("dragoman_inflight_requests") > 0 and time.time() < deadline:
        time.sleep(0.01)
    ck.eq(srv.metric("dragoman_inflight_requests"), 0, "no request left in flight")
    ck(any("status=499" in l for l in srv.log), "hang-up logged as 499")


def test_sigterm(ref):
    """32 keep-alive clients send requests back to back; SIGTERM arrives mid-stream. No
    request may go unanswered: each gets a correct 200, or 503 shutting_down, and the reply
    that ends a client's run carries Connection: close (the server then closes it)."""
    srv = Server(BIN, MODEL, "--workers", "2", "--threads-per-worker", "1")
    n = 32
    outcome = [None] * n
    replies = [0] * n
    warm = threading.Semaphore(0)

    def client(i):
        conn = srv.connection()
        k = 0
        while True:
            st, h, body = srv.post_json("/v1/translate", {"text": client_texts(i)}, conn=conn)
            if st is None:
                outcome[i] = "request %d got no reply" % k
                break
            if st == 200:
                if [t["text"] for t in body["translations"]] != [x["text"][0] for x in ref[2 * i:2 * i + 2]]:
                    outcome[i] = "wrong reply to request %d" % k
                    break
            elif not (st == 503 and body and body["error"]["code"] == "shutting_down"):
                outcome[i] = "request %d: status %r" % (k, st)
                break
            replies[i] += 1
            if k == 0:
                warm.release()
            if h.get("connection") == "close":
                outcome[i] = "ok"
                break
            k += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for _ in range(n):  # every client has had a reply: all connections are keep-alive ones
        warm.acquire(timeout=120)
    srv.proc.send_signal(15)
    for t in threads:
        t.join(300)
    rc = srv.stop()
    ck.eq(rc, 0, "exit status after SIGTERM under load")
    bad = [(i, o) for i, o in enumerate(outcome) if o != "ok"]
    ck.eq(bad, [], "keep-alive clients: every request answered, the last one with close")
    print("SIGTERM under %d keep-alive clients: %d replies" % (n, sum(replies)))


def main():
    lines = [t for i in range(N_CLIENTS) for t in client_texts(i)]
    ref = reference_translations(BIN, MODEL, lines)
    srv = Server(BIN, MODEL, "--workers", "2", "--threads-per-worker", "1", "--http-threads", "2")
    try:
        test_parallel(srv, ref)
        test_hostile(srv, ref)
        test_disconnect(srv, ref)
    finally:
        ck.eq(srv.stop(), 0, "exit status")
    test_sigterm(ref)
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())

"""Connection and body limits of `dragoman serve` (issue 14), against the real binary with the
bundled demo model on 127.0.0.1:
- a 16 MiB body sent by Python's http.client (whole body first, then read) gets the JSON 413;
- a client that half-closes (shutdown(SHUT_WR)) after a complete POST gets its translation,
  while one that closes has its sentences cancelled;
- 300 connections trickling bodies raise RSS by <= 50 MB (optimised builds; ASan's shadow
  memory and quarantine make RSS meaningless there);
- --max-body-total: a body beyond the budget gets 503 "busy" + Retry-After;
- --body-timeout-ms: a body still trickling past it is cut off (MHD can only reply between
  requests, so the connection closes);
- --max-connections: connections beyond it are closed at once, the others keep working;
- a NUL byte in the path (%00) is 400, not the route without it;
- 300 mutated requests (a fixed seed: byte flips, cuts, insertions, duplicated lines): each is
  answered with a well-formed status line, or the connection is closed; every reply the server
  writes itself is the JSON envelope; the server then still translates correctly.

usage: test_serve_limits.py DRAGOMAN [--sanitized]
"""
import http.client
import json
import os
import random
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Check, Server, reference_translations  # noqa: E402

BIN = sys.argv[1]
SANITIZED = "--sanitized" in sys.argv[2:]
ck = Check()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def read_reply(s):
    """Reads one HTTP reply (skipping 1xx) from a raw socket: (status, headers, body)."""
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            d = s.recv(65536)
            if not d:
                return None, {}, data
            data += d
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if 100 <= status < 200:
            continue
        h = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        n = int(h.get("content-length", 0))
        while len(data) < n:
            d = s.recv(65536)
            if not d:
                break
            data += d
        return status, h, data[:n]


def post_raw(port, body, extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n%s\r\n%s" % (len(body), extra, body))
    return s


def test_big_body(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
    body = b'{"text": "' + b"x" * (16 << 20) + b'"}'
    try:
        c.request("POST", "/v1/translate", body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        st, data = r.status, r.read()
    except OSError as e:
        st, data = None, str(e).encode()
    c.close()
    ck.eq(st, 413, "16 MiB body from http.client")
    try:
        ck.eq(json.loads(data)["error"]["code"], "body_too_large", "413 body is the JSON envelope")
    except (ValueError, KeyError, TypeError):
        ck(False, "413 body is JSON: %r" % data[:80])


def test_nul_path(srv):
    for path in ("/v1/translate%00", "/v1/translate%00x", "/health%00"):
        st, _, body = srv.request("POST" if "translate" in path else "GET", path,
                                  {"text": "a"} if "translate" in path else None)
        ck.eq(st, 400, "NUL in path %s" % path)
        ck(b"NUL" in body, "message names the NUL byte: %r" % body[:100])


def test_half_close(srv, ref):
    body = json.dumps({"text": "Hello world"}).encode()
    s = post_raw(srv.port, body)
    s.shutdown(socket.SHUT_WR)
    st, _, data = read_reply(s)
    s.close()
    ck.eq(st, 200, "half-closed client gets its reply")
    if st == 200:
        ck.eq(json.loads(data)["translations"][0]["text"], ref[0]["text"][0],
              "half-closed client's translation")
    # a client that closes is still noticed: its sentences are cancelled
    before = srv.metric("dragoman_sentences_cancelled_total")
    slow = json.dumps({"text": ["Sentence number %d is long and has many words in it" % i
                                for i in range(40)],
                       "options": {"beam_size": 16, "max_length": 60}}).encode()
    s = post_raw(srv.port, slow)
    srv.wait_metric("dragoman_batch_sentences_count", lambda v: v >= 1)
    s.close()
    v = srv.wait_metric("dragoman_sentences_cancelled_total", lambda v: v > before)
    ck(v > before, "closed client's sentences cancelled")


def test_trickle(srv):
    """300 connections, each declaring a 1 MB body, sending 100 KB of it, then nothing."""
    pid = srv.proc.pid
    srv.request("GET", "/health")
    base = rss_kb(pid)
    socks = []
    chunk = b'{"text": "' + b"y" * 100000
    for _ in range(300):
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      b"\r\nContent-Length: 1000000\r\n\r\n" + chunk)
            socks.append(s)
        except OSError:
            pass  # beyond --max-connections: refused
    # a body's buffer is its declared length, so the 64 MiB budget holds 67 of them; the
    # others are read and dropped (503 once complete)
    srv.wait_metric("dragoman_request_body_bytes", lambda v: v >= 60 << 20)
    grew = (rss_kb(pid) - base) / 1024
    print("300 trickling connections: RSS +%.1f MB, %.1f MB of bodies buffered"
          % (grew, srv.metric("dragoman_request_body_bytes") / 2 ** 20))
    if not SANITIZED:
        ck(grew <= 50, "RSS grew by %.1f MB <= 50 MB under 300 trickling connections" % grew)
    st, _, _ = srv.post_json("/v1/translate", {"text": "Hello world"})
    ck(st in (200, 503), "normal request beside trickling connections: %r" % st)
    for s in socks:
        s.close()
    v = srv.wait_metric("dragoman_request_body_bytes", lambda v: v == 0)
    ck.eq(v, 0, "body buffers freed when the connections close")


def test_body_budget():
    srv = Server(BIN, None, "--max-body-total", "1")
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 900000\r\n\r\n" + b"z" * 1000)
        srv.wait_metric("dragoman_request_body_bytes", lambda v: v > 0)
        body = json.dumps({"text": "q" * 300000}).encode()
        b = post_raw(srv.port, body)
        st, h, data = read_reply(b)
        b.close()
        ck.eq(st, 503, "body beyond --max-body-total")
        ck.eq(h.get("retry-after"), "1", "503 busy has Retry-After")
        ck(b'"busy"' in data, "503 code busy: %r" % data[:80])
        s.close()
        srv.wait_metric("dragoman_request_body_bytes", lambda v: v == 0)
        st, _, _ = srv.post_json("/v1/translate", {"text": "Hello world"})
        ck.eq(st, 200, "budget free again once the first body's connection closed")
    finally:
        ck.eq(srv.stop(), 0, "exit status")


def test_body_timeout_and_connections():
    srv = Server(BIN, None, "--body-timeout-ms", "300", "--max-connections", "8")
    try:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 30 and not closed:
            try:
                s.sendall(b" ")
                s.settimeout(0.2)
                closed = s.recv(100) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
        ck(closed, "a body trickling past --body-timeout-ms is cut off")
        ck(any("status=408" in l for l in srv.log) or srv.wait_log("status=408", 10),
           "cut-off body logged as 408")
        s.close()
        held = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(8)]
        extra = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        try:
            extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            refused = extra.recv(100) == b""
        except OSError:
            refused = True
        ck(refused, "connection beyond --max-connections closed")
        held[0].sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        ck.eq(read_reply(held[0])[0], 200, "connections within the limit still served")
        for h in held + [extra]:
            h.close()
    finally:
        ck.eq(srv.stop(), 0, "exit status")


SEEDS = [
    b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 41\r\n\r\n{\"text\": [\"Hello world\", \"Good morning\"]}",
    b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 29\r\n\r\nq=Hello+world&source=en&target=de",
    b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"text\": \"Hello\r\n2\r\n\"}\r\n0\r\n\r\n",
    b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        i = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(i, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data = data[:i]
        elif op == 2:
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3:
            data[i:i] = rng.choice([b"\r\n", b"%00", b"\x00", b":", b"Content-Length: 99\r\n",
                                    b"Transfer-Encoding: chunked\r\n", b"\r\n\r\n"])
        else:
            lines = bytes(data).split(b"\r\n")
            k = rng.randrange(len(lines))
            lines.insert(k, lines[k])
            data = bytearray(b"\r\n".join(lines))
    return bytes(data)


def one_mutated(port, req):
    """Sends req, half-closes, reads a reply for up to 2 s. libmicrohttpd keeps a connection
    whose request never completed until its 15 s idle timeout, even after the client's FIN, so
    no reply in time counts like a close: allowed for malformed input."""
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    try:
        s.sendall(req)
        s.shutdown(socket.SHUT_WR)
        return read_reply(s)
    except OSError:
        return None, {}, b""
    finally:
        s.close()


def test_mutated_requests(srv, ref):
    rng = random.Random(14)
    reqs = [mutate(rng, rng.choice(SEEDS)) for _ in range(300)]
    with ThreadPoolExecutor(32) as ex:
        replies = list(ex.map(lambda r: one_mutated(srv.port, r), reqs))
    bad = []
    for n, (st, h, body) in enumerate(replies):
        if st is None:
            continue
        if h.get("content-type") == "application/json" and st >= 400:
            try:
                # the native envelope {"error": {"code", "message"}}, or LibreTranslate's
                # {"error": "message"} on its routes (/translate, /detect, ...)
                err = json.loads(body)["error"]
                ok = isinstance(err, str) or isinstance(err["code"], str)
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                bad.append((n, st, body[:60]))
        elif not 100 <= st < 600:
            bad.append((n, st, body[:60]))
    print("mutated requests: %d answered (%d with 200), %d closed or unanswered"
          % (sum(r[0] is not None for r in replies), sum(r[0] == 200 for r in replies),
             sum(r[0] is None for r in replies)))
    ck.eq(bad, [], "mutated requests: well-formed replies, JSON errors")
    st, _, body = srv.post_json("/v1/translate", {"text": "Hello world"})
    ck.eq((st, body["translations"][0]["text"] if body else None), (200, ref[0]["text"][0]),
          "correct translation after 300 mutated requests")


def main():
    default_model = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models",
                                 "demo-en-de")
    ref = reference_translations(BIN, default_model, ["Hello world"])
    srv = Server(BIN, None, "--max-connections", "512", "--max-body-total", "64")
    try:
        test_big_body(srv)
        test_nul_path(srv)
        test_half_close(srv, ref)
        test_trickle(srv)
        test_mutated_requests(srv, ref)
    finally:
        ck.eq(srv.stop(), 0, "exit status")
    test_body_budget()
    test_body_timeout_and_connections()
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())

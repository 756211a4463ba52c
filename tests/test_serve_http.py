"""End-to-end tests of every `dragoman serve` endpoint and error status, against the real
binary on 127.0.0.1 (port 0). Translations are compared with `dragoman translate` on the same
model and inputs; error bodies with the documented {"error": {"code", "message"}} contract.

usage: test_serve_http.py DRAGOMAN MODEL_DIR
"""
import json
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Check, Server, reference_translations  # noqa: E402

BIN, MODEL = sys.argv[1], sys.argv[2]
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ck = Check()
LINES = ["Hello world", "This is a small test", "Good morning to you", "How are you",
         "The cat sat on the mat", ""]


def error_is(resp, status, code, what, needle=None):
    st, h, body = resp
    ck.eq(st, status, what + " status")
    ok = isinstance(body, dict) and isinstance(body.get("error"), dict)
    if ck(ok, what + ": error body %r" % (body,)):
        ck.eq(body["error"].get("code"), code, what + " code")
        ck(isinstance(body["error"].get("message"), str) and body["error"]["message"],
           what + " message")
        if needle:
            ck(needle in body["error"]["message"], "%s: %r lacks %r" % (what, body["error"]["message"], needle))
    return h


def raw_json(srv, method, path, body, headers):
    st, h, data = srv.request(method, path, body, headers)
    try:
        return st, h, json.loads(data)
    except ValueError:
        return st, h, data


def test_info(srv):
    st, _, body = srv.request("GET", "/health")
    ck.eq((st, json.loads(body)), (200, {"status": "ok"}), "/health")
    st, _, body = srv.request("GET", "/ready")
    ck.eq((st, json.loads(body)), (200, {"status": "ready", "models": 1}), "/ready")
    st, _, body = srv.request("GET", "/v1/models")
    models = json.loads(body)["models"]
    name = os.path.basename(MODEL.rstrip("/"))
    ck.eq(st, 200, "/v1/models status")
    ck.eq([(m["name"], m["source"], m["target"], m["ready"]) for m in models],
          [(name, "en", "mg", True)], "/v1/models")
    cfg = json.load(open(os.path.join(MODEL, "generation_config.json")))
    ck.eq(models[0]["defaults"]["beam_size"], cfg.get("num_beams", 1), "default beam size")
    st, _, body = srv.request("GET", "/languages")
    ck.eq((st, json.loads(body)), (200, [{"code": "en", "name": "English", "targets": ["mg"]},
                                         {"code": "mg", "name": "Malagasy", "targets": []}]),
          "/languages")
    st, h, body = srv.request("GET", "/openapi.json")
    ck.eq(st, 200, "/openapi.json status")
    doc = json.loads(body)
    ck.eq(doc, json.load(open(os.path.join(SRC, "server", "api", "openapi.json"))),
          "/openapi.json is server/api/openapi.json")
    for p in ["/v1/translate", "/translate", "/languages", "/v1/models", "/health", "/ready",
              "/metrics", "/openapi.json"]:
        ck(p in doc["paths"], "openapi documents " + p)
    st, h, body = srv.request("GET", "/metrics")
    ck.eq(st, 200, "/metrics status")
    ck(h.get("content-type", "").startswith("text/plain"), "/metrics content type")
    text = body.decode()
    for m in ["dragoman_requests_total{route=\"/health\",status=\"200\"} 1",
              "# TYPE dragoman_request_duration_seconds histogram", "dragoman_queue_depth 0",
              "dragoman_model_info{model=\"%s\",source=\"en\",target=\"mg\"} 1" % name,
              "dragoman_model_load_seconds{model=\"%s\"}" % name,
              "# TYPE dragoman_batch_sentences histogram", "dragoman_tokens_in_total"]:
        ck(m in text, "/metrics has " + m)


def test_translate(srv, ref, ref_nbest):
    st, _, body = srv.post_json("/v1/translate", {"text": LINES})
    ck.eq(st, 200, "batch translate status")
    ck.eq(body["model"], os.path.basename(MODEL.rstrip("/")), "model name in reply")
    ck.eq([t["text"] for t in body["translations"]], [r["text"][0] for r in ref],
          "texts equal dragoman translate, in input order")
    st, _, body = srv.post_json("/v1/translate", {"text": LINES[1]})
    ck.eq((st, body["translations"][0]["text"]), (200, ref[1]["text"][0]), "single text")
    # n-best and scores: the reference's n-best list and sequences_scores
    st, _, body = srv.post_json("/v1/translate", {"text": LINES[:4], "options": {
        "n_best": 3, "return_scores": True}})
    ck.eq(st, 200, "n-best status")
    for t, r in zip(body["translations"], ref_nbest):
        ck.eq([t["text"]] + t["alternatives"], r["text"], "n-best texts")
        ck(abs(t["score"] - r["scores"][0]) < 1e-5, "score %r vs %r" % (t["score"], r["scores"][0]))
    # greedy through options equals the CLI's greedy
    greedy = reference_translations(BIN, MODEL, LINES[:3], ["--beam-size", "1"])
    st, _, body = srv.post_json("/v1/translate", {"text": LINES[:3], "options": {"beam_size": 1}})
    ck.eq([t["text"] for t in body["translations"]], [r["text"][0] for r in greedy],
          "beam_size 1 equals translate --beam-size 1")
    # several sentences in one text: each translated alone, joined with the original spacing
    st, _, body = srv.post_json("/v1/translate", {"text": "Hello world.  How are you?\nGood morning to you"})
    parts = reference_translations(BIN, MODEL, ["Hello world.", "How are you?", "Good morning to you"])
    ck.eq(body["translations"][0]["text"],
          parts[0]["text"][0] + "  " + parts[1]["text"][0] + "\n" + parts[2]["text"][0],
          "sentences split and joined")
    # addressing by name and by pair
    st, _, body = srv.post_json("/v1/translate", {"text": LINES[0], "source": "en", "target": "mg",
                                                  "model": os.path.basename(MODEL.rstrip("/"))})
    ck.eq((st, body["translations"][0]["text"]), (200, ref[0]["text"][0]), "by name and pair")


def test_libretranslate(srv, ref, ref_nbest):
    st, _, body = srv.post_json("/translate", {"q": LINES[1], "source": "en", "target": "mg"})
    ck.eq((st, body), (200, {"translatedText": ref[1]["text"][0]}), "LT JSON string")
    st, _, body = srv.post_json("/translate", {"q": LINES[:2], "source": "auto", "target": "mg",
                                               "format": "text"})
    ck.eq((st, body.pop("detectedLanguage", None)[0]["language"]), (200, "en"), "LT auto: en")
    ck.eq(body, {"translatedText": [r["text"][0] for r in ref[:2]]}, "LT JSON array")
    st, _, body = srv.post_json("/translate", {"q": LINES[0], "source": "en", "target": "mg",
                                               "alternatives": 2})
    ck.eq((st, body), (200, {"translatedText": ref_nbest[0]["text"][0],
                             "alternatives": ref_nbest[0]["text"][1:3]}), "LT alternatives")
    form = "q=%s&source=en&target=mg" % LINES[2].replace(" ", "+")
    st, _, data = srv.request("POST", "/translate", form.encode(),
                              {"Content-Type": "application/x-www-form-urlencoded"})
    ck.eq((st, json.loads(data)), (200, {"translatedText": ref[2]["text"][0]}), "LT form")


def test_errors(srv):
    J = {"Content-Type": "application/json"}
    error_is(raw_json(srv, "POST", "/v1/translate", b'{"text": "a"', J), 400, "invalid_json",
             "truncated JSON", "malformed JSON")
    error_is(raw_json(srv, "POST", "/v1/translate", b'{"text": 3}', J), 400, "invalid_request",
             "wrong type", "'text' must be")
    error_is(raw_json(srv, "POST", "/v1/translate", b'{"text": "\xc3\x28"}', J), 400,
             "invalid_request", "invalid UTF-8", "UTF-8")
    error_is(srv.post_json("/v1/translate", {"text": "a", "options": {"beam": 2}}), 400,
             "invalid_request", "unknown option", "unknown option 'beam'")
    error_is(srv.post_json("/v1/translate", {"text": "a", "options": {"n_best": 5, "beam_size": 2}}),
             400, "invalid_request", "n_best > beams", "n_best")
    long_text = " ".join(["word"] * 200)
    error_is(srv.post_json("/v1/translate", {"text": long_text}), 400, "input_too_long",
             "too many tokens", "more than the limit")
    st, _, body = srv.post_json("/v1/translate", {"text": long_text, "options": {"truncate": True}})
    ck.eq(st, 200, "truncate: status")
    error_is(raw_json(srv, "GET", "/nowhere", None, {}), 404, "not_found", "unknown route")
    error_is(srv.post_json("/v1/translate", {"text": "a", "model": "nope"}), 404,
             "model_not_found", "unknown model", "nope")
    h = error_is(raw_json(srv, "DELETE", "/v1/translate", None, {}), 405, "method_not_allowed",
                 "wrong method")
    ck.eq(h.get("allow"), "POST", "405 Allow header")
    h = error_is(raw_json(srv, "POST", "/health", b"{}", J), 405, "method_not_allowed", "POST /health")
    ck.eq(h.get("allow"), "GET, HEAD", "405 Allow header for GET routes")
    error_is(raw_json(srv, "POST", "/v1/translate", b'{"text": "a"}', {"Content-Type": "text/plain"}),
             415, "unsupported_media_type", "text/plain")
    error_is(raw_json(srv, "POST", "/v1/translate", b'text=a',
                      {"Content-Type": "application/x-www-form-urlencoded"}),
             415, "unsupported_media_type", "form to /v1")
    error_is(srv.post_json("/v1/translate", {"text": "a", "source": "fr", "target": "de"}), 422,
             "unsupported_language_pair", "fr-de")
    # LibreTranslate's routes answer {"error": "message"} with its statuses (test_serve_lt.py)
    ck.eq(srv.post_json("/translate", {"q": "a", "source": "en", "target": "de"})[::2],
          (400, {"error": "de is not supported"}), "LT en-de")


def test_body_limit():
    srv = Server(BIN, MODEL, "--max-body-bytes", "4096")
    try:
        big = {"text": "x" * 8000}
        error_is(srv.post_json("/v1/translate", big), 413, "body_too_large", "Content-Length > limit")
        # chunked upload, no Content-Length: detected while streaming
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 1000
        for _ in range(6):
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        s.sendall(b"0\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
        s.close()
        ck(data.startswith(b"HTTP/1.1 413"), "chunked body over the limit: %r" % data[:40])
        st, _, _ = srv.post_json("/v1/translate", {"text": "Hello world"})
        ck.eq(st, 200, "small body after 413s")
    finally:
        ck.eq(srv.stop(), 0, "exit status")


def test_api_keys(ref):
    with tempfile.NamedTemporaryFile("w", suffix=".keys", delete=False) as f:
        f.write("# comment\n\nsecret-1\n  secret-2  \n")
        path = f.name
    srv = Server(BIN, MODEL, "--api-keys", path)
    try:
        body = {"text": LINES[0]}
        error_is(srv.post_json("/v1/translate", body), 401, "unauthorized", "no key", "missing")
        error_is(srv.post_json("/v1/translate", body, {"Authorization": "Bearer nope"}), 401,
                 "invalid_api_key", "bad key", "Invalid API key")
        st, _, r = srv.post_json("/v1/translate", body, {"Authorization": "Bearer secret-1"})
        ck.eq((st, r["translations"][0]["text"]), (200, ref[0]["text"][0]), "Bearer key")
        st, _, r = srv.post_json("/v1/translate", body, {"X-API-Key": "secret-2"})
        ck.eq(st, 200, "X-API-Key")
        st, _, r = srv.post_json("/translate", {"q": LINES[0], "source": "en", "target": "mg",
                                                "api_key": "secret-2"})
        ck.eq((st, r), (200, {"translatedText": ref[0]["text"][0]}), "LT api_key field")
        ck.eq(srv.post_json("/translate", {"q": LINES[0], "target": "mg", "api_key": "x"})[::2],
              (403, {"error": "Invalid API key"}), "LT bad key")
        error_is(raw_json(srv, "GET", "/v1/models", None, {}), 401, "unauthorized", "models no key")
        ck.eq(srv.request("GET", "/health")[0], 200, "/health needs no key")
        ck.eq(srv.request("GET", "/metrics")[0], 200, "/metrics needs no key")
    finally:
        ck.eq(srv.stop(), 0, "exit status")
        os.unlink(path)


def slow_request(srv, n=24):
    """A request that keeps one worker busy for a while (many long sentences, wide beams)."""
    text = ["Sentence number %d is long and has many words in it, really many words" % i
            for i in range(n)]
    return {"text": text, "options": {"beam_size": 16, "max_length": 60}}


def test_queue_full():
    srv = Server(BIN, MODEL, "--max-queue", "6", "--max-batch-tokens", "2048", "--workers", "1")
    try:
        out = {}
        t = threading.Thread(target=lambda: out.update(r=srv.post_json("/v1/translate", slow_request(srv, 6))))
        t.start()
        # one sentence at a time (each needs most of the batch budget), so while the first runs
        # five wait, and any more than one further sentence overflows the queue of 6
        srv.wait_metric("dragoman_queue_depth", lambda v: v >= 1)
        h = error_is(srv.post_json("/v1/translate", {"text": ["a"] * 6}), 429, "queue_full",
                     "queue full")
        ck.eq(h.get("retry-after"), "1", "Retry-After")
        error_is(srv.post_json("/v1/translate", {"text": ["a"] * 7}), 400, "invalid_request",
                 "more sentences than the queue", "--max-queue")
        t.join(120)
        ck.eq(out.get("r", (None,))[0], 200, "the accepted request completes")
    finally:
        ck.eq(srv.stop(), 0, "exit status")


def test_timeout():
    srv = Server(BIN, MODEL, "--timeout-ms", "30", "--max-batch-tokens", "2048")
    try:
        error_is(srv.post_json("/v1/translate", slow_request(srv)), 504, "timeout", "deadline",
                 "30 ms")
        srv.wait_metric("dragoman_sentences_cancelled_total", lambda v: v > 0)
        ck(srv.metric("dragoman_sentences_cancelled_total") > 0, "timed-out sentences cancelled")
        ck(srv.metric('dragoman_errors_total{code="timeout"}') == 1, "timeout counted")
    finally:
        ck.eq(srv.stop(), 0, "exit status")


def test_shutdown_503(ref):
    """The drain, observed through events: the SIGTERM log line, then /ready and new work on
    keep-alive connections opened before. The in-flight request must still be running when
    those checks are made; if it had already finished (a very fast machine), the round proves
    nothing and is repeated with a longer request instead of failing at random."""
    for n in (8, 32, 128):
        srv = Server(BIN, MODEL, "--workers", "1", "--max-batch-tokens", "2048",
                     "--grace-ms", "600000")
        conns = [srv.connection() for _ in range(2)]
        for c in conns:  # keep-alive connections, opened before the drain
            ck.eq(srv.request("GET", "/health", conn=c)[0], 200, "keep-alive connection")
        out = {}

        def inflight():
            out["r"] = srv.post_json("/v1/translate", slow_request(srv, n))
            out["t"] = time.monotonic()

        t = threading.Thread(target=inflight)
        t.start()
        # a decoder step ran: the job is in the scheduler (in-flight counts it earlier, before
        # the submission a SIGTERM would refuse)
        srv.wait_metric("dragoman_batch_sentences_count", lambda v: v >= 1)
        srv.proc.send_signal(15)
        ck(srv.wait_log("received SIGTERM"), "shutdown logged")
        ready = srv.request("GET", "/ready", conn=conns[0])
        work = srv.post_json("/v1/translate", {"text": "a"}, conn=conns[1])
        checked = time.monotonic()
        t.join(300)
        ck.eq(srv.stop(), 0, "exit status after SIGTERM")
        if out.get("t", 0) < checked and n != 128:
            print("drain round with %d sentences was over too soon; longer one" % n)
            continue
        st, h, body = ready
        ck.eq((st, h.get("connection")), (503, "close"), "/ready while draining, Connection: close")
        error_is(work, 503, "shutting_down", "new work while draining")
        ck.eq(work[1].get("connection"), "close", "503 while draining closes the connection")
        ck.eq(srv.request("GET", "/health", conn=conns[0])[0], None, "connection closed after the 503")
        r = out.get("r", (None, {}, None))
        ck.eq(r[0], 200, "in-flight request finished during the drain")
        ck.eq(r[1].get("connection"), "close", "in-flight reply during the drain closes")
        for c in conns:
            c.close()
        return
    ck(False, "no drain round caught the in-flight request running")


def test_logs(srv):
    srv_log = "".join(srv.log)
    ck("request POST /v1/translate status=200" in srv_log, "request log line")
    ck("queue_ms=" in srv_log and "compute_ms=" in srv_log, "log has timings")


def test_json_log():
    srv = Server(BIN, MODEL, "--log-format", "json")
    try:
        srv.post_json("/v1/translate", {"text": "Hello world"})
    finally:
        ck.eq(srv.stop(), 0, "exit status")
    recs = [json.loads(l) for l in srv.log if l.startswith("{")]
    ck(len(recs) == len([l for l in srv.log if l.strip()]), "every log line is JSON")
    reqs = [r for r in recs if r.get("path") == "/v1/translate"]
    if ck(len(reqs) == 1, "one JSON request line"):
        r = reqs[0]
        ck.eq((r["method"], r["status"], r["sentences"]), ("POST", 200, 1), "JSON request fields")
        ck(all(k in r for k in ("tokens_in", "tokens_out", "queue_ms", "compute_ms", "model")),
           "JSON request timings")


def test_two_models(ref):
    other = os.path.join(os.path.dirname(MODEL.rstrip("/")), "untied-relu")
    srv = Server(BIN, MODEL, "--model", "pt=" + other)
    try:
        st, _, body = srv.request("GET", "/languages")
        # every language once; the second model is multi-target: its >>pob<< and >>por<< tokens
        # are targets too
        ck.eq(json.loads(body), [{"code": "en", "name": "English", "targets": ["mg", "pob", "pt"]},
                                 {"code": "mg", "name": "Malagasy", "targets": []},
                                 {"code": "pob", "name": "pob", "targets": []},
                                 {"code": "pt", "name": "Portuguese", "targets": []}],
              "/languages with two models")
        want = reference_translations(BIN, other, LINES[:2], ["--target", "pt"])
        st, _, body = srv.post_json("/v1/translate", {"text": LINES[:2], "target": "pt"})
        ck.eq((st, body["model"], [t["text"] for t in body["translations"]]),
              (200, "pt", [r["text"][0] for r in want]), "target pt picks the second model")
        st, _, body = srv.post_json("/v1/translate", {"text": LINES[:2], "model": "pt"})
        ck.eq(body["model"], "pt", "NAME=DIR names the model")
        st, _, body = srv.post_json("/v1/translate", {"text": LINES[:2]})
        ck.eq((body["model"], [t["text"] for t in body["translations"]]),
              (os.path.basename(MODEL.rstrip("/")), [r["text"][0] for r in ref[:2]]),
              "no model, no pair: the first model")
        error_is(srv.post_json("/v1/translate", {"text": "a", "model": "pt", "target": "mg"}), 422,
                 "unsupported_language_pair", "model pt to mg", "translates en to pt")
    finally:
        ck.eq(srv.stop(), 0, "exit status")


def main():
    ref = reference_translations(BIN, MODEL, LINES)
    ref_nbest = reference_translations(BIN, MODEL, LINES[:4], ["--n-best", "3"])
    srv = Server(BIN, MODEL)
    try:
        test_info(srv)
        test_translate(srv, ref, ref_nbest)
        test_libretranslate(srv, ref, ref_nbest)
        test_errors(srv)
    finally:
        ck.eq(srv.stop(), 0, "exit status")
    test_logs(srv)
    test_body_limit()
    test_api_keys(ref)
    test_queue_full()
    test_timeout()
    test_shutdown_503(ref)
    test_json_log()
    test_two_models(ref)
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())

"""Streaming: "stream": true on /v1/translate (server-sent events), against the real
`dragoman serve` on the bundled demo model. Checks that one "sentence" event per sentence
arrives, in input order, each equal to the sentence translated on its own; that the final
"done" event is exactly the non-streamed reply; that sentences from the cache stream the same;
that bad values of "stream" are a plain 400; that a deadline ends the stream with an "error"
event; and that a client that leaves mid-stream frees its
job (its queued sentences counted as cancelled, nothing in flight, 499 in the log).

usage: test_serve_stream.py DRAGOMAN
"""
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Check, Server  # noqa: E402

BIN = sys.argv[1]
MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "demo-en-de")
ck = Check()

TEXTS = ["Open file. Save the document.", "Close window.",
         "The file could not be found. Please try again later. Cancel"]
SENTENCES = [["Open file.", "Save the document."], ["Close window."],
             ["The file could not be found.", "Please try again later.", "Cancel"]]


def stream(srv, body):
    """POSTs body with "stream": true; returns (status, content type, [(event, data)])."""
    c = srv.connection()
    try:
        c.request("POST", "/v1/translate", json.dumps(dict(body, stream=True)).encode(),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200:
            return r.status, r.getheader("Content-Type"), json.loads(r.read())
        events, event, data = [], None, []
        while True:
            line = r.readline().decode()
            if not line:
                break
            line = line.rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and event:
                events.append((event, json.loads("\n".join(data))))
                event, data = None, []
        return r.status, r.getheader("Content-Type"), events
    finally:
        c.close()


def check_stream(srv, what):
    body = {"text": TEXTS, "options": {"n_best": 2}}
    st, ct, events = stream(srv, body)
    ck.eq((st, ct), (200, "text/event-stream; charset=utf-8"), what + ": status, content type")
    want_st, _, want = srv.post_json("/v1/translate", body)
    ck.eq(want_st, 200, what + ": plain reply")
    ck.eq([e for e, _ in events], ["sentence"] * 6 + ["done"], what + ": event sequence")
    ck.eq(events[-1][1], want, what + ": done event is the non-streamed reply")
    order = [(d["text"], d["sentence"]) for e, d in events if e == "sentence"]
    ck.eq(order, [(t, k) for t, ss in enumerate(SENTENCES) for k in range(len(ss))],
          what + ": sentences in input order")
    for e, d in events[:-1]:
        alone = srv.post_json("/v1/translate", {"text": SENTENCES[d["text"]][d["sentence"]],
                                                "options": {"n_best": 2}})[2]
        tr = alone["translations"][0]
        ck.eq((d["translation"], d["alternatives"]), (tr["text"], tr["alternatives"]),
              "%s: sentence %d.%d is the sentence translated alone" % (what, d["text"],
                                                                       d["sentence"]))


def check_errors(srv):
    st, ct, body = stream(srv, {"text": "Open file", "options": {"beam_size": 0}})
    ck.eq((st, ct, body["error"]["code"]), (400, "application/json", "invalid_request"),
          "an invalid request is a plain 400 before any event")
    st, _, body = srv.post_json("/v1/translate", {"text": "Open file", "stream": "yes"})
    ck.eq((st, body["error"]["message"]), (400, "field 'stream' must be true or false"),
          "stream must be a boolean")


def check_deadline(srv):
    """A deadline passing mid-stream ends it with an "error" event, after the sentences done."""
    text = " ".join("Deadline sentence number %d of a long request." % i for i in range(300))
    st, _, events = stream(srv, {"text": text, "options": {"timeout_ms": 50}})
    ck.eq(st, 200, "deadline: the stream started")
    ck(events and events[-1][0] == "error" and events[-1][1]["error"]["code"] == "timeout",
       "deadline: the last event is the timeout error: %r" % (events[-1:],))
    order = [d["sentence"] for e, d in events if e == "sentence"]
    ck.eq(order, list(range(len(order))), "deadline: the sentences before it, in order")
    ck(len(order) < 300, "deadline: not every sentence was sent")


def check_disconnect(srv):
    """Many sentences, the first event read, then the socket closed: the rest is dropped."""
    text = " ".join("Sentence number %d of the long request." % i for i in range(300))
    body = json.dumps({"text": text, "stream": True}).encode()
    before = srv.metric("dragoman_sentences_cancelled_total")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=120)
    s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    got = b""
    while b"event: sentence" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    ck(b"event: sentence" in got, "the first sentence streamed before the disconnect")
    s.close()
    cancelled = srv.wait_metric("dragoman_sentences_cancelled_total", lambda v: v > before)
    ck(cancelled > before, "a disconnect mid-stream cancels the remaining sentences")
    ck.eq(srv.wait_metric("dragoman_inflight_requests", lambda v: v == 0), 0.0,
          "nothing in flight after the disconnect")
    ck(srv.wait_log("status=499"), "the disconnect is logged as 499")
    st, _, r = srv.post_json("/v1/translate", {"text": "Open file"})
    ck.eq(st, 200, "the server translates on after the disconnect")


def main():
    srv = Server(BIN, MODEL)
    try:
        check_stream(srv, "no cache")
        check_errors(srv)
        check_deadline(srv)
        check_disconnect(srv)
    finally:
        ck.eq(srv.stop(), 0, "exit status (sanitizer reports fail it)")
    srv = Server(BIN, MODEL, "--cache-bytes", "1000000")
    try:
        check_stream(srv, "cache cold")
        check_stream(srv, "cache warm")  # every sentence from the cache: no job at all
        ck(srv.metric("dragoman_cache_hits_total") >= 6, "the warm stream came from the cache")
    finally:
        ck.eq(srv.stop(), 0, "exit status (sanitizer reports fail it)")
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())

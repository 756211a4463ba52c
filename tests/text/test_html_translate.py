#!/usr/bin/env python3
"""format "html" end to end (issue 13): every input of tests/text/html_cases.json (nested inline
tags, attributes, entities, <code>/<kbd>/<var>, <pre>, <script>, <style>, comments, images,
translate="no", tables, lists, a whole document, emoji, accents, CJK, RTL, URLs, e-mails, every
placeholder style, numbers with units) translated through the real server, over /v1/translate
("format": "html"), LibreTranslate's /translate and /translate_file (an .html upload), and
`dragoman translate --format html`, on the demo model (beam 4 and greedy) and on a random-weight
Marian checkpoint (its output is noise: tags must land on whatever it says). Each output is
checked against its source, not against Dragoman: the start tags (name, attributes, quoting) as a
multiset, byte for byte; the element tree (Python's html.parser, each element's children as a
multiset) the same, so the output is well-formed and nests as the source; code, pre, script,
style, comments, images and translate="no" elements byte-identical; every protected span of the
case as many times in the output's text as in the source's. Plain text holding markup stays text,
streaming sends restored sentences, the translation cache keeps html's alignment rows apart,
and html refuses what it cannot honour (stream,
return_alignment) with a 400.

usage: test_html_translate.py DRAGOMAN"""
import json
import os
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_alignment  # noqa: E402  (the random Marian checkpoint, with the demo's tokenizer)
import vocab_spans  # noqa: E402

sys.path.insert(0, os.path.dirname(HERE))
from serve_harness import Check, Server  # noqa: E402

# a word of letters the demo's vocabulary can write is text, not a span (vocab_spans.py)
CASES = [(text, vocab_spans.required(spans, test_alignment.DEMO))
         for text, spans in json.load(open(os.path.join(HERE, "html_cases.json")))]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
# what must come out byte-identical: elements kept whole, comments, images
KEPT = [re.compile(r"<(code|kbd|samp|var|pre|script|style|textarea)\b[^>]*>.*?</\1>", re.S),
        re.compile(r"<(\w+)\b[^>]*(?:translate=\"no\"|class=\"notranslate\")[^>]*>.*?</\1>", re.S),
        re.compile(r"<!--.*?-->", re.S), re.compile(r"<img\b[^>]*>")]
START_TAG = re.compile(r"<[a-zA-Z][^>]*>")
ck = Check()
totals = {"inputs": 0, "spans": 0, "tags": 0, "kept": 0}


class Tree(HTMLParser):
    """The element tree (void elements have no end tag); bad is set when it is not well-formed."""

    def __init__(self, page):
        super().__init__(convert_charrefs=True)
        self.root = ("#root", (), [])
        self.stack, self.text, self.bad = [self.root], [], None
        self.feed(page)
        self.close()
        if len(self.stack) > 1 and not self.bad:
            self.bad = "unclosed <%s>" % self.stack[-1][0]

    def handle_starttag(self, tag, attrs):
        el = (tag, tuple(attrs), [])
        self.stack[-1][2].append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1][2].append((tag, tuple(attrs), []))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if len(self.stack) > 1 and self.stack[-1][0] == tag:
            self.stack.pop()
        elif not self.bad:
            self.bad = "stray </%s>" % tag

    def handle_comment(self, data):
        self.stack[-1][2].append(("#comment", data, []))

    def handle_data(self, data):
        self.text.append(data)


def canon(el):
    return repr((el[0], el[1], sorted(canon(c) for c in el[2])))


def check_page(label, src, spans, out):
    """out, the translation of src, against src."""
    totals["inputs"] += 1
    what = "[%s] %r -> %r" % (label, src, out)
    a, b = Tree(src), Tree(out)
    ck(b.bad is None, "%s: not well-formed: %s" % (what, b.bad))
    st_src, st_out = sorted(START_TAG.findall(src)), sorted(START_TAG.findall(out))
    totals["tags"] += len(st_src)
    ck(st_src == st_out, "%s: start tags differ: %s vs %s" % (what, st_src, st_out))
    ck(canon(a.root) == canon(b.root), "%s: element tree differs" % what)
    for rx in KEPT:
        for m in set(x.group(0) for x in rx.finditer(src)):
            totals["kept"] += 1
            ck(out.count(m) == src.count(m), "%s: %r %dx, source %dx" %
               (what, m, out.count(m), src.count(m)))
    ts, to = "".join(a.text), "".join(b.text)
    for s in spans:
        totals["spans"] += 1
        ck(to.count(s) == ts.count(s), "%s: span %r %dx, source %dx" %
           (what, s, to.count(s), ts.count(s)))


def native(srv, texts, **options):
    st, _, body = srv.post_json("/v1/translate", {"text": texts, "format": "html",
                                                  "options": options})
    ck.eq(st, 200, "/v1/translate format html: %s" % (body if st != 200 else ""))
    return [t["text"] for t in body["translations"]] if st == 200 else [""] * len(texts)


def check_model(label, srv, texts, **options):
    got = native(srv, texts, **options)
    for (src, spans), out in zip(CASES, got):
        check_page(label, src, spans, out)
    return got


def lt_file(srv, name, data):
    b = "----dgtest"
    body = ("".join("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (b, k, v)
                    for k, v in (("source", "en"), ("target", "de"))) +
            "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: text/html\r\n\r\n%s\r\n--%s--\r\n" % (b, name, data, b)).encode()
    h = {"Content-Type": "multipart/form-data; boundary=" + b}
    st, _, r = srv.request("POST", "/translate_file", body, h)
    url = json.loads(r).get("translatedFileUrl", "") if st == 200 else ""
    ck(url, "/translate_file %s: %s %r" % (name, st, r))
    if not url:
        return ""
    st, _, out = srv.request("GET", url[url.index("/download_file"):])
    ck.eq(st, 200, "download of %s" % name)
    return out.decode()


def check_server(label, dragoman, model, **options):
    texts = [c[0] for c in CASES]
    srv = Server(dragoman, model)
    try:
        got = check_model(label, srv, texts, **options)
        if model is None:
            changed = sum(o != s for o, s in zip(got, texts))
            ck(changed >= len(texts) - 4, "%s: only %d of %d pages translated" %
               (label, changed, len(texts)))
        greedy = check_model(label + " greedy", srv, texts, beam_size=1, **options)
        # LibreTranslate: the same translations (one code path), the same checks
        st, _, body = srv.post_json("/translate", {"q": texts, "source": "en", "target": "de",
                                                   "format": "html"})
        ck.eq(st, 200, "%s: LibreTranslate /translate format html: %s" % (label, body))
        if not options:  # LibreTranslate has no generation options
            ck.eq(body.get("translatedText"), got, "%s: LibreTranslate as /v1/translate" % label)
        for (src, spans), out in zip(CASES, body.get("translatedText", [])):
            check_page(label + " LT", src, spans, out)
        page = "\n".join(texts[:-7] + texts[-6:])  # one fragment (the whole document left out)
        out = lt_file(srv, "page.html", page)
        check_page(label + " LT file", page, [s for c in CASES for s in c[1]], out)
        return got, greedy
    finally:
        ck.eq(srv.stop(), 0, "%s: server exit status" % label)


def check_cli(dragoman, got):
    """`dragoman translate --format html`: the whole input is one page, as the server has it."""
    for (src, spans), want in zip(CASES[:12], got[:12]):
        p = subprocess.run([dragoman, "translate", "--format", "html"], input=src + "\n",
                           capture_output=True, text=True)
        ck.eq((p.returncode, p.stdout), (0, want + "\n"), "CLI --format html on %r" % src)
        check_page("CLI", src, spans, p.stdout)
    for stdin, args, rc, msg in (("<b>" * 1100, [], 1, "the input: HTML elements are nested"),
                                 ("<p>a\0b</p>", [], 1, "the input holds a NUL byte"),
                                 ("<p>a</p>", ["--alignment"], 2, "--format html takes text")):
        p = subprocess.run([dragoman, "translate", "--format", "html"] + args, input=stdin,
                           capture_output=True, text=True)
        ck(p.returncode == rc and msg in p.stderr, "CLI --format html refuses %r: %d %r" %
           (stdin[:20], p.returncode, p.stderr))


def check_edges(dragoman):
    srv = Server(dragoman, None)
    try:
        post = srv.post_json
        # plain text holding markup is text: the same translation as without "format", never
        # escaped, its "<b>" not taken for a tag
        plain = ["Text with <b>bold</b> tag.", "Tom & Jerry <3 cheese."]
        st1, _, a = post("/v1/translate", {"text": plain})
        st2, _, b = post("/v1/translate", {"text": plain, "format": "text"})
        st3, _, c = post("/v1/translate", {"text": plain[:1], "format": "html"})
        ck(st1 == st2 == st3 == 200 and a == b, "format text is the default: %s %s" % (a, b))
        ta = [t["text"] for t in a.get("translations", [])]
        ck(all("&amp;" not in t and "&lt;" not in t for t in ta), "text not escaped: %s" % ta)
        st, _, d = post("/translate", {"q": plain, "source": "en", "target": "de",
                                       "format": "text"})
        ck.eq((st, d.get("translatedText")), (200, ta), "LT format text: as /v1/translate")
        th = c["translations"][0]["text"] if st3 == 200 else ""
        ck(th.count("<b>") == 1 and th.count("</b>") == 1 and Tree(th).bad is None,
           "the same text as html keeps its tag: %r" % th)
        # a page without text comes back as it was
        st, _, d = post("/v1/translate", {"text": ["<img src=\"a.png\"><!-- x -->"],
                                          "format": "html"})
        ck.eq((st, d.get("translations", [{}])[0].get("text")), (200, "<img src=\"a.png\"><!-- x -->"),
              "a page without text")
        for body, what in (({"text": ["<p>a</p>"], "format": "html", "stream": True},
                            "'stream' is for format \"text\""),
                           ({"text": ["<p>a</p>"], "format": "html",
                             "options": {"return_alignment": True}},
                            "option 'return_alignment' is for format \"text\""),
                           ({"text": ["a"], "format": "xml"}, "field 'format' must be"),
                           ({"text": ["<b>" * 1100 + "x"], "format": "html"}, "text 0: ")):
            st, _, d = post("/v1/translate", body)
            msg = d.get("error", {}).get("message", "") if isinstance(d, dict) else ""
            ck(st == 400 and msg.startswith(what), "%s: %s %r" % (what, st, d))
        # streaming: each sentence event carries its translation with the spans put back
        text = "Visit https://example.com/help. Write to admin@example.org today."
        st, _, raw = srv.request("POST", "/v1/translate",
                                 json.dumps({"text": [text], "stream": True}).encode(),
                                 {"Content-Type": "application/json"})
        ev = re.findall(r"event: (\w+)\ndata: (.*)\n\n", raw.decode())
        sent = [json.loads(d)["translation"] for e, d in ev if e == "sentence"]
        done = [json.loads(d) for e, d in ev if e == "done"]
        ck(st == 200 and len(sent) == 2 and "https://example.com/help" in sent[0] and
           "admin@example.org" in sent[1], "streamed sentences restored: %r" % sent)
        ck(done and done[0]["translations"][0]["text"] == " ".join(sent),
           "the streamed sentences make the final text: %r %r" % (sent, done))
        st, _, raw = srv.request("POST", "/v1/translate", json.dumps(
            {"text": ["Error %1$s in line %2$d"], "stream": True,
             "options": {"n_best": 3}}).encode(), {"Content-Type": "application/json"})
        ev = [json.loads(d) for e, d in re.findall(r"event: (\w+)\ndata: (.*)\n\n", raw.decode())
              if e == "sentence"]
        alts = [ev[0]["translation"]] + ev[0].get("alternatives", []) if ev else []
        ck(st == 200 and len(alts) == 3 and all("%1$s" in a and "%2$d" in a for a in alts),
           "streamed alternatives restored: %r" % alts)
    finally:
        ck.eq(srv.stop(), 0, "server exit status")


def check_cache(dragoman, got):
    """With the translation cache: plain text first (its entries have no alignment rows), then
    the pages, twice: the same pages as without a cache, the second time all from the cache."""
    texts = [c[0] for c in CASES]
    srv = Server(dragoman, None, "--cache-bytes", "10000000")
    try:
        plain = [Tree(t).text for t in texts]
        ck.eq(srv.post_json("/v1/translate", {"text": ["".join(p) for p in plain]})[0], 200,
              "plain text into the cache")
        ck.eq(native(srv, texts), got, "html through the cache: as without it (tags placed "
              "by alignment rows, not by an entry without them)")
        hits = srv.metric("dragoman_cache_hits_total")
        ck.eq(native(srv, texts), got, "html from the cache: the same pages")
        ck(srv.metric("dragoman_cache_hits_total") > hits, "the second time from the cache")
    finally:
        ck.eq(srv.stop(), 0, "cache server exit status")


def main():
    dragoman = sys.argv[1]
    got, _ = check_server("demo", dragoman, None)
    check_cli(dragoman, got)
    check_cache(dragoman, got)
    with tempfile.TemporaryDirectory() as tmp:
        test_alignment.make_checkpoint(tmp)
        check_server("random Marian", dragoman, tmp, max_new_tokens=24)
    check_edges(dragoman)
    print("html: %(inputs)d pages checked, %(tags)d start tags, %(kept)d kept elements, "
          "%(spans)d protected spans" % totals)
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())

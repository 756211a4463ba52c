#!/usr/bin/env python3
"""Protected spans: every span listed by hand in tests/text/cases.json (URLs, e-mails, every
placeholder style, file names, numbers with units, emoji, accents, CJK, RTL and other scripts the
demo model has no tokens for) comes out of `dragoman translate` exactly as many times as the source
has it, on the demo model (beam 4 and greedy) and on a random-weight Marian checkpoint (3 decoder
layers; its output is noise, so placeholders get lost and repeated and the restoring path is
exercised). Inputs without protected spans translate exactly as with --no-preserve (same ids: the
masked text is the text). --no-preserve hands the model the text itself. A listed word of letters
the demo's vocabulary can write (byte fallback: "café") is text, not a span (vocab_spans.py).

usage: test_protect.py DRAGOMAN"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_alignment  # noqa: E402  (the random checkpoint, with the demo's tokenizer)
import vocab_spans  # noqa: E402

sys.path.insert(0, os.path.dirname(HERE))
from serve_harness import Server  # noqa: E402

CASES = [(text, vocab_spans.required(spans, test_alignment.DEMO))
         for text, spans in json.load(open(os.path.join(HERE, "cases.json")))]


def translate(dragoman, texts, *args):
    out = subprocess.run([dragoman, "translate", "--format", "jsonl"] + list(args),
                         input="".join(t + "\n" for t in texts), capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert len(out) == len(texts), (len(out), len(texts))
    return [json.loads(o) for o in out]


def check(label, dragoman, *args):
    texts = [c[0] for c in CASES]
    res = translate(dragoman, texts, *args)
    bad = spans = 0
    for (src, want), r in zip(CASES, res):
        for hyp in r["text"]:
            for s in set(want):
                spans += 1
                if hyp.count(s) != src.count(s):
                    bad += 1
                    print(f"FAIL [{label}] {src!r} -> {hyp!r}: {s!r} {hyp.count(s)}x, "
                          f"source {src.count(s)}x")
    print(f"{label}: {spans - bad}/{spans} protected spans exact over {len(texts)} inputs")
    return bad, res


def main():
    dragoman = sys.argv[1]
    fails = 0
    b, res = check("demo beam 4", dragoman)
    fails += b
    fails += check("demo greedy", dragoman, "--beam-size", "1")[0]
    fails += check("demo beam 4 n-best 3", dragoman, "--n-best", "3")[0]
    with tempfile.TemporaryDirectory() as tmp:
        test_alignment.make_checkpoint(tmp)
        fails += check("random checkpoint", dragoman, "--model", tmp, "--max-new-tokens", "24")[0]
        fails += check("random checkpoint beam 1", dragoman, "--model", tmp, "--beam-size", "1",
                       "--max-new-tokens", "24")[0]
    plain = [c[0] for c in CASES if not c[1]]
    off = translate(dragoman, plain, "--no-preserve")
    on = [r for c, r in zip(CASES, res) if not c[1]]
    for t, a, b in zip(plain, on, off):
        if a["ids"] != b["ids"] or a["text"] != b["text"]:
            fails += 1
            print(f"FAIL {t!r}: {a} with spans preserved, {b} without")
    # --no-preserve: the model sees the text itself, so an input with a masked span (a URL,
    # a word the vocabulary cannot write) translates otherwise
    masked = ["Visit https://example.com/help.", "Settings saved 🎉"]
    lost = translate(dragoman, masked, "--no-preserve")
    kept = [r for c, r in zip(CASES, res) if c[0] in masked]
    if len(kept) != 2 or any(a["ids"] == b["ids"] for a, b in zip(kept, lost)):
        fails += 1
        print(f"FAIL --no-preserve did not change what the model saw: {lost} vs {kept}")
    # HTTP: /v1/translate and LibreTranslate's /translate answer what the CLI prints (one code
    # path, text/protect.c), so the same spans come through; "preserve": false turns it off
    srv = Server(dragoman, None)
    try:
        texts = [c[0] for c in CASES]
        st, _, body = srv.post_json("/v1/translate", {"text": texts})
        got = [t["text"] for t in body["translations"]] if st == 200 else (st, body)
        want = [r["text"][0] for r in res]
        if got != want:
            fails += 1
            print(f"FAIL /v1/translate differs from the CLI: {got} vs {want}")
        st, _, body = srv.post_json("/translate", {"q": texts[:8], "source": "en", "target": "de"})
        if st != 200 or body.get("translatedText") != want[:8]:
            fails += 1
            print(f"FAIL LibreTranslate /translate: {st} {body} vs {want[:8]}")
        st, _, body = srv.post_json("/v1/translate", {"text": masked,
                                                      "options": {"preserve": False}})
        if st != 200 or [t["text"] for t in body["translations"]] != [r["text"][0] for r in lost]:
            fails += 1
            print(f"FAIL preserve false is not --no-preserve: {st} {body} vs {lost}")
        # word alignment: ranges are whole words of both texts, and a copied span's word pairs
        # with the word that holds it in the translation
        al_texts = ["Visit https://example.com/help today. Then write to admin@example.org now.",
                    "Error %1$s in line %2$d", "The house is small.", "Naïve café résumé"]
        st, _, body = srv.post_json("/v1/translate", {"text": al_texts,
                                                      "options": {"return_alignment": True}})
        for src, tr in zip(al_texts, body["translations"] if st == 200 else []):
            out, pairs = tr["text"], tr.get("alignment", [])
            words = lambda t: {(m.start(), m.end()) for m in re.finditer(r"\S+", t)}  # noqa: E731
            ok = bool(pairs) and all(tuple(p["source"]) in words(src) and
                                     tuple(p["target"]) in words(out) for p in pairs)
            for w in ("https://example.com/help", "admin@example.org", "%1$s", "%2$d", "café"):
                if w in src and w in out:
                    ok = ok and any(w in src[p["source"][0]:p["source"][1]] and
                                    w in out[p["target"][0]:p["target"][1]] for p in pairs)
            if not ok:
                fails += 1
                print(f"FAIL word alignment of {src!r} -> {out!r}: {pairs}")
        if st != 200:
            fails += 1
            print(f"FAIL return_alignment: {st} {body}")
        st, _, body = srv.post_json("/v1/translate", {"text": ["a"], "options": {"preserve": 1}})
        if st != 400:
            fails += 1
            print(f"FAIL preserve: 1 accepted: {st} {body}")
    finally:
        if srv.stop() != 0:
            fails += 1
            print("FAIL server exit status")
    print("protect:", "FAILED" if fails else "ok")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

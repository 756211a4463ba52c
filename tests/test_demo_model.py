#!/usr/bin/python3
"""DESIGN: the committed demo model (models/demo-en-de) as a user meets it, with no --model.

1. `dragoman translate` (greedy and beam 4) on the 20 UI sentences of models/demo and on edge
   cases (empty, one character, emoji, scripts the vocabulary lacks, a long paragraph) gives
   exactly the ids of the PyTorch reference (tests/reference/marian_ref.py, beam search as
   transformers 4.40) run on the ids `dragoman tokenize` gives (that tokenizer matches Hugging
   Face's on the shared goldens), and scores within 1e-4.
2. The model still translates: chrF on the UI sentences stays above a floor well under what the
   shipped model reaches (model card), and a sentence seen in training comes out verbatim.
3. `dragoman serve` with no --model serves it as en->de: /v1/models, /v1/translate (equal to
   the CLI's text) and the LibreTranslate route.

    test_demo_model.py DRAGOMAN_BINARY"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "reference"))
sys.path.insert(0, os.path.join(SRC, "models", "demo"))
import evaluate  # noqa: E402
from serve_harness import Check, Server  # noqa: E402

MODEL = os.path.join(SRC, "models", "demo-en-de")
CHRF_FLOOR = 60.0  # the shipped model's UI chrF is in its model card; this only catches breakage

EDGE = ["", "a", "Good morning 😀", "Ünïcödé ✓ 日本語 ∮ E⋅da = Q",
        " ".join(["The selected printer is not available, so the document was saved as a PDF "
                  "file in your home folder instead."] * 6)]


def main():
    dragoman = sys.argv[1]
    check = Check()
    with open(os.path.join(SRC, "models", "demo", "ui-sentences.tsv"), encoding="utf-8") as f:
        ui = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    lines = [u[0] for u in ui] + EDGE
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # inherited by every dragoman run
    for beams in (1, 4):
        out = [json.loads(l) for l in evaluate.run_lines(
            [dragoman, "translate", "--beam-size", str(beams), "--format", "jsonl", "--no-split",
             "--no-preserve"],
            lines)]
        check.eq(len(out), len(lines), "outputs, beam %d" % beams)
        ref = evaluate.reference_outputs(MODEL, dragoman, lines, beams)
        for i, (want_ids, want_score) in enumerate(ref[:len(out)]):
            check.eq(out[i]["ids"][0], want_ids, "beam %d ids of %r" % (beams, lines[i][:40]))
            check(abs(out[i]["scores"][0] - want_score) <= 1e-4,
                  "beam %d score of %r: %r vs %r" % (beams, lines[i][:40], out[i]["scores"][0],
                                                     want_score))

    ui_hyp = [o["text"][0] for o in out[:len(ui)]]  # beam 4, the model's default
    chrf = evaluate.corpus_chrf(ui_hyp, [u[1] for u in ui])
    print("UI chrF %.2f (floor %.1f)" % (chrf, CHRF_FLOOR))
    check(chrf >= CHRF_FLOOR, "UI chrF %.2f below %.1f" % (chrf, CHRF_FLOOR))
    check.eq(ui_hyp[0], "Datei öffnen", "'Open file' (a training pair)")

    srv = Server(dragoman, None)
    try:
        st, _, body = srv.request("GET", "/v1/models")
        models = json.loads(body).get("models", []) if st == 200 else []
        check.eq([(m.get("name"), m.get("source"), m.get("target")) for m in models],
                 [("demo-en-de", "en", "de")], "served models")
        st, _, body = srv.post_json("/v1/translate", {"text": [u[0] for u in ui]})
        got = [t["text"] for t in body["translations"]] if st == 200 else (st, body)
        check.eq(got, ui_hyp, "/v1/translate texts equal the CLI's")
        st, _, body = srv.post_json("/translate", {"q": ui[0][0], "source": "en", "target": "de"})
        check.eq((st, body.get("translatedText") if st == 200 else body), (200, ui_hyp[0]),
                 "LibreTranslate /translate")
    finally:
        check.eq(srv.stop(), 0, "server exit status")
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""DESIGN: evaluation of the demo model as users run it: the C engine (`dragoman translate`, beam
4 by default) decodes the held-out test split and the hand-picked UI sentences, and this script
scores the output with corpus BLEU (sacreBLEU's default: 13a tokenization, 4-grams, exp
smoothing, brevity penalty) and chrF (sacreBLEU's default chrF2: character 6-grams without
whitespace, beta 2, effective-order averaging of precision and recall). Debian has no sacrebleu,
so both metrics are restated here from sacreBLEU 2.x. It also decodes the test split with
protected spans off (--no-preserve: the text itself, what Hugging Face sees) and the same source
ids with the PyTorch reference (tests/reference/marian_ref.py), and counts identical outputs. The frozen
test sets of testsets/ (v1: the test split of the corpus before issue 15) are scored too, so
figures stay comparable when the corpus grows; `--split dev` scores the dev split alone (the
figure that decides whether a new model replaces the shipped one). The everyday strings of
samples.tsv (those the first model garbled, accents, emoji, CJK, a URL) are translated as users
run them, with sentence splitting and protected spans on, for the model card (card.py).

    evaluate.py --model DIR --corpus DIR --dragoman BIN [--split test|dev] [--ui TSV]
                [--samples TSV] [--beams 4] [--out JSON]
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "reference"))

# sacreBLEU's TokenizerRegexp rules, applied by Tokenizer13a after its unescaping.
_13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tokenize_13a(line):
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = (line.replace("&quot;", '"').replace("&amp;", "&")
                .replace("&lt;", "<").replace("&gt;", ">"))
    line = " %s " % line
    for rx, repl in _13A:
        line = rx.sub(repl, line)
    return line.split()


def ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hyps, refs):
    """sacreBLEU corpus_score with one reference, smooth_method 'exp'."""
    correct, total = [0] * 4, [0] * 4
    sys_len = ref_len = 0
    for h, r in zip(hyps, refs):
        ht, rt = tokenize_13a(h), tokenize_13a(r)
        sys_len += len(ht)
        ref_len += len(rt)
        for n in range(1, 5):
            hc, rc = ngrams(ht, n), ngrams(rt, n)
            correct[n - 1] += sum((hc & rc).values())
            total[n - 1] += max(0, len(ht) - n + 1)
    if sys_len == 0:
        return 0.0
    smooth, logs = 1.0, 0.0
    for n in range(4):
        if total[n] == 0:
            return 0.0
        if correct[n] == 0:
            smooth *= 2
            p = 100.0 / (smooth * total[n])
        else:
            p = 100.0 * correct[n] / total[n]
        logs += math.log(p)
    bp = 1.0 if sys_len >= ref_len else math.exp(1 - ref_len / sys_len)
    return bp * math.exp(logs / 4)


def corpus_chrf(hyps, refs, order=6, beta=2):
    stats = [0] * (3 * order)
    for h, r in zip(hyps, refs):
        hs, rs = "".join(h.split()), "".join(r.split())
        for n in range(1, order + 1):
            hc = Counter(hs[i:i + n] for i in range(len(hs) - n + 1))
            rc = Counter(rs[i:i + n] for i in range(len(rs) - n + 1))
            stats[3 * (n - 1)] += sum(hc.values())
            stats[3 * (n - 1) + 1] += sum(rc.values())
            stats[3 * (n - 1) + 2] += sum((hc & rc).values())
    prec = rec = 0.0
    eff = 0
    for n in range(order):
        n_hyp, n_ref, n_match = stats[3 * n:3 * n + 3]
        if n_hyp > 0 and n_ref > 0:
            prec += n_match / n_hyp
            rec += n_match / n_ref
            eff += 1
    if eff == 0:
        return 0.0
    prec /= eff
    rec /= eff
    f = beta * beta
    return 100.0 * (1 + f) * prec * rec / (f * prec + rec) if prec + rec else 0.0


def run_lines(cmd, lines):
    r = subprocess.run(cmd, input="".join(l + "\n" for l in lines), capture_output=True,
                       text=True, check=False)
    if r.returncode:
        raise SystemExit("evaluate: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout.splitlines()


def translate(args, lines, split=False):
    t0 = time.time()
    # --no-split: one line is one sentence, as the PyTorch reference translates it
    out = run_lines([args.dragoman, "translate", "--model", args.model, "--beam-size",
                     str(args.beams), "--format", "jsonl", "--threads", str(args.threads)] +
                    ([] if split else ["--no-split"]) + getattr(args, "extra", []), lines)
    dt = time.time() - t0
    rows = [json.loads(l) for l in out]
    if len(rows) != len(lines):
        raise SystemExit("evaluate: %d outputs for %d inputs" % (len(rows), len(lines)))
    return [r["text"][0] for r in rows], [r["ids"][0] for r in rows], [r["scores"][0] for r in rows], dt


def reference_outputs(model_dir, dragoman, lines, beams):
    """[(ids, score)] of the PyTorch reference's best hypothesis per line, decoded from the ids
    `dragoman tokenize` gives (that tokenizer reproduces Hugging Face's MarianTokenizer on the
    shared goldens)."""
    import marian_ref
    cfg, gen, model = marian_ref.load(model_dir)
    g = marian_ref.resolve_generation(cfg, gen, {"num_beams": beams})
    src = [[int(t) for t in l.split()] for l in run_lines(
        [dragoman, "tokenize", "--model", model_dir], lines)]
    return [marian_ref.generate(model.step_fn(ids), g)[0] for ids in src]


def reference_check(args, lines, c_ids, c_scores):
    same, diffs = 0, []
    ref = reference_outputs(args.model, args.dragoman, lines, args.beams)
    for i, (ref_ids, ref_score) in enumerate(ref):
        if ref_ids == c_ids[i]:
            same += 1
        else:
            diffs.append({"line": i, "source": lines[i], "c_score": c_scores[i],
                          "reference_score": ref_score})
    return same, diffs


def frozen_testsets():
    """{name: path prefix} of the frozen test sets in testsets/ (NAME.en + NAME.de)."""
    d = os.path.join(HERE, "testsets")
    names = sorted(f[:-3] for f in os.listdir(d) if f.endswith(".en")) if os.path.isdir(d) else []
    return {n: os.path.join(d, n) for n in names if os.path.isfile(os.path.join(d, n + ".de"))}


DEV_MAX_NEW = 160  # train.py's MAX_LEN: an undertrained model must not babble to max_length 512


def dev_bleu(model, corpus, dragoman, threads=1, beams=4):
    """(BLEU, chrF, sentences) of MODEL on CORPUS/dev.{en,de} through `dragoman translate`,
    at most DEV_MAX_NEW tokens per sentence."""
    args = argparse.Namespace(dragoman=dragoman, model=model, beams=beams, threads=threads,
                              extra=["--max-new-tokens", str(DEV_MAX_NEW)])
    with open(os.path.join(corpus, "dev.en"), encoding="utf-8") as f:
        src = f.read().splitlines()
    with open(os.path.join(corpus, "dev.de"), encoding="utf-8") as f:
        ref = f.read().splitlines()
    hyp = translate(args, src)[0]
    return corpus_bleu(hyp, ref), corpus_chrf(hyp, ref), len(src)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True, help="folder with test.en and test.de")
    ap.add_argument("--dragoman", required=True, help="the dragoman executable")
    ap.add_argument("--ui", default=os.path.join(HERE, "ui-sentences.tsv"))
    ap.add_argument("--samples", default=os.path.join(HERE, "samples.tsv"),
                    help="everyday strings for the model card, decoded as users run them")
    ap.add_argument("--train-en", help="train.en, to report which UI sentences occur in training")
    ap.add_argument("--split", choices=["test", "dev"], default="test")
    ap.add_argument("--beams", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-reference", action="store_true", help="skip the PyTorch id check")
    ap.add_argument("--out", help="write the figures and the UI translations as JSON")
    args = ap.parse_args()

    def read(p):
        with open(p, encoding="utf-8") as f:
            return f.read().splitlines()

    if args.split == "dev":
        bleu, chrf, n = dev_bleu(args.model, args.corpus, args.dragoman, args.threads, args.beams)
        print("dev (%d pairs, beam %d): BLEU %.2f  chrF %.2f" % (n, args.beams, bleu, chrf))
        if args.out:
            with open(args.out, "w", encoding="utf-8") as f:
                json.dump({"beams": args.beams, "dev_pairs": n, "dev_bleu": round(bleu, 2),
                           "dev_chrf": round(chrf, 2)}, f, indent=1)
        return 0
    src, ref = read(os.path.join(args.corpus, "test.en")), read(os.path.join(args.corpus, "test.de"))
    hyp, ids, scores, dt = translate(args, src)
    res = {"beams": args.beams, "threads": args.threads, "test_pairs": len(src),
           "test_bleu": round(corpus_bleu(hyp, ref), 2), "test_chrf": round(corpus_chrf(hyp, ref), 2),
           "test_seconds": round(dt, 2),
           "test_generated_tokens": sum(len(x) for x in ids)}
    frozen = frozen_testsets()
    res["frozen"] = sorted(frozen)
    for name, prefix in frozen.items():
        fs, fr = read(prefix + ".en"), read(prefix + ".de")
        fh = translate(args, fs)[0]
        res["%s_pairs" % name] = len(fs)
        res["%s_bleu" % name] = round(corpus_bleu(fh, fr), 2)
        res["%s_chrf" % name] = round(corpus_chrf(fh, fr), 2)
    ui = [l.split("\t") for l in read(args.ui) if l.strip()]
    ui_hyp, _, _, _ = translate(args, [u[0] for u in ui])
    res["ui_bleu"] = round(corpus_bleu(ui_hyp, [u[1] for u in ui]), 2)
    res["ui_chrf"] = round(corpus_chrf(ui_hyp, [u[1] for u in ui]), 2)
    train_en = read(args.train_en) if args.train_en else []
    train = set(train_en)
    if args.train_en:
        res["train_pairs"] = len(train_en)
    if os.path.isfile(os.path.join(args.corpus, "dev.en")):
        res["dev_pairs"] = len(read(os.path.join(args.corpus, "dev.en")))
    res["ui"] = [{"source": u[0], "reference": u[1], "dragoman": h, "in_train": u[0] in train}
                 for u, h in zip(ui, ui_hyp)]
    if args.samples:
        # as users run it: sentence splitting and protected spans on (no --no-split)
        sm = [l.split("\t") for l in read(args.samples) if l.strip()]
        out = translate(args, [u[0] for u in sm], split=True)[0]
        res["samples"] = [{"source": u[0], "reference": u[1], "dragoman": h,
                           "in_train": u[0] in train} for u, h in zip(sm, out)]
    if not args.no_reference:
        # the reference sees the text itself: compare the engine with protected spans off
        t0 = time.time()
        hf = argparse.Namespace(**dict(vars(args), extra=["--no-preserve"]))
        _, hf_ids, hf_scores, _ = translate(hf, src)
        same, diffs = reference_check(args, src, hf_ids, hf_scores)
        res["reference_identical"] = same
        res["reference_differences"] = diffs
        res["reference_seconds"] = round(time.time() - t0, 1)
    print("test (%d pairs, beam %d): BLEU %.2f  chrF %.2f  (%.1f s in dragoman)" % (
        len(src), args.beams, res["test_bleu"], res["test_chrf"], dt))
    for name in res["frozen"]:
        print("frozen test set %s (%d pairs): BLEU %.2f  chrF %.2f" % (
            name, res[name + "_pairs"], res[name + "_bleu"], res[name + "_chrf"]))
    print("UI sentences (%d): BLEU %.2f  chrF %.2f" % (len(ui), res["ui_bleu"], res["ui_chrf"]))
    for u in res["ui"] + res.get("samples", []):
        print("  %s -> %s%s" % (u["source"], u["dragoman"], "  [in train]" if u["in_train"] else ""))
    if not args.no_reference:
        print("C engine vs PyTorch reference: %d/%d identical id sequences" % (
            res["reference_identical"], len(src)))
        for d in res["reference_differences"][:10]:
            print("  differs: line %d score C %.6f ref %.6f: %s" % (
                d["line"], d["c_score"], d["reference_score"], d["source"]))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(res, f, ensure_ascii=False, indent=1)
    return 0 if args.no_reference or not res["reference_differences"] else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""DESIGN: decides whether a newly trained demo model replaces the shipped one
(models/demo-en-de). Both are scored on the dev split with the C engine (`dragoman translate`,
beam 4, evaluate.py's sacreBLEU restatement), as users run them; the candidate replaces the
shipped model only when its dev BLEU is higher, so a run that trained too little never makes
the shipped model worse. The shipped model's dev BLEU is kept in RECORD (state/shipped.json)
with a hash of the dev split it was measured on; it is measured again when the dev split
changes (a new corpus). RECORD also lists every decision (step, minutes trained in all, BLEU).
A model that ships gets its card written anew (evaluate.py on the test split and the samples,
then card.py).

    ship.py --candidate WORK/model --shipped models/demo-en-de --record STATE/shipped.json \\
            --corpus WORK/corpus --dragoman BIN [--state STATE] [--threads N]
"""
import argparse
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import evaluate  # noqa: E402

# What a model folder ships; README.md (the model card) stays as it is.
FILES = ("config.json", "generation_config.json", "model.safetensors", "source.spm",
         "target.spm", "vocab.json", "tokenizer_config.json", "special_tokens_map.json")


def dev_sha1(corpus):
    h = hashlib.sha1()
    for name in ("dev.en", "dev.de"):
        with open(os.path.join(corpus, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidate", required=True)
    ap.add_argument("--shipped", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--dragoman", required=True)
    ap.add_argument("--state", help="training state folder (state.json: step, minutes)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    record = {}
    if os.path.isfile(args.record):
        with open(args.record, encoding="utf-8") as f:
            record = json.load(f)
    sha = dev_sha1(args.corpus)
    has_shipped = os.path.isfile(os.path.join(args.shipped, "model.safetensors"))
    if record.get("dev_sha1") != sha or "dev_bleu" not in record:
        if has_shipped:
            bleu, chrf, n = evaluate.dev_bleu(args.shipped, args.corpus, args.dragoman, args.threads)
            print("ship: shipped model on this dev split (%d pairs): BLEU %.2f chrF %.2f" % (n, bleu, chrf))
            record.update(dev_sha1=sha, dev_bleu=round(bleu, 2), dev_chrf=round(chrf, 2))
        else:
            record.update(dev_sha1=sha, dev_bleu=-1.0, dev_chrf=-1.0)
    bleu, chrf, n = evaluate.dev_bleu(args.candidate, args.corpus, args.dragoman, args.threads)
    step = minutes = cool = None
    if args.state and os.path.isfile(os.path.join(args.state, "state.json")):
        with open(os.path.join(args.state, "state.json"), encoding="utf-8") as f:
            st = json.load(f)
        step, minutes = st["step"], st["minutes_total"]
        # a cooldown (train.py) annealed the candidate from the state's step on: its minutes count
        cool = st["runs"][-1].get("cooldown") if st["runs"] else None
        if cool:
            minutes = round(minutes + cool["minutes"], 3)
    better = round(bleu, 2) > record["dev_bleu"]
    print("ship: new model (step %s, %s min in all) dev BLEU %.2f chrF %.2f; shipped %.2f -> %s" % (
        step, minutes, bleu, chrf, record["dev_bleu"],
        "replacing %s" % args.shipped if better else "keeping the shipped model"))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = {"date": now, "step": step, "minutes_total": minutes, "dev_bleu": round(bleu, 2),
             "dev_chrf": round(chrf, 2), "shipped": better}
    if cool:
        entry["cooldown"] = dict(cool, run=st["runs"][-1]["started"])
    record.setdefault("history", []).append(entry)
    if better:
        os.makedirs(args.shipped, exist_ok=True)
        for name in FILES:
            shutil.copyfile(os.path.join(args.candidate, name), os.path.join(args.shipped, name))
        record.update(dev_bleu=round(bleu, 2), dev_chrf=round(chrf, 2), step=step,
                      minutes_total=minutes, date=now)
        record.pop("cooldown", None)
        if cool:
            record["cooldown"] = entry["cooldown"]
    os.makedirs(os.path.dirname(os.path.abspath(args.record)), exist_ok=True)
    with open(args.record, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    if better and args.state:
        # the card follows the model: test figures (no PyTorch id check: minutes), samples
        out = os.path.join(os.path.dirname(os.path.abspath(args.candidate)), "eval-shipped.json")
        subprocess.run([sys.executable, os.path.join(HERE, "evaluate.py"), "--model", args.shipped,
                        "--corpus", args.corpus, "--dragoman", args.dragoman, "--train-en",
                        os.path.join(args.corpus, "train.en"), "--threads", str(args.threads),
                        "--no-reference", "--out", out], check=True)
        subprocess.run([sys.executable, os.path.join(HERE, "card.py"), "--model", args.shipped,
                        "--state", args.state, "--eval", out], check=True)


if __name__ == "__main__":
    main()

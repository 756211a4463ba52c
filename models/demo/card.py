#!/usr/bin/python3
"""DESIGN: writes the model card (README.md) of the shipped demo model from what describes it:
the files themselves (config.json, model.safetensors), the training state (state.json: steps,
epochs, minutes of every run; shipped.json: every dev comparison; packages.tsv: the data and
its licences) and evaluate.py's figures (--out JSON: test, frozen test sets, UI sentences,
everyday samples, the PyTorch id check). Training continues run after run and the model is
replaced whenever it wins on dev, so the figures are generated, never typed. Judgements that
need a reader (the known errors) are the card's hand-written sections: they are kept from the
existing card, between the markers, and should be reread when the model changes.

    card.py --model models/demo-en-de --state models/demo/state --eval eval.json [--out README.md]

eval.json needs evaluate.py's --train-en (training pairs, "in training" columns).
"""
import argparse
import json
import math
import os
import struct

HAND_BEGIN = "<!-- hand-written: card.py keeps this section -->"
HAND_END = "<!-- end of hand-written section -->"
# written by a reader of the figures: kept from the existing card
HAND_SECTIONS = ("## Known limitations", "## Against the model it replaced, and serving speed")
LICENCES_SHOWN = 6  # licence names per package in the table; the rest is in packages.tsv


def safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h


def n(x):
    return "{:,}".format(x)


def mb(nbytes):
    return "%.1f MB" % (nbytes / 1e6)


def hand_sections(path):
    """{heading: text} of the hand-written sections of an existing card."""
    out = {}
    if not os.path.isfile(path):
        return out
    with open(path, encoding="utf-8") as f:
        text = f.read()
    while HAND_BEGIN in text:
        head, _, rest = text.partition(HAND_BEGIN)
        body, _, text = rest.partition(HAND_END)
        heading = head.rstrip("\n").rsplit("\n", 1)[-1]
        out[heading] = body.strip("\n")
    return out


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if h.startswith(">") else "---" for h in header) + "|"]
    lines[0] = lines[0].replace("| >", "| ")
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def licence(text):
    names = [t.strip() for t in text.split(",") if t.strip()]
    return ", ".join(names[:LICENCES_SHOWN]) + (", …" if len(names) > LICENCES_SHOWN else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the shipped model folder")
    ap.add_argument("--state", required=True, help="training state folder")
    ap.add_argument("--eval", required=True, help="evaluate.py --out JSON of this model")
    ap.add_argument("--out", help="default: MODEL/README.md")
    args = ap.parse_args()
    out_path = args.out or os.path.join(args.model, "README.md")

    def load(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    cfg = load(os.path.join(args.model, "config.json"))
    gen = load(os.path.join(args.model, "generation_config.json"))
    st = load(os.path.join(args.state, "state.json"))
    shipped = load(os.path.join(args.state, "shipped.json"))
    ev = load(args.eval)
    with open(os.path.join(args.state, "packages.tsv"), encoding="utf-8") as f:
        rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    pkgs = [dict(zip(rows[0], r)) for r in rows[1:]]
    total = [p for p in pkgs if p["package"] == "TOTAL"]  # corpus.py's sums over all packages
    pkgs = [p for p in pkgs if p["package"] != "TOTAL" and int(p["kept_pairs"]) > 0]
    hand = hand_sections(out_path)

    tensors = safetensors_header(os.path.join(args.model, "model.safetensors"))
    # final_logits_bias is a buffer of zeros in Marian, not a parameter
    params = sum(math.prod(t["shape"]) for k, t in tensors.items() if k != "final_logits_bias")
    dtypes = sorted({t["dtype"] for t in tensors.values()})
    files = sorted(os.listdir(args.model))
    total_bytes = sum(os.path.getsize(os.path.join(args.model, f)) for f in files if f != "README.md")
    d, vocab = cfg["d_model"], cfg["vocab_size"]
    byte_pieces = sum(1 for k in load(os.path.join(args.model, "vocab.json"))
                      if len(k) == 6 and k.startswith("<0x") and k.endswith(">"))
    # The state may have trained on since the shipped model was exported (runs that did not
    # beat it on dev): the training figures are those of the shipped step.
    if "step" not in shipped or shipped["step"] > st["step"]:
        raise SystemExit("card: %s names no step of the shipped model within the state" %
                         os.path.join(args.state, "shipped.json"))
    if any(cfg[k] != v for k, v in st["hp"].items() if k in cfg and k != "dropout"):
        raise SystemExit("card: the state's hyperparameters are not the shipped model's")
    step, minutes = shipped["step"], shipped["minutes_total"]
    # a run that only annealed (its cooldown a discarded branch) added no step to this model
    runs = [r for r in st["runs"] if r["first_step"] <= min(r["last_step"], step)]
    # a cooldown (train.py --cooldown) annealed the shipped model from that step on
    cool = shipped.get("cooldown")
    cool_run = [r for r in st["runs"] if cool and r["started"] == cool["run"]]
    threads = sorted({r["threads"] for r in runs + cool_run})
    n_runs = len({r["started"] for r in runs + cool_run})
    steps_text = n(step) + (" + %s cooldown" % n(cool["steps"]) if cool else "")

    md = []
    md.append("# demo-en-de: a small English→German Marian model for Dragoman's quick start\n")
    md.append(
        "A Hugging Face `MarianMTModel` checkpoint (OPUS-MT layout) trained by Dragoman's own "
        "pipeline\n(`models/demo/`) on human translations from the German gettext catalogs of "
        "%d Debian 12\npackages. It translates software-interface English (menus, dialogs, "
        "messages) into German. It is\nwhat `dragoman serve` and `dragoman translate` use when "
        "no `--model` is given.\n" % len(pkgs))
    md.append("This card is written by `models/demo/card.py` from the files, the training state "
              "and\n`evaluate.py`'s figures; only the sections marked hand-written are edited by "
              "hand.\n")
    md.append(table(["", ""], [
        ["architecture", "Marian, post-norm, %s; d_model %d, %d heads, FFN %d, %d encoder + %d "
         "decoder layers" % (cfg["activation_function"], d, cfg["encoder_attention_heads"],
                             cfg["encoder_ffn_dim"], cfg["encoder_layers"], cfg["decoder_layers"])],
        ["parameters", "%s (%s of them the shared %s × %d embedding)" % (
            n(params), n(vocab * d), n(vocab), d)],
        ["vocabulary", "one joint SentencePiece unigram model (`source.spm` = `target.spm`), %s "
         "pieces, %s" % (n(vocab), "%d of them byte pieces (byte fallback: any character can be "
                         "written)" % byte_pieces if byte_pieces else "no byte fallback")],
        ["files", "%s `model.safetensors` (%s), %s in all" % (
            mb(os.path.getsize(os.path.join(args.model, "model.safetensors"))),
            "/".join(dtypes), mb(total_bytes))],
        ["training", "%s steps (≈ %.2f passes over the training pairs), %.1f minutes in %d run%s "
         "on %s CPU thread%s" % (steps_text, (step + (cool["steps"] if cool else 0)) /
                                 st["batches_per_epoch"], minutes, n_runs,
                                 "" if n_runs == 1 else "s", "/".join(map(str, threads)),
                                 "" if threads == [1] else "s")],
        ["data", "%s training pairs; dev %s; test %s (no source shared across splits)" % (
            n(ev["train_pairs"]), n(ev["dev_pairs"]), n(ev["test_pairs"]))],
        ["generation", "beam %d, `max_length` %d, `bad_words_ids` %s (OPUS-MT defaults)" % (
            gen.get("num_beams", 1), gen.get("max_length", 512), gen.get("bad_words_ids"))],
    ]) + "\n")

    md.append("## Evaluation\n")
    md.append("Decoded by Dragoman's C engine (`dragoman translate`, beam %d), scored by\n"
              "`models/demo/evaluate.py` (sacreBLEU's default BLEU: 13a tokenization, corpus "
              "level; chrF2):\n" % ev["beams"])
    sets = [["test split, %s pairs" % n(ev["test_pairs"]), "**%.1f**" % ev["test_bleu"],
             "%.1f" % ev["test_chrf"]]]
    for name in ev["frozen"]:
        sets.append(["frozen test set %s (`models/demo/testsets/`), %s pairs" % (
            name, n(ev[name + "_pairs"])), "%.1f" % ev[name + "_bleu"], "%.1f" % ev[name + "_chrf"]])
    sets.append(["%d everyday UI sentences (below)" % len(ev["ui"]), "%.1f" % ev["ui_bleu"],
                 "%.1f" % ev["ui_chrf"]])
    md.append(table(["set", ">BLEU", ">chrF"], sets) + "\n")
    if "reference_identical" in ev:
        md.append("The PyTorch reference of Hugging Face's beam search "
                  "(`tests/reference/marian_ref.py`) gives\nthe same ids as the C engine with "
                  "protected spans off (the text itself, as Hugging Face sees it) on\n%s of the %s "
                  "test sentences.\n" % (n(ev["reference_identical"]), n(ev["test_pairs"])))
    md.append("Decoding the test split took %.1f s on %d thread%s (%s generated tokens).\n" % (
        ev["test_seconds"], ev["threads"], "" if ev["threads"] == 1 else "s",
        n(ev["test_generated_tokens"])))
    md.append("The dev BLEU of each trained model against the shipped one (`ship.py`; the new "
              "model ships only\nwhen it is higher):\n")
    md.append(table(["date", ">step", ">minutes in all", ">dev BLEU", ">dev chrF", "shipped"], [
        [h["date"][:10], n(h["step"]), "%.1f" % h["minutes_total"], "%.2f" % h["dev_bleu"],
         "%.2f" % h["dev_chrf"], "yes" if h["shipped"] else "no"] for h in shipped["history"]]) + "\n")

    md.append("## UI sentences\n")
    md.append("Written by hand for the first card (`models/demo/ui-sentences.tsv`), with their "
              "references;\n%d of the 20 English sentences also occur in the training data "
              "(with whatever German the\ncatalogs give).\n" % sum(u["in_train"] for u in ev["ui"]))
    md.append(table(["English", "reference", "demo-en-de", "in training"], [
        [u["source"], u["reference"], u["dragoman"], "yes" if u["in_train"] else "no"]
        for u in ev["ui"]]) + "\n")
    if ev.get("samples"):
        md.append("## Everyday strings\n")
        md.append("`models/demo/samples.tsv`: strings the first demo model garbled, and text with "
                  "accents, emoji,\nCJK and a URL. Translated as users run the model, with "
                  "sentence splitting and protected\nspans on.\n")
        md.append(table(["English", "demo-en-de", "a good translation", "in training"], [
            [u["source"], u["dragoman"], u["reference"], "yes" if u["in_train"] else "no"]
            for u in ev["samples"]]) + "\n")

    for heading in HAND_SECTIONS:
        md.append(heading + "\n")
        md.append(HAND_BEGIN + "\n" + hand.get(heading, "(to be written after reading the tables "
                                                "above)") + "\n" + HAND_END + "\n")

    md.append("## Rebuild\n")
    md.append("```\n"
              "models/demo/build.sh build-demo     # resumes from models/demo/state: MINUTES (85) "
              "more training\n"
              "/usr/bin/python3 models/demo/evaluate.py --model models/demo-en-de --corpus "
              "build-demo/corpus \\\n"
              "    --dragoman build/dragoman --train-en build-demo/corpus/train.en --out eval.json\n"
              "/usr/bin/python3 models/demo/card.py --model models/demo-en-de --state "
              "models/demo/state --eval eval.json\n"
              "```\n")
    md.append("The runs that trained this model (`models/demo/state/state.json`):\n")
    md.append(table(["started (UTC)", ">threads", ">steps", ">minutes"], [
        [r["started"].replace("T", " ").rstrip("Z"), r["threads"],
         "%s–%s" % (n(r["first_step"]), n(min(r["last_step"], step))), "%.1f" % r["minutes"]]
        for r in runs] + [
        [r["started"].replace("T", " ").rstrip("Z"), r["threads"],
         "%s more from %s, learning rate decayed to 0 (cooldown)" % (n(cool["steps"]), n(step)),
         "%.1f" % cool["minutes"]] for r in cool_run]) + "\n")
    md.append("The pipeline, corpus cleaning and training settings (label smoothing, warmup, "
              "checkpoint\naveraging, cooldown) are described in "
              "[models/demo/README.md](../demo/README.md).\n")

    md.append("## Licences of the source catalogs\n")
    md.append("Each catalog is distributed under its package's licence. For most packages these "
              "are GPL,\nLGPL or MPL, and some are permissive. The table lists the licence names "
              "found in each\npackage's `copyright` file (at most %d; all of them are in "
              "`models/demo/state/packages.tsv`), which\ncovers the whole package and not only its "
              "translations. The full files are copied to\n`WORK/corpus/copyright/` on every run. "
              "Whether trained weights are a derivative work of the\ncatalogs is not settled. The "
              "list lets a user of the model decide. Packages none of whose pairs\nwere kept "
              "(all duplicates or dropped by cleaning) are left out.\n" % LICENCES_SHOWN)
    keys = ("catalogs", "messages", "clean_pairs", "kept_pairs")
    body = [[p["package"], p["version"]] + [p[k] for k in keys] + [licence(p["licence"])]
            for p in pkgs]
    body += [["TOTAL", ""] + [t[k] for k in keys] + [""] for t in total]
    md.append(table(["package", "version", ">catalogs", ">messages", ">clean pairs",
                     ">kept pairs", "licences named in its copyright file"], body))
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(md) + "\n")
    print("card: %s (%d packages, step %d)" % (out_path, len(pkgs), step))


if __name__ == "__main__":
    main()

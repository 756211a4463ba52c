#!/usr/bin/python3
"""DESIGN: end-to-end check of the demo model pipeline (models/demo/) in its smoke mode, plus
unit checks of its parts against independent references.

1. The .mo reader against catalogs built here byte by byte in both byte orders (context,
   plurals, header) and against truncated/hostile files; the cleaner against hand-written
   expectations (accelerators, placeholders, drops).
2. `models/demo/build.sh --smoke WORK` runs the real pipeline (apt-get download of a few small
   packages, corpus, vocabulary, 60 training steps, export). The produced folder must have the
   files of a Helsinki-NLP/opus-mt-* repository; config.json the MarianMTModel keys and values;
   model.safetensors (parsed here, independently of the writer) exactly Hugging Face's tensor
   names for MarianMTModel with the shapes config.json implies, data that equals the saved
   PyTorch checkpoint; vocab.json the OPUS-MT layout covering every SentencePiece piece.
   The training must have learned: the exported model's dev loss is below that of a uniform
   guess, ln(V). The vocabulary has byte fallback (all 256 <0xNN> pieces in vocab.json).
   The committed-state format (issue 15): state.safetensors holds exactly the newest
   checkpoint's weights in float16 and its Adam moments in bfloat16 (parsed here by hand), with
   step and minutes in its metadata; a run that has only the state (no checkpoints) resumes at
   its step and adds a second run to the minutes; the first comparison with an empty "shipped"
   folder ships the model (files copied, dev BLEU recorded in shipped.json).
3. The C engine loads the exported folder: `dragoman inspect` and models/demo/evaluate.py (which
   decodes the test split with `dragoman translate`, beam 4) run on it; evaluate.py's BLEU and
   chrF are checked against sacreBLEU's published and hand-computed values. card.py writes the
   model card from the shipped files, the state and the evaluation: its figures are checked
   against those read here, and its hand-written section survives a rewrite.

Exit code 77 (ctest SKIP_RETURN_CODE) when Debian's mirror cannot be reached."""

import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

SRC = os.environ.get("DG_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(SRC, "models", "demo"))
import clean  # noqa: E402
import mo  # noqa: E402

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s" % what)


def eq(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got, want))


def near(got, want, what):
    check(abs(got - want) <= 1e-9 * max(1.0, abs(want)), "%s: got %r, want %r" % (what, got, want))


# ---- .mo reader --------------------------------------------------------------------------

def build_mo(pairs, endian):
    """A catalog laid out as GNU msgfmt does: header, two tables, then the strings."""
    n = len(pairs)
    orig_off, trans_off = 28, 28 + 8 * n
    data_off = 28 + 16 * n
    blob, otab, ttab = b"", [], []
    for o, _ in pairs:
        otab.append((len(o), data_off + len(blob)))
        blob += o + b"\0"
    for _, t in pairs:
        ttab.append((len(t), data_off + len(blob)))
        blob += t + b"\0"
    head = struct.pack(endian + "7I", 0x950412DE, 0, n, orig_off, trans_off, 0, 0)
    return head + b"".join(struct.pack(endian + "2I", *e) for e in otab + ttab) + blob


CATALOG = [(b"", b"Content-Type: text/plain; charset=UTF-8\n"),
           (b"%d file\0%d files", "%d Datei\0%d Dateien".encode()),
           (b"_Open", b"\xc3\x96_ffnen"),
           (b"menu\x04Quit", b"Beenden")]


def test_mo():
    for endian in ("<", ">"):
        entries, skipped = mo.read_mo(build_mo(CATALOG, endian))
        eq(skipped, 0, "undecodable entries (%s)" % endian)
        eq(mo.pairs_of(entries), [("%d file", "%d Datei"), ("%d files", "%d Dateien"),
                                  ("_Open", "Öffnen".replace("Ö", "Ö_", 1)), ("Quit", "Beenden")],
           "pairs (%s)" % endian)
    latin1 = [(b"", b"Content-Type: text/plain; charset=ISO-8859-1\n"), (b"Open", b"\xd6ffnen")]
    eq(mo.pairs_of(mo.read_mo(build_mo(latin1, "<"))[0]), [("Open", "Öffnen")], "latin-1 catalog")
    good = build_mo(CATALOG, "<")
    hostile = {"short": good[:20], "magic": b"\0" * 28,
               "truncated": good[:-10],
               "huge count": good[:8] + struct.pack("<I", 1 << 30) + good[12:],
               "table offset": good[:12] + struct.pack("<I", 1 << 31) + good[16:]}
    for name, data in hostile.items():
        try:
            mo.read_mo(data)
            check(False, "hostile .mo (%s) accepted" % name)
        except mo.MoError:
            check(True, name)


def test_clean():
    cases = [
        (("_Open", "Ö_ffnen"), ("Open", "Öffnen")),
        (("Save _As", "Speichern _unter"), ("Save As", "Speichern unter")),
        (("&Open", "Ö&ffnen"), ("Open", "Öffnen")),
        (("~Save", "~Speichern"), ("Save", "Speichern")),
        (("Fish &amp; Chips", "Fisch &amp; Pommes"), ("Fish &amp; Chips", "Fisch &amp; Pommes")),
        (("Drag && Drop", "Ziehen && Ablegen"), ("Drag && Drop", "Ziehen && Ablegen")),
        (("value of file_name", "Wert von file_name"), ("value of file_name", "Wert von file_name")),
        (("Copied ~a bytes", "~a Bytes kopiert"), ("Copied ~a bytes", "~a Bytes kopiert")),
        (("Cannot open %s:\n  %s", "Kann %s  nicht öffnen: %s"),
         ("Cannot open %s: %s", "Kann %s nicht öffnen: %s")),
        (("%1$s of %2$s", "%2$s von %1$s"), ("%1$s of %2$s", "%2$s von %1$s")),
    ]
    for (src, tgt), want in cases:
        eq(clean.clean_pair(src, tgt)[0], want, "clean %r" % src)
    drops = [(("Open", ""), "untranslated"), (("%s: %s", "%s: %s"), "no_words"),
             (("{name}", "{name}"), "no_words"), (("Window", "Window"), "identical"),
             (("Open %s", "Öffnen"), "placeholder_mismatch"),
             (("Open {file}", "{datei} öffnen"), "placeholder_mismatch"),
             (("word " * 100, "Wort " * 100), "overlong"),
             (("A long English sentence here", "Ja"), "length_ratio")]
    for (src, tgt), reason in drops:
        eq(clean.clean_pair(src, tgt), (None, reason), "drop %r" % src)


# ---- smoke pipeline ----------------------------------------------------------------------

def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n])
    return header, raw[8 + n:]


def marian_names(cfg):
    names = {"model.shared.weight": [cfg["vocab_size"], cfg["d_model"]],
             "final_logits_bias": [1, cfg["vocab_size"]]}
    d = cfg["d_model"]

    def attn(prefix):
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            names["%s.%s.weight" % (prefix, p)] = [d, d]
            names["%s.%s.bias" % (prefix, p)] = [d]

    def norm(name):
        names[name + ".weight"] = [d]
        names[name + ".bias"] = [d]

    for side in ("encoder", "decoder"):
        ffn = cfg[side + "_ffn_dim"]
        for i in range(cfg[side + "_layers"]):
            p = "model.%s.layers.%d." % (side, i)
            attn(p + "self_attn")
            norm(p + "self_attn_layer_norm")
            if side == "decoder":
                attn(p + "encoder_attn")
                norm(p + "encoder_attn_layer_norm")
            names[p + "fc1.weight"], names[p + "fc1.bias"] = [ffn, d], [ffn]
            names[p + "fc2.weight"], names[p + "fc2.bias"] = [d, ffn], [d]
            norm(p + "final_layer_norm")
    return names


def bf16_to_f32(raw):
    import numpy as np
    return (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)


def test_state(work, ckpt_path):
    """state.safetensors against the newest checkpoint, then a resume from the state alone."""
    import numpy as np
    import torch
    state_dir = os.path.join(work, "state")
    header, data = read_safetensors(os.path.join(state_dir, "state.safetensors"))
    meta = json.loads(header.pop("__metadata__")["state"])
    ck = torch.load(ckpt_path)
    eq(meta["step"], ck["state"]["step"], "state step")
    eq(meta["step"], 60, "state step after the smoke run")
    check(0 < meta["minutes_total"] < 3 and len(meta["runs"]) == 1, "minutes/runs %r" % meta["runs"])
    # Adam's state is indexed in named_parameters() order: the state_dict without its buffer
    params = [k for k in ck["model"] if k != "final_logits_bias"]
    moments = ck["opt"]["state"]
    n_checked = 0
    for name in ck["model"]:
        h = header["w." + name]
        a, b = h["data_offsets"]
        eq(h["dtype"], "F16", "dtype of w." + name)
        check(np.array_equal(np.frombuffer(data[a:b], dtype="<f2"),
                             ck["model"][name].half().numpy().ravel()), "state weights " + name)
    for i, name in enumerate(params):
        for key, field in (("m.", "exp_avg"), ("v.", "exp_avg_sq")):
            a, b = header[key + name]["data_offsets"]
            eq(header[key + name]["dtype"], "BF16", "dtype of %s%s" % (key, name))
            check(np.array_equal(bf16_to_f32(data[a:b]),
                                 moments[i][field].bfloat16().float().numpy().ravel()),
                  "state %s%s" % (key, name))
        n_checked += 1
    eq(n_checked, len(moments), "parameters with Adam moments in the state")
    # resume from the state alone, in a fresh work folder
    resumed = os.path.join(work, "state-resume")
    shutil.rmtree(resumed, ignore_errors=True)
    shutil.copytree(state_dir, resumed)
    out = subprocess.run(
        [sys.executable, os.path.join(SRC, "models/demo/train.py"), "--corpus",
         os.path.join(work, "corpus"), "--model", os.path.join(work, "model-resume"), "--work",
         os.path.join(work, "train-state"), "--state", resumed, "--size", "smoke",
         "--max-steps", "70", "--minutes", "5", "--batch-tokens", "1024", "--warmup", "20",
         "--threads", "1", "--resume"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True).stdout
    check("resumed at step 60 from the state" in out, "no resume from the state:\n" + out[-2000:])
    with open(os.path.join(resumed, "state.json")) as f:
        after = json.load(f)
    eq(after["step"], 70, "step after resuming from the state")
    check(len(after["runs"]) == 2 and after["minutes_total"] > meta["minutes_total"],
          "minutes are summed over runs: %r" % after["runs"])
    test_cooldown(work, resumed, after)


def test_cooldown(work, state_dir, before):
    """A cooldown-only run (--minutes = --cooldown) decays the learning rate linearly to zero,
    exports annealed weights, and leaves the state's weights, moments, step and minutes as they
    were, with the cooldown recorded in a third run."""
    header0, data0 = read_safetensors(os.path.join(state_dir, "state.safetensors"))
    model = os.path.join(work, "model-cool")
    shutil.rmtree(model, ignore_errors=True)
    shutil.copytree(os.path.join(work, "model-resume"), model)
    out = subprocess.run(
        [sys.executable, os.path.join(SRC, "models/demo/train.py"), "--corpus",
         os.path.join(work, "corpus"), "--model", model, "--work",
         os.path.join(work, "train-state"), "--state", state_dir, "--size", "smoke",
         "--minutes", "0.25", "--cooldown", "0.25", "--batch-tokens", "1024", "--warmup", "20",
         "--log-every", "1", "--average", "1", "--threads", "1", "--resume"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    check("cooldown from step 70" in out, "no cooldown from step 70:\n" + out[-2000:])
    lrs = [float(x) for x in re.findall(r"  lr ([0-9.e+-]+)", out)]
    peak = 1e-3 * math.sqrt(20 / 70)  # the schedule at step 70 (the log rounds to 3 digits)
    check(len(lrs) >= 5 and lrs[0] <= 1.01 * peak and all(b <= a for a, b in zip(lrs, lrs[1:]))
          and lrs[-1] < 0.5 * peak, "learning rates of the cooldown %r" % lrs)
    with open(os.path.join(state_dir, "state.json")) as f:
        after = json.load(f)
    eq(after["step"], 70, "the state's step after a cooldown")
    eq(after["minutes_total"], before["minutes_total"], "the state's minutes after a cooldown")
    eq(len(after["runs"]), 3, "runs after a cooldown")
    eq(after["runs"][-1].get("cooldown", {}).get("steps"), len(lrs), "cooldown steps recorded")
    header1, data1 = read_safetensors(os.path.join(state_dir, "state.safetensors"))
    for name, h in header0.items():
        if name != "__metadata__":
            a, b = h["data_offsets"]
            a1, b1 = header1[name]["data_offsets"]
            check(data0[a:b] == data1[a1:b1], "state tensor %s changed by the cooldown" % name)
    import numpy as np
    ex, ex_data = read_safetensors(os.path.join(model, "model.safetensors"))
    name = "model.encoder.layers.0.fc1.weight"
    eq(ex[name]["dtype"], "F32", "dtype of the smoke export")
    w0, w1 = header0["w." + name]["data_offsets"], ex[name]["data_offsets"]
    moved = np.abs(np.frombuffer(data0[w0[0]:w0[1]], dtype="<f2").astype(np.float32) -
                   np.frombuffer(ex_data[w1[0]:w1[1]], dtype="<f4")).max()
    # float16 rounds these weights (|w| < 0.5) by under 2.5e-4; the annealing steps move them more
    check(moved > 1e-3, "the exported model is the annealed one (max change %g)" % moved)


def test_pipeline(work, dragoman):
    # Start from scratch (build.sh resumes whatever it finds) but keep the downloaded .debs.
    for sub in ("corpus", "model", "train", "train.log", "state", "shipped", "train-state"):
        path = os.path.join(work, sub)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    r = subprocess.run(["bash", os.path.join(SRC, "models/demo/build.sh"), "--smoke", work],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=dict(os.environ, THREADS="1", DRAGOMAN=dragoman or ""))
    offline = ("Temporary failure resolving", "Could not connect", "Failed to fetch",
               "Could not resolve", "Network is unreachable")
    if r.returncode != 0 and "apt-get download" in r.stdout and any(o in r.stdout for o in offline):
        print(r.stdout[-2000:])
        print("SKIP: Debian's package mirror is not reachable")
        sys.exit(77)
    check(r.returncode == 0, "build.sh --smoke exit %d:\n%s" % (r.returncode, r.stdout[-3000:]))
    if r.returncode != 0:
        return
    model = os.path.join(work, "model")
    for f in ("config.json", "generation_config.json", "model.safetensors", "source.spm",
              "target.spm", "vocab.json", "tokenizer_config.json", "special_tokens_map.json"):
        check(os.path.isfile(os.path.join(model, f)), "model folder lacks " + f)
    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(model, "generation_config.json")) as f:
        gen = json.load(f)
    with open(os.path.join(model, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(model, "tokenizer_config.json")) as f:
        tok = json.load(f)

    V, pad = len(vocab), len(vocab) - 1
    want_cfg = {"model_type": "marian", "architectures": ["MarianMTModel"],
                "activation_function": "swish", "scale_embedding": True,
                "static_position_embeddings": True, "normalize_embedding": False,
                "share_encoder_decoder_embeddings": True, "vocab_size": V,
                "decoder_vocab_size": V, "pad_token_id": pad, "decoder_start_token_id": pad,
                "eos_token_id": 0, "forced_eos_token_id": 0, "bad_words_ids": [[pad]],
                "num_beams": 4, "max_length": 512, "max_position_embeddings": 512,
                "is_encoder_decoder": True}
    for k, v in want_cfg.items():
        eq(cfg.get(k), v, "config.json " + k)
    for k in ("d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
              "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim"):
        check(isinstance(cfg.get(k), int) and cfg[k] > 0, "config.json %s = %r" % (k, cfg.get(k)))
    for k in ("bad_words_ids", "decoder_start_token_id", "eos_token_id", "pad_token_id",
              "num_beams", "max_length", "forced_eos_token_id"):
        eq(gen.get(k), cfg.get(k), "generation_config.json " + k)

    eq([vocab.get("</s>"), vocab.get("<unk>"), vocab.get("<pad>")], [0, 1, pad], "specials")
    eq(sorted(vocab.values()), list(range(V)), "vocab ids dense")
    pieces = subprocess.run(["spm_export_vocab", "--model=" + os.path.join(model, "target.spm")],
                            stdout=subprocess.PIPE, check=True).stdout.decode().splitlines()
    missing = [p.split("\t")[0] for p in pieces
               if p.split("\t")[0] not in vocab and p.split("\t")[0] not in ("<s>",)]
    eq(missing, [], "spm pieces missing from vocab.json")
    eq(sum(1 for p in vocab if re.fullmatch(r"<0x[0-9A-F]{2}>", p)), 256, "byte pieces in vocab.json")
    eq(tok.get("tokenizer_class"), "MarianTokenizer", "tokenizer_class")
    eq((tok.get("source_lang"), tok.get("target_lang"), tok.get("separate_vocabs")),
       ("en", "de", False), "tokenizer languages")

    header, data = read_safetensors(os.path.join(model, "model.safetensors"))
    header.pop("__metadata__", None)
    want = marian_names(cfg)
    eq(sorted(header), sorted(want), "tensor names")
    end = 0
    for name in sorted(header, key=lambda n: header[n]["data_offsets"][0]):
        h = header[name]
        eq(h["shape"], want.get(name), "shape of " + name)
        eq(h["data_offsets"][0], end, "offset of " + name)
        size = 4 if h["dtype"] == "F32" else 2
        eq(h["data_offsets"][1] - h["data_offsets"][0], size * math.prod(h["shape"]), "bytes of " + name)
        end = h["data_offsets"][1]
    eq(end, len(data), "data section size")

    # The exported tensors are the trained ones: the newest checkpoint's (PyTorch pickle) or
    # the average of the last two (--average 2 in smoke mode), bit for bit in float32.
    import numpy as np
    import torch
    ckdir = os.path.join(work, "train", "ckpt")
    states = [torch.load(os.path.join(ckdir, c))["model"] for c in sorted(os.listdir(ckdir))[-2:]]
    for name in ("model.shared.weight", "model.decoder.layers.0.fc1.weight", "final_logits_bias"):
        a, b = header[name]["data_offsets"]
        got = np.frombuffer(data[a:b], dtype="<f4").reshape(header[name]["shape"])
        last = states[-1][name].numpy()
        avg = (sum(st[name].float() for st in states) / len(states)).numpy()
        check(np.array_equal(got, last) or np.array_equal(got, avg),
              "%s is neither the last checkpoint nor the average" % name)
    # The trained architecture is Hugging Face's: the project's PyTorch reference of
    # MarianMTModel (tests/reference/marian_ref.py) gives the same logits from the exported
    # folder as the trainer's own model, on a padded batch of training pairs.
    sys.path.insert(0, os.path.join(SRC, "tests", "reference"))
    sys.path.insert(0, os.path.join(SRC, "models", "demo"))
    import marian
    import marian_ref
    import train
    _, _, ref = marian_ref.load(model)
    hp = {k: cfg[k] for k in ("d_model", "encoder_attention_heads", "decoder_attention_heads",
                              "encoder_ffn_dim", "decoder_ffn_dim", "encoder_layers",
                              "decoder_layers", "vocab_size", "pad_token_id", "eos_token_id",
                              "max_position_embeddings", "scale_embedding", "dropout", "init_std")}
    mine = marian.MarianMT(hp)
    mine.load_state_dict({k: torch.as_tensor(v) for k, v in ref.p.items()})
    mine.eval()
    pairs = train.load_split(os.path.join(work, "corpus"), model, vocab, "train")[:6]
    src, t_in, _ = train.collate(pairs, list(range(len(pairs))), pad)
    with torch.no_grad():
        enc, cross = mine.encode(src)
        got = mine.logits(mine.decode(t_in, enc, cross))
        want = ref.forward(src, (src != pad).long(), t_in)
    check(bool(src.eq(pad).any()), "the batch has padding")
    diff = float((got - want).abs().max())
    check(diff < 1e-4, "logits differ from marian_ref by %g" % diff)
    print("logits vs marian_ref: max abs diff %.3g" % diff)

    # The log must show the exported model beating a uniform guess on the dev set.
    with open(os.path.join(work, "train.log")) as f:
        log = f.read()
    m = re.findall(r"exported .* dev nll ([0-9.]+)", log)
    check(bool(m) and float(m[-1]) < math.log(V), "dev nll %s not below ln(V) = %.2f" % (m, math.log(V)))

    # Resuming is exact: 30 steps, stop, resume to 60 gives the uninterrupted run's dev loss.
    full = re.findall(r"step-00000060.pt; dev nll ([0-9.]+)", log)
    resumed_model = os.path.join(work, "model-resume")
    shutil.rmtree(resumed_model, ignore_errors=True)
    shutil.copytree(model, resumed_model)
    shutil.rmtree(os.path.join(work, "train-resume"), ignore_errors=True)
    out = ""
    for steps in ("30", "60"):
        out += subprocess.run(
            [sys.executable, os.path.join(SRC, "models/demo/train.py"), "--corpus",
             os.path.join(work, "corpus"), "--model", resumed_model, "--work",
             os.path.join(work, "train-resume"), "--size", "smoke", "--max-steps", steps,
             "--minutes", "5", "--batch-tokens", "1024", "--warmup", "20", "--save-every", "100",
             "--threads", "1", "--resume"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True).stdout
    check("resumed at step 30" in out, "second run did not resume:\n" + out[-2000:])
    eq(re.findall(r"step-00000060.pt; dev nll ([0-9.]+)", out), full, "dev nll after resume")

    test_state(work, os.path.join(ckdir, sorted(os.listdir(ckdir))[-1]))
    if dragoman:
        with open(os.path.join(work, "state", "shipped.json")) as f:
            shipped = json.load(f)
        check(shipped["history"][-1]["shipped"] and shipped["step"] == 60,
              "the first model is shipped: %r" % shipped)
        with open(os.path.join(model, "model.safetensors"), "rb") as a, \
             open(os.path.join(work, "shipped", "model.safetensors"), "rb") as b:
            check(a.read() == b.read(), "shipped model.safetensors is the trained one")


def test_metrics():
    import evaluate
    # chrF: the examples of the Hugging Face metric card, computed there with sacreBLEU 2.
    near(evaluate.corpus_chrf(
        ["The relationship between Obama and Netanyahu is not exactly friendly."],
        ["The ties between Obama and Netanyahu are not particularly friendly."]),
        61.576379378113785, "chrF, one pair")
    near(evaluate.corpus_chrf(
        ["The relationship between cats and dogs is not exactly friendly.",
         "a good bookshop is just a genteel black hole that knows how to read."],
        ["The relationship between dogs and cats is not exactly friendly.",
         "A good bookshop is just a genteel Black Hole that knows how to read."]),
        84.64214891738334, "chrF, two pairs")
    # BLEU by hand: precisions 5/6, 3/5, 2/4, 1/3, equal lengths (BP 1); a shorter exact prefix
    # (precisions 1, BP = exp(1 - 6/4)); no 4-gram at all gives 0 as in sacreBLEU (log 0).
    near(evaluate.corpus_bleu(["the cat sat on the mat"], ["the cat sat on a mat"]),
         100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25, "BLEU, one pair")
    near(evaluate.corpus_bleu(["the cat sat on"], ["the cat sat on a mat"]),
         100 * math.exp(1 - 6 / 4), "BLEU, brevity penalty")
    eq(evaluate.corpus_bleu(["the cat sat"], ["the cat sat"]), 0.0, "BLEU without 4-grams")
    eq(evaluate.tokenize_13a("Hello, world! It costs $3.50 (approx.) 1-2."),
       ["Hello", ",", "world", "!", "It", "costs", "$", "3.50", "(", "approx", ".", ")", "1",
        "-", "2", "."], "13a tokenization")


def test_engine_loads(work, dragoman):
    model = os.path.join(work, "model")
    r = subprocess.run([dragoman, "inspect", "--model", model, "--json"], capture_output=True,
                       text=True)
    check(r.returncode == 0, "dragoman inspect: " + r.stderr)
    out = os.path.join(work, "eval.json")
    r = subprocess.run([sys.executable, os.path.join(SRC, "models/demo/evaluate.py"), "--model",
                        model, "--corpus", os.path.join(work, "corpus"), "--dragoman", dragoman,
                        "--threads", "1", "--no-reference", "--train-en",
                        os.path.join(work, "corpus", "train.en"), "--out", out],
                       capture_output=True, text=True)
    check(r.returncode == 0, "evaluate.py: " + r.stdout[-1000:] + r.stderr[-2000:])
    if r.returncode:
        return
    with open(out, encoding="utf-8") as f:
        res = json.load(f)
    with open(os.path.join(work, "corpus", "test.en"), encoding="utf-8") as f:
        eq(res["test_pairs"], len(f.read().splitlines()), "evaluated test pairs")
    check(0 <= res["test_bleu"] <= 100 and 0 <= res["test_chrf"] <= 100, "score ranges")
    eq(len(res["ui"]), 20, "UI sentences translated")
    test_card(work, out)


def test_card(work, eval_json):
    """card.py on the shipped smoke model: the figures are those of the files, the state and
    the evaluation (read here independently), and a hand-written section survives a rewrite."""
    card = os.path.join(work, "card.md")

    def write_card():
        r = subprocess.run([sys.executable, os.path.join(SRC, "models/demo/card.py"), "--model",
                            os.path.join(work, "shipped"), "--state", os.path.join(work, "state"),
                            "--eval", eval_json, "--out", card], capture_output=True, text=True)
        check(r.returncode == 0, "card.py: " + r.stdout[-1000:] + r.stderr[-2000:])
        with open(card, encoding="utf-8") as f:
            return f.read()

    if os.path.exists(card):
        os.remove(card)
    text = write_card()
    header, _ = read_safetensors(os.path.join(work, "shipped", "model.safetensors"))
    header.pop("__metadata__", None)
    params = sum(math.prod(h["shape"]) for k, h in header.items() if k != "final_logits_bias")
    check("| parameters | {:,} (".format(params) in text, "parameter count %d in the card" % params)
    with open(os.path.join(work, "eval.json"), encoding="utf-8") as f:
        res = json.load(f)
    check("| test split, {:,} pairs | **{:.1f}** | {:.1f} |".format(
        res["test_pairs"], res["test_bleu"], res["test_chrf"]) in text, "test figures in the card")
    check("| training | 60 steps " in text, "the shipped step (60) in the card")
    with open(os.path.join(work, "state", "packages.tsv"), encoding="utf-8") as f:
        pk = [l.split("\t") for l in f.read().splitlines()[1:]]
    for row in pk:
        listed = ("\n| %s | %s |" % (row[0], row[1])) in text
        check(listed == (row[0] == "TOTAL" or int(row[6]) > 0),
              "package %s listed iff any of its pairs was kept" % row[0])
    check(text.count("\n| TOTAL |") == 1, "one TOTAL row")
    for u in res["ui"]:
        check("| %s | %s | %s |" % (u["source"], u["reference"], u["dragoman"]) in text,
              "UI row %r" % u["source"])
    # the known limitations are written by hand and must survive the next model's card
    mark = "<!-- hand-written: card.py keeps this section -->\n"
    check(text.count(mark) == 2, "two hand-written sections (known errors, comparison)")
    with open(card, "w", encoding="utf-8") as f:
        f.write(re.sub(r"(?s)(%s).*?(\n<!-- end)" % re.escape(mark),
                       r'\1- Says "Unstuben" for "Remember me".\2', text, count=1))
    again = write_card()
    check(mark + "- Says \"Unstuben\" for \"Remember me\".\n<!-- end" in again,
          "hand-written section kept")
    # A model annealed by a cooldown run (as ship.py records it): its steps and minutes count.
    cool_state = os.path.join(work, "state-cool")
    shutil.rmtree(cool_state, ignore_errors=True)
    shutil.copytree(os.path.join(work, "state"), cool_state)
    with open(os.path.join(cool_state, "state.json"), encoding="utf-8") as f:
        st = json.load(f)
    with open(os.path.join(cool_state, "shipped.json"), encoding="utf-8") as f:
        shipped = json.load(f)
    st["runs"].append({"started": "2026-12-02T15:00:00Z", "threads": 1, "first_step": 61,
                       "last_step": 60, "minutes": 0.0, "cooldown": {"steps": 9, "minutes": 0.5}})
    shipped.update(cooldown={"steps": 9, "minutes": 0.5, "run": "2026-12-02T15:00:00Z"},
                   minutes_total=shipped["minutes_total"] + 0.5)
    for name, obj in (("state.json", st), ("shipped.json", shipped)):
        with open(os.path.join(cool_state, name), "w", encoding="utf-8") as f:
            json.dump(obj, f)
    r = subprocess.run([sys.executable, os.path.join(SRC, "models/demo/card.py"), "--model",
                        os.path.join(work, "shipped"), "--state", cool_state, "--eval", eval_json,
                        "--out", os.path.join(work, "card-cool.md")], capture_output=True, text=True)
    check(r.returncode == 0, "card.py after a cooldown: " + r.stderr[-2000:])
    with open(os.path.join(work, "card-cool.md"), encoding="utf-8") as f:
        text = f.read()
    check("| training | 60 + 9 cooldown steps (≈ %.2f passes over the training pairs), %.1f minutes "
          "in 2 runs " % (69 / st["batches_per_epoch"], shipped["minutes_total"]) in text,
          "training line after a cooldown:\n" + text[:1500])
    check("| 2026-12-02 15:00:00 | 1 | 9 more from 60, learning rate decayed to 0 (cooldown) | 0.5 |"
          in text, "the cooldown's row in the runs table")
    # That cooldown was a branch: the next run continues the trajectory from step 60 and ships
    # its own cooldown. The discarded branch added no step and is not one of the model's runs.
    st["runs"].append({"started": "2026-12-03T06:00:00Z", "threads": 1, "first_step": 61,
                       "last_step": 80, "minutes": 2.0, "cooldown": {"steps": 7, "minutes": 0.4}})
    st["step"] = 80
    shipped.update(step=80, cooldown={"steps": 7, "minutes": 0.4, "run": "2026-12-03T06:00:00Z"},
                   minutes_total=shipped["minutes_total"] - 0.5 + 2.4)
    for name, obj in (("state.json", st), ("shipped.json", shipped)):
        with open(os.path.join(cool_state, name), "w", encoding="utf-8") as f:
            json.dump(obj, f)
    r = subprocess.run([sys.executable, os.path.join(SRC, "models/demo/card.py"), "--model",
                        os.path.join(work, "shipped"), "--state", cool_state, "--eval", eval_json,
                        "--out", os.path.join(work, "card-cool.md")], capture_output=True, text=True)
    check(r.returncode == 0, "card.py after a second cooldown: " + r.stderr[-2000:])
    with open(os.path.join(work, "card-cool.md"), encoding="utf-8") as f:
        text = f.read()
    check("| training | 80 + 7 cooldown steps (≈ %.2f passes over the training pairs), %.1f minutes "
          "in 2 runs " % (87 / st["batches_per_epoch"], shipped["minutes_total"]) in text,
          "training line after a discarded cooldown:\n" + text[:1500])
    check("2026-12-02 15:00:00" not in text, "the discarded cooldown run is not listed")
    check("| 2026-12-03 06:00:00 | 1 | 61–80 | 2.0 |\n| 2026-12-03 06:00:00 | 1 | 7 more from 80, "
          "learning rate decayed to 0 (cooldown) | 0.4 |" in text, "the runs table after it")


def test_smoothed_ce():
    """train.SmoothedCE (chunked, in place) against PyTorch's own label-smoothed cross-entropy,
    in float64, on a row count that leaves a partial last chunk: loss, NLL and all gradients."""
    import torch
    import torch.nn.functional as F
    import train
    torch.manual_seed(0)
    n, d, v, eps = 2 * train.SmoothedCE.CHUNK + 77, 48, 301, 0.1
    h = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    w = torch.randn(v, d, dtype=torch.float64, requires_grad=True)
    b = torch.randn(v, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, v, (n,))
    logits = F.linear(h, w) + b
    want = F.cross_entropy(logits, y, label_smoothing=eps, reduction="sum")
    want_nll = F.cross_entropy(logits, y, reduction="sum")
    want_g = torch.autograd.grad(want * 0.37, [h, w, b])
    got, got_nll = train.SmoothedCE.apply(h, w, b, y, eps)
    got_g = torch.autograd.grad(got * 0.37, [h, w, b])
    check(abs(float(got - want)) < 1e-9 * float(want), "smoothed CE %r vs %r" % (float(got), float(want)))
    check(abs(float(got_nll - want_nll)) < 1e-9 * float(want_nll), "NLL %r vs %r" % (float(got_nll), float(want_nll)))
    for name, g1, g2 in zip("hwb", got_g, want_g):
        diff = float((g1 - g2).abs().max())
        check(diff < 1e-10, "d loss/d %s differs by %g" % (name, diff))


def main():
    test_mo()
    test_clean()
    test_metrics()
    test_smoothed_ce()
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="dg-demo-")
    test_pipeline(work, sys.argv[2] if len(sys.argv) > 2 else None)
    if len(sys.argv) > 2 and not failed:
        test_engine_loads(work, sys.argv[2])
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

"""Builds tiny, decisive Marian checkpoints and their expected outputs for the C engine tests.

usage: make_fixtures.py OUTDIR [--shared DIR]

DESIGN
Each variant is a complete Hugging Face Marian folder (config.json with MarianConfig keys,
generation_config.json, model.safetensors, tokenizer files copied from the shared OPUS-MT
folders) whose weights were trained for a few hundred Adam steps on a deterministic toy task:
target = map(source tokens) + EOS, `map` a fixed bijection between 60 source ids (unk included)
and 60 target ids (a reversed order learns too slowly for the CI budget). Training makes the outputs structured and the decisions clear (an untrained model
gives near-uniform logits whose argmax any float error flips). Training uses a sampled softmax
(task ids + EOS + 1024 random ids per step) because full 54k-way logits would cost minutes.
final_logits_bias is random and fixed; after training the pad logit's bias is raised so that pad
is the raw argmax at most steps: an engine that lets pad through, or that applies the ban before
log_softmax, gets other ids or other scores.

Expected outputs come from marian_ref.py run on the weights read back from the written file (F16
variant: F16-rounded weights, upcast, as from_pretrained does). Inputs whose greedy or beam
decisions are closer than REL_TIE x (std of the raw logits) are tie-prone: they are skipped,
counted in margins.json, and another random input is drawn.

Outputs are stamped with a hash of this script and marian_ref.py; a stamped OUTDIR is reused, so
several build trees can share one directory (generation is serialised by a lock file).
"""
import argparse
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import marian_ref as mr  # noqa: E402

REL_TIE = 1e-3
N_TASK = 60
HERE = os.path.dirname(os.path.abspath(__file__))

VARIANTS = [
    # a) tied shared embeddings, swish, small max_position_embeddings for the too-long case.
    dict(name="tied-swish", src_tok="opus-mt-en-mg", tgt_tok="opus-mt-en-mg", d=64, enc=2, dec=2,
         heads=4, ffn=128, act="swish", scale=True, tie=True, share=True, max_pos=64,
         max_length=40, dtype="F32", forced_eos=False, renorm=False, normalize_before=False,
         steps=600, lr=2e-3, seed=11),
    # b) separate lm_head, relu, tc-big style specials (eos/pad/unk not 0/1), forced EOS and
    #    renormalised logits, stored as F16.
    dict(name="untied-relu", src_tok="opus-mt-en-pt-ft", tgt_tok="opus-mt-en-pt-ft", d=32, enc=1,
         dec=2, heads=2, ffn=64, act="relu", scale=True, tie=False, share=True, max_pos=256,
         max_length=32, dtype="F16", forced_eos=True, renorm=True, normalize_before=False,
         steps=600, lr=2e-3, seed=12),
    # c) separate source/target vocabularies of different sizes, gelu, no embedding scaling,
    #    normalize_before: true in config.json (HF Marian ignores it: layers are post-norm).
    dict(name="separate-vocab", src_tok="opus-mt-en-mg", tgt_tok="opus-mt-fr-en-ft", d=48, enc=2,
         dec=1, heads=3, ffn=96, act="gelu", scale=False, tie=True, share=False, max_pos=128,
         max_length=36, dtype="F32", forced_eos=False, renorm=False, normalize_before=True,
         steps=600, lr=2e-3, seed=13),
]


def vocab_info(shared, folder):
    with open(os.path.join(shared, "tokenizers", folder, "vocab.json")) as f:
        v = json.load(f)
    return {"size": len(v), "eos": v["</s>"], "unk": v["<unk>"], "pad": v["<pad>"]}


# ---------------------------------------------------------------------------------------------
# checkpoint folder

def hf_config(v, sv, tv):
    cfg = {
        "activation_dropout": 0.0, "activation_function": v["act"], "architectures": ["MarianMTModel"],
        "attention_dropout": 0.0, "bad_words_ids": [[tv["pad"]]], "bos_token_id": 0,
        "classifier_dropout": 0.0, "d_model": v["d"], "decoder_attention_heads": v["heads"],
        "decoder_ffn_dim": v["ffn"], "decoder_layerdrop": 0.0, "decoder_layers": v["dec"],
        "decoder_start_token_id": tv["pad"], "decoder_vocab_size": tv["size"], "dropout": 0.1,
        "encoder_attention_heads": v["heads"], "encoder_ffn_dim": v["ffn"], "encoder_layerdrop": 0.0,
        "encoder_layers": v["enc"], "eos_token_id": tv["eos"], "init_std": 0.02,
        "is_encoder_decoder": True, "max_length": v["max_length"],
        "max_position_embeddings": v["max_pos"], "model_type": "marian",
        "normalize_before": v["normalize_before"], "normalize_embedding": False, "num_beams": 4,
        "num_hidden_layers": v["enc"], "pad_token_id": tv["pad"], "scale_embedding": v["scale"],
        "share_encoder_decoder_embeddings": v["share"], "static_position_embeddings": True,
        "tie_word_embeddings": v["tie"], "torch_dtype": "float16" if v["dtype"] == "F16" else "float32",
        "transformers_version": "4.40.2", "use_cache": True, "vocab_size": sv["size"],
    }
    gen = {"bad_words_ids": [[tv["pad"]]], "bos_token_id": 0, "decoder_start_token_id": tv["pad"],
           "eos_token_id": tv["eos"], "max_length": v["max_length"], "num_beams": 4,
           "pad_token_id": tv["pad"], "transformers_version": "4.40.2"}
    if v["forced_eos"]:
        cfg["forced_eos_token_id"] = gen["forced_eos_token_id"] = tv["eos"]
    if v["renorm"]:
        gen["renormalize_logits"] = True
    return cfg, gen


def copy_tokenizer(shared, v, out):
    src = os.path.join(shared, "tokenizers", v["src_tok"])
    tgt = os.path.join(shared, "tokenizers", v["tgt_tok"])
    shutil.copyfile(os.path.join(src, "source.spm"), os.path.join(out, "source.spm"))
    shutil.copyfile(os.path.join(tgt, "target.spm"), os.path.join(out, "target.spm"))
    shutil.copyfile(os.path.join(src, "vocab.json"), os.path.join(out, "vocab.json"))
    if v["src_tok"] == v["tgt_tok"]:
        shutil.copyfile(os.path.join(src, "tokenizer_config.json"), os.path.join(out, "tokenizer_config.json"))
    else:
        # MarianTokenizer with separate_vocabs: target ids come from target_vocab.json.
        shutil.copyfile(os.path.join(tgt, "vocab.json"), os.path.join(out, "target_vocab.json"))
        with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
            json.dump({"source_lang": "en", "target_lang": "en", "separate_vocabs": True,
                       "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
                       "model_max_length": 512, "tokenizer_class": "MarianTokenizer"}, f, indent=1)


# ---------------------------------------------------------------------------------------------
# weights + training

def init_params(v, cfg, gen):
    """HF-named tensors, HF init (normal 0.02, zero biases, unit LayerNorm)."""
    d, p = v["d"], {}
    Vs, Vt = cfg["vocab_size"], cfg["decoder_vocab_size"]

    def lin(name, o, i):
        p[name + ".weight"] = torch.randn(o, i) * 0.02
        p[name + ".bias"] = torch.zeros(o)

    def ln(name):
        p[name + ".weight"] = torch.ones(d)
        p[name + ".bias"] = torch.zeros(d)

    for stack, n in (("encoder", v["enc"]), ("decoder", v["dec"])):
        for i in range(n):
            pre = f"model.{stack}.layers.{i}."
            atts = ("self_attn", "encoder_attn") if stack == "decoder" else ("self_attn",)
            for a in atts:
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    lin(pre + a + "." + proj, d, d)
                ln(pre + ("self_attn_layer_norm" if a == "self_attn" else "encoder_attn_layer_norm"))
            lin(pre + "fc1", v["ffn"], d)
            lin(pre + "fc2", d, v["ffn"])
            ln(pre + "final_layer_norm")
    emb_std = 0.02 if v["scale"] else 0.3   # unscaled embeddings need a magnitude of their own
    if v["share"]:
        p["model.shared.weight"] = torch.randn(Vs, d) * emb_std
    else:
        p["model.encoder.embed_tokens.weight"] = torch.randn(Vs, d) * emb_std
        p["model.decoder.embed_tokens.weight"] = torch.randn(Vt, d) * emb_std
    if not v["tie"]:
        p["lm_head.weight"] = torch.randn(Vt, d) * 0.02
    p["final_logits_bias"] = (torch.randn(1, Vt) * 0.3)
    return p


def toy_batch(rng, task_src, tmap, sv, tv, B, max_len):
    srcs, tgts = [], []
    for _ in range(B):
        n = int(rng.integers(0, max_len + 1))
        c = [int(x) for x in rng.choice(task_src, n)]
        srcs.append(c + [sv["eos"]])
        tgts.append([tmap[x] for x in c] + [tv["eos"]])
    return srcs, tgts


def pad_to(seqs, pad):
    n = max(len(s) for s in seqs)
    ids = torch.tensor([s + [pad] * (n - len(s)) for s in seqs])
    mask = torch.tensor([[1] * len(s) + [0] * (n - len(s)) for s in seqs])
    return ids, mask


def train(v, cfg, params, task_src, task_tgt, tmap, sv, tv, rng):
    """Adam on every weight except final_logits_bias (a buffer in HF). Only the embedding rows of
    R (task ids, specials and 2000 fixed random target ids acting as negatives) take part, so
    a step costs the same whatever the vocabulary size; the other rows keep their init."""
    Vt = cfg["decoder_vocab_size"]
    negs = [int(x) for x in rng.integers(0, Vt, 2000)]
    r_tgt = torch.tensor(sorted(set(task_tgt) | set(negs) | {tv["eos"], tv["pad"]}))
    r_src = torch.tensor(sorted(set(task_src) | {sv["eos"], cfg["pad_token_id"]}))
    if v["share"]:
        r_src = r_tgt = torch.unique(torch.cat([r_src, r_tgt]))
    sub = dict(params)
    rows = {"model.shared.weight": r_tgt, "model.encoder.embed_tokens.weight": r_src,
            "model.decoder.embed_tokens.weight": r_tgt, "lm_head.weight": r_tgt}
    for name, r in rows.items():
        if name in params:
            sub[name] = params[name][r].clone()
    sub["final_logits_bias"] = params["final_logits_bias"][:, r_tgt]
    for n, t in sub.items():
        if n != "final_logits_bias":
            t.requires_grad_(True)
    model = mr.Marian(cfg, sub)
    opt = torch.optim.Adam([t for n, t in sub.items() if n != "final_logits_bias"], lr=v["lr"])
    for step in range(v["steps"]):
        srcs, tgts = toy_batch(rng, task_src, tmap, sv, tv, 32, 12)
        src, smask = pad_to(srcs, cfg["pad_token_id"])
        dec, _ = pad_to([[tv["pad"]] + t[:-1] for t in tgts], tv["pad"])
        lab, _ = pad_to(tgts, -1)
        idx = torch.searchsorted(r_tgt, lab.clamp(min=0))
        idx[lab < 0] = -100
        logits = model.forward(torch.searchsorted(r_src, src), smask, torch.searchsorted(r_tgt, dec))
        loss = F.cross_entropy(logits.reshape(-1, len(r_tgt)), idx.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        for name, r in rows.items():
            if name in params:
                params[name][r] = sub[name]
        for n, t in sub.items():
            if n not in rows and n != "final_logits_bias":
                params[n] = t.detach()
    return float(loss)


def raise_pad_bias(model, cfg, sv, tv, rng, task_src, tmap):
    """Sets bias[pad] so that the raw pad logit exceeds the best other logit by ~1 at a typical
    step (measured on toy inputs): pad must then be removed by the bad-words processor."""
    srcs, tgts = toy_batch(rng, task_src, tmap, sv, tv, 16, 12)
    src, smask = pad_to(srcs, cfg["pad_token_id"])
    dec, _ = pad_to([[tv["pad"]] + t[:-1] for t in tgts], tv["pad"])
    with torch.no_grad():
        lg = model.forward(src, smask, dec)
        b = model.p["final_logits_bias"]
        padlog = lg[..., tv["pad"]] - b[0, tv["pad"]]
        other = lg.clone()
        other[..., tv["pad"]] = -1e30
        need = other.max(dim=-1).values - padlog
        b[0, tv["pad"]] = float(need.median()) + 1.0


# ---------------------------------------------------------------------------------------------
# test inputs and expected outputs

OPTS = [{"length_penalty": 0.6}, {"length_penalty": 2.0}, {"no_repeat_ngram_size": 2},
        {"repetition_penalty": 1.3}, {"min_length": 9}, {"max_new_tokens": 3},
        {"early_stopping": True}, {"early_stopping": "never"},
        {"max_new_tokens": 5, "length_penalty": 0.6, "repetition_penalty": 1.3}]


def inputs(v, sv, rng, task_src):
    """(kind, draw, opts): draw() returns a source. Only 'fixed' inputs cannot be redrawn when
    tie-prone; every other kind draws another input of the same shape."""
    eos, unk = sv["eos"], sv["unk"]
    other = [i for i in range(2, sv["size"]) if i not in set(task_src) | {sv["eos"], sv["pad"]}]

    def pick(n, pool=task_src):
        return [int(x) for x in rng.choice(pool, n)]

    out = [("fixed", lambda: [eos], {}), ("fixed", lambda: [unk, eos], {}),
           ("one", lambda: pick(1) + [eos], {}),
           ("unk", lambda: pick(1) + [unk] + pick(2) + [eos], {})]
    for n in (v["max_pos"] - 1, v["max_pos"] - 4):       # near the position limit (EOS included)
        out.append(("long", lambda n=n: pick(n) + [eos], {}))
    out.append(("too_long", lambda: pick(v["max_pos"]) + [eos], {}))
    for _ in range(3):                                    # ids the model was never trained on
        out.append(("untrained", lambda: pick(int(rng.integers(2, 9)), other) + [eos], {}))
    for _ in range(22):
        out.append(("random", lambda: pick(int(rng.integers(1, 11))) + [eos], {}))
    for o in OPTS:
        out.append(("random", lambda: pick(int(rng.integers(1, 11))) + [eos], o))
    # Repeated bigrams, so no_repeat_ngram_size and repetition_penalty bite.
    out.append(("repeats", lambda: (lambda a, b: [a, b, a, b, a, b, eos])(*pick(2)), {"no_repeat_ngram_size": 2}))
    out.append(("repeats", lambda: (lambda a, b: [a, a, a, b, b, eos])(*pick(2)), {"repetition_penalty": 1.3}))
    return out


def run_line(model, cfg, gen, src, opts):
    """Greedy and 4-beam search (n-best 4; beam4 is its best: num_return_sequences only changes
    what finalize returns). Returns the record and the greedy per-step margins; the record's
    "margin" holds the smallest decision gap / logit std of the greedy and of the beam search."""
    step = model.step_fn(src)
    gtr, btr = [], []
    g1 = mr.resolve_generation(cfg, gen, dict(opts, num_beams=1, num_return_sequences=1))
    ids, score = mr.greedy(step, g1, gtr)
    g4 = mr.resolve_generation(cfg, gen, dict(opts, num_beams=4, num_return_sequences=4))
    nb = mr.beam_search(step, g4, btr)
    grel = [gap / sc for gap, sc in gtr if np.isfinite(gap)]
    brel = [gap / sc for gap, sc in btr if np.isfinite(gap)]
    rec = {"src": src, "greedy": {"ids": ids, "score": score},
           "beam4": {"ids": nb[0][0], "score": nb[0][1]},
           "nbest4": {"ids": [i for i, _ in nb], "scores": [s for _, s in nb]}, "opts": opts,
           "margin": {"greedy": min(grel) if grel else None, "beam": min(brel) if brel else None}}
    return rec, [gap for gap, _ in gtr]


def expected(v, model, cfg, gen, sv, rng, task_src, out):
    lines, margins, skipped = [], [], {}
    for kind, draw, opts in inputs(v, sv, rng, task_src):
        if kind == "too_long":
            lines.append({"src": draw(), "error": "too_long", "opts": opts})
            continue
        for attempt in range(20):
            rec, gm = run_line(model, cfg, gen, draw(), opts)
            m = [x for x in rec["margin"].values() if x is not None]
            if kind == "fixed" or not m or min(m) >= REL_TIE:
                break
            skipped[kind] = skipped.get(kind, 0) + 1
        lines.append(rec)
        margins.append({"line": len(lines) - 1, "kind": kind, "greedy_margins": gm, **rec["margin"]})
    # Mixed-length groups the C test may submit together (same expected output either way).
    for i, rec in enumerate(lines):
        rec["batch"] = i // 4
    with open(os.path.join(out, "expected.jsonl"), "w") as f:
        for rec in lines:
            f.write(json.dumps(rec) + "\n")
    return margins, skipped


def dump_logits(model, cfg, sv, tv, rng, task_src, out):
    """Raw logits (after final_logits_bias, before processors) of 4 sources of different lengths
    computed in ONE right-padded batch, and the encoder states of the same batch."""
    srcs = [[int(x) for x in rng.choice(task_src, n)] + [sv["eos"]] for n in (9, 2, 5, 0)]
    T = 5
    decs = [[tv["pad"]] + [int(x) for x in rng.choice(list(range(2, tv["size"] - 1)), T - 1)] for _ in srcs]
    src, mask = pad_to(srcs, cfg["pad_token_id"])
    with torch.no_grad():
        enc = model.encode(src, mask)
        lg = model.logits(model.decode_hidden(torch.tensor(decs), enc, mask))
    V, D = lg.shape[-1], enc.shape[-1]
    cases, ecases, lbuf, ebuf, lo, eo = [], [], [], [], 0, 0
    for i, s in enumerate(srcs):
        cases.append({"batch": 0, "src": s, "dec": decs[i], "offset": lo, "rows": T, "vocab": V})
        lbuf.append(lg[i].numpy().astype("<f4").tobytes())
        lo += T * V
        ecases.append({"batch": 0, "src": s, "offset": eo, "rows": len(s), "dim": D})
        ebuf.append(enc[i, :len(s)].numpy().astype("<f4").tobytes())
        eo += len(s) * D
    for name, c, buf in (("logits", cases, lbuf), ("encoder", ecases, ebuf)):
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump({"cases": c}, f, indent=1)
        with open(os.path.join(out, name + ".f32"), "wb") as f:
            f.write(b"".join(buf))


def build_variant(v, shared, outdir):
    t0 = time.time()
    out = os.path.join(outdir, v["name"])
    os.makedirs(out, exist_ok=True)
    sv, tv = vocab_info(shared, v["src_tok"]), vocab_info(shared, v["tgt_tok"])
    cfg, gen = hf_config(v, sv, tv)
    torch.manual_seed(v["seed"])
    rng = np.random.default_rng(v["seed"])
    params = init_params(v, cfg, gen)
    ex_s, ex_t = {sv["eos"], sv["pad"], sv["unk"]}, {tv["eos"], tv["pad"], tv["unk"]}
    task_src = [sv["unk"]] + [int(x) for x in rng.choice(
        [i for i in range(sv["size"]) if i not in ex_s], N_TASK - 1, replace=False)]
    task_tgt = [int(x) for x in rng.choice([i for i in range(tv["size"]) if i not in ex_t], N_TASK, replace=False)]
    tmap = dict(zip(task_src, task_tgt))
    loss = train(v, cfg, params, task_src, task_tgt, tmap, sv, tv, rng)
    raise_pad_bias(mr.Marian(cfg, params), cfg, sv, tv, rng, task_src, tmap)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    if v["share"] and v["tie"]:
        params = {k: t for k, t in params.items() if k != "lm_head.weight"}
    mr.write_safetensors(os.path.join(out, "model.safetensors"), params, v["dtype"])
    copy_tokenizer(shared, v, out)
    cfg2, gen2, model = mr.load(out)     # expected outputs from the weights as stored
    margins, skipped = expected(v, model, cfg2, gen2, sv, rng, task_src, out)
    dump_logits(model, cfg2, sv, tv, rng, task_src, out)
    gm = [m for x in margins for m in x["greedy_margins"] if np.isfinite(m)]

    def low(key):
        return min(x[key] for x in margins if x[key] is not None)
    summary = {
        "variant": v["name"], "train_loss": loss, "lines": len(margins), "skipped_tie_prone": skipped,
        "rel_tie_threshold": REL_TIE, "min_greedy_margin": min(gm),
        "min_greedy_margin_rel": low("greedy"), "min_beam_gap_rel": low("beam"),
        "below_threshold": [x["line"] for x in margins
                            if min(y for y in (x["greedy"], x["beam"], 1.0) if y is not None) < REL_TIE],
        "seconds": round(time.time() - t0, 1), "per_line": margins}
    with open(os.path.join(out, "margins.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{v['name']}: {len(margins)} lines, skipped {skipped}, min greedy margin "
          f"{summary['min_greedy_margin']:.3f} (rel {summary['min_greedy_margin_rel']:.4f}), "
          f"min beam gap rel {summary['min_beam_gap_rel']:.5f}, below threshold (kept fixed) "
          f"{summary['below_threshold']}, loss {loss:.3f}, {summary['seconds']}s", flush=True)


def stamp():
    h = hashlib.sha256()
    for name in ("make_fixtures.py", "marian_ref.py"):
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(f.read())
    h.update(torch.__version__.encode())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.outdir, exist_ok=True)
    want = stamp()
    with open(os.path.join(a.outdir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = os.path.join(a.outdir, "STAMP")
        if os.path.exists(path) and open(path).read().strip() == want:
            print("fixtures up to date:", a.outdir)
            return 0
        if os.path.exists(path):
            os.remove(path)
        for v in VARIANTS:
            shutil.rmtree(os.path.join(a.outdir, v["name"]), ignore_errors=True)
            build_variant(v, a.shared, a.outdir)
        with open(path, "w") as f:
            f.write(want + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

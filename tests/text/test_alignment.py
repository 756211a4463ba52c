#!/usr/bin/env python3
"""Alignment (options.return_alignment, `dragoman translate --alignment`) against PyTorch.

A random-weight Marian checkpoint with 3 decoder layers (the demo model's tokenizer and vocabulary,
d_model 32) is translated by `dragoman translate --input-ids --format jsonl --alignment`, greedy and
beam 4 with 3-best; for every returned hypothesis the decoder is re-run teacher-forced in
tests/reference/marian_ref.py's model with the cross-attention weights captured, and the engine's
rows must equal the chosen layer's weights averaged over its heads (tolerance 1e-5). Beam search
reorders beams every step, so a row taken from the wrong beam's history would attend differently
and fail. The default layer is the penultimate one (1 of 3); --alignment-layer 0 and 2 are checked
too.

usage: test_alignment.py DRAGOMAN"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import marian_ref  # noqa: E402

DEMO = os.path.join(ROOT, "models", "demo-en-de")
D, FF, H, LE, LD = 32, 64, 4, 2, 3


def make_checkpoint(out):
    for f in os.listdir(DEMO):
        if f not in ("model.safetensors", "config.json", "README.md"):
            shutil.copy(os.path.join(DEMO, f), out)
    cfg = json.load(open(os.path.join(DEMO, "config.json")))
    cfg.update(d_model=D, encoder_ffn_dim=FF, decoder_ffn_dim=FF, encoder_attention_heads=H,
               decoder_attention_heads=H, encoder_layers=LE, decoder_layers=LD, num_hidden_layers=LE,
               max_position_embeddings=64)
    json.dump(cfg, open(os.path.join(out, "config.json"), "w"))
    V = cfg["vocab_size"]
    g = torch.Generator().manual_seed(13)
    # weights large enough that attention is far from uniform
    r = lambda *s: torch.randn(*s, generator=g) * 0.35  # noqa: E731
    t = {"model.shared.weight": r(V, D), "final_logits_bias": torch.zeros(1, V)}

    def attn(pre):
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            t[f"{pre}{p}.weight"] = r(D, D)
            t[f"{pre}{p}.bias"] = r(D)

    def ln(name):
        t[name + ".weight"] = 1 + r(D) * 0.1
        t[name + ".bias"] = r(D) * 0.1

    for side, n in (("encoder", LE), ("decoder", LD)):
        for i in range(n):
            pre = f"model.{side}.layers.{i}."
            attn(pre + "self_attn.")
            ln(pre + "self_attn_layer_norm")
            if side == "decoder":
                attn(pre + "encoder_attn.")
                ln(pre + "encoder_attn_layer_norm")
            t[pre + "fc1.weight"], t[pre + "fc1.bias"] = r(FF, D), r(FF)
            t[pre + "fc2.weight"], t[pre + "fc2.bias"] = r(D, FF), r(D)
            ln(pre + "final_layer_norm")
    marian_ref.write_safetensors(os.path.join(out, "model.safetensors"), t)


def cross_weights(model, src, dec):
    """Teacher-forced decoder over dec (start token first): per layer, [T, S] head-averaged
    cross-attention weights (MarianAttention's softmax, as marian_ref's _attn)."""
    got = []
    orig = model._attn

    def attn(pre, x, kv, mask, heads):
        if "encoder_attn" in pre:
            p = model.p
            B, T, Dm = x.shape
            hd = Dm // heads
            q = F.linear(x, p[pre + "q_proj.weight"], p[pre + "q_proj.bias"]) * (hd ** -0.5)
            k = F.linear(kv, p[pre + "k_proj.weight"], p[pre + "k_proj.bias"])
            q = q.view(B, T, heads, hd).transpose(1, 2)
            k = k.view(B, kv.shape[1], heads, hd).transpose(1, 2)
            got.append(torch.softmax(torch.matmul(q, k.transpose(2, 3)), dim=-1)[0].mean(0))
        return orig(pre, x, kv, mask, heads)

    model._attn = attn
    with torch.no_grad():
        ids = torch.tensor([src])
        mask = torch.ones_like(ids)
        model.decode_hidden(torch.tensor([dec]), model.encode(ids, mask), mask)
    model._attn = orig
    return got


def main():
    dragoman = sys.argv[1]
    fails = checked = 0
    srcs = [[58, 12, 907, 33, 5, 0], [100, 2000, 31, 7, 7, 64, 9, 812, 3, 0], [4000, 0],
            [11, 22, 33, 44, 55, 66, 77, 88, 99, 111, 122, 133, 0]]
    with tempfile.TemporaryDirectory() as tmp:
        make_checkpoint(tmp)
        cfg, _, model = marian_ref.load(tmp)
        start = cfg["decoder_start_token_id"]
        for args, layer in ((["--beam-size", "1"], 1), (["--beam-size", "4", "--n-best", "3"], 1),
                            (["--beam-size", "4", "--n-best", "2", "--alignment-layer", "0"], 0),
                            (["--beam-size", "3", "--alignment-layer", "2"], 2)):
            out = subprocess.run([dragoman, "translate", "--model", tmp, "--input-ids", "--format",
                                  "jsonl", "--alignment", "--max-new-tokens", "12"] + args,
                                 input="\n".join(" ".join(map(str, s)) for s in srcs) + "\n",
                                 capture_output=True, text=True, check=True).stdout
            for src, line in zip(srcs, out.splitlines()):
                obj = json.loads(line)
                for ids, al in zip(obj["ids"], obj["alignment"]):
                    want = cross_weights(model, src, [start] + ids[:-1])[layer]
                    got = torch.tensor(al)
                    checked += 1
                    if got.shape != want.shape or (got - want).abs().max() > 1e-5:
                        fails += 1
                        print(f"FAIL {args} src {src} ids {ids}: shape {tuple(got.shape)} vs "
                              f"{tuple(want.shape)}, max diff "
                              f"{(got - want).abs().max() if got.shape == want.shape else '-'}")
        # without --alignment no field is printed (and the ids are the same)
        plain = subprocess.run([dragoman, "translate", "--model", tmp, "--input-ids", "--format",
                                "jsonl"], input="58 12 907 33 5 0\n", capture_output=True,
                               text=True, check=True).stdout
        if "alignment" in json.loads(plain):
            fails += 1
            print("FAIL alignment printed without --alignment")
    print(f"alignment: {checked - fails}/{checked} hypotheses match PyTorch (1e-5)")
    return 1 if fails or not checked else 0


if __name__ == "__main__":
    sys.exit(main())

"""Layer-level reference for the engine's pre-norm path (quirks.normalize_before + final_norms),
which no Marian checkpoint exercises (HF Marian layers are post-norm whatever config says).

usage: prenorm_ref.py OUTDIR

DESIGN
A tiny random encoder-decoder with mBART's layer wiring (modeling_mbart.py: x = x + sublayer(
LayerNorm(x)) for self-attention, cross-attention and FFN, then a final LayerNorm after each
stack), Marian's sinusoidal positions, scaled embeddings, exact GELU, separate source/target
vocabularies and an untied lm_head. LayerNorm gains/biases are random so a misplaced norm shows.
Writes OUTDIR/prenorm/weights.f32 (tensors named in meta.json, HF names, row-major float32),
and expected.f32: for each case its encoder states [S, D] then its teacher-forced logits [T, Vt],
computed in one right-padded batch with HF's additive finfo.min masks.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import marian_ref as mr  # noqa: E402

D, H, FF, LE, LD, VS, VT, P, EPS = 16, 2, 24, 2, 2, 30, 25, 20, 1e-5


def params():
    g = torch.Generator().manual_seed(7)
    p = {}

    def rnd(*shape, s=0.3):
        return torch.randn(*shape, generator=g) * s

    def lin(n, o, i):
        p[n + ".weight"], p[n + ".bias"] = rnd(o, i), rnd(o, s=0.1)

    def ln(n):
        p[n + ".weight"], p[n + ".bias"] = 1 + rnd(D, s=0.2), rnd(D, s=0.2)

    for st, n in (("encoder", LE), ("decoder", LD)):
        for i in range(n):
            pre = f"model.{st}.layers.{i}."
            for a in (("self_attn", "encoder_attn") if st == "decoder" else ("self_attn",)):
                for pr in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    lin(pre + a + "." + pr, D, D)
                ln(pre + ("self_attn_layer_norm" if a == "self_attn" else "encoder_attn_layer_norm"))
            lin(pre + "fc1", FF, D)
            lin(pre + "fc2", D, FF)
            ln(pre + "final_layer_norm")
        ln(f"model.{st}.layer_norm")
    p["model.encoder.embed_tokens.weight"] = rnd(VS, D, s=0.1)
    p["model.decoder.embed_tokens.weight"] = rnd(VT, D, s=0.1)
    p["lm_head.weight"] = rnd(VT, D)
    p["final_logits_bias"] = rnd(1, VT)
    return p


def attn(p, pre, x, kv, mask):
    B, T, _ = x.shape
    S, hd = kv.shape[1], D // H
    q = F.linear(x, p[pre + "q_proj.weight"], p[pre + "q_proj.bias"]) * hd ** -0.5
    k = F.linear(kv, p[pre + "k_proj.weight"], p[pre + "k_proj.bias"])
    v = F.linear(kv, p[pre + "v_proj.weight"], p[pre + "v_proj.bias"])
    q, k, v = (t.view(B, -1, H, hd).transpose(1, 2) for t in (q, k, v))
    w = torch.softmax(q @ k.transpose(2, 3) + mask, dim=-1)
    return F.linear((w @ v).transpose(1, 2).reshape(B, T, D), p[pre + "out_proj.weight"], p[pre + "out_proj.bias"])


def ln(p, name, x):
    return F.layer_norm(x, (D,), p[name + ".weight"], p[name + ".bias"], EPS)


def ffn(p, pre, x):
    return F.linear(F.gelu(F.linear(x, p[pre + "fc1.weight"], p[pre + "fc1.bias"])), p[pre + "fc2.weight"], p[pre + "fc2.bias"])


def forward(p, src, smask, dec):
    pos = mr.sinusoidal_table(P, D)
    scale = math.sqrt(D)
    km = (1.0 - smask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    x = F.embedding(src, p["model.encoder.embed_tokens.weight"]) * scale + pos[:src.shape[1]]
    for i in range(LE):
        pre = f"model.encoder.layers.{i}."
        x = x + attn(p, pre + "self_attn.", ln(p, pre + "self_attn_layer_norm", x), ln(p, pre + "self_attn_layer_norm", x), km)
        x = x + ffn(p, pre, ln(p, pre + "final_layer_norm", x))
    enc = ln(p, "model.encoder.layer_norm", x)
    T = dec.shape[1]
    causal = torch.triu(torch.full((T, T), torch.finfo(torch.float32).min), diagonal=1)[None, None]
    y = F.embedding(dec, p["model.decoder.embed_tokens.weight"]) * scale + pos[:T]
    for i in range(LD):
        pre = f"model.decoder.layers.{i}."
        h = ln(p, pre + "self_attn_layer_norm", y)
        y = y + attn(p, pre + "self_attn.", h, h, causal)
        y = y + attn(p, pre + "encoder_attn.", ln(p, pre + "encoder_attn_layer_norm", y), enc, km)
        y = y + ffn(p, pre, ln(p, pre + "final_layer_norm", y))
    y = ln(p, "model.decoder.layer_norm", y)
    return enc, F.linear(y, p["lm_head.weight"]) + p["final_logits_bias"]


def main():
    out = os.path.join(sys.argv[1], "prenorm")
    os.makedirs(out, exist_ok=True)
    p = params()
    srcs = [[3, 9, 4, 17, 22, 5, 0], [11, 2, 0], [7, 7, 28, 1, 0]]
    decs = [[24, 3, 8, 19], [24, 1, 1, 2], [24, 20, 6, 13]]
    n = max(map(len, srcs))
    src = torch.tensor([s + [0] * (n - len(s)) for s in srcs])
    smask = torch.tensor([[1] * len(s) + [0] * (n - len(s)) for s in srcs])
    with torch.no_grad():
        enc, logits = forward(p, src, smask, torch.tensor(decs))
    names, off, blobs = {}, 0, []
    for k in sorted(p):
        a = p[k].contiguous().view(-1)
        names[k] = {"offset": off, "shape": list(p[k].shape)}
        off += a.numel()
        blobs.append(a.numpy().astype("<f4").tobytes())
    with open(os.path.join(out, "weights.f32"), "wb") as f:
        f.write(b"".join(blobs))
    exp = []
    for i, s in enumerate(srcs):
        exp.append(enc[i, :len(s)].numpy().astype("<f4").tobytes())
        exp.append(logits[i].numpy().astype("<f4").tobytes())
    with open(os.path.join(out, "expected.f32"), "wb") as f:
        f.write(b"".join(exp))
    meta = {"d_model": D, "heads": H, "ffn": FF, "enc_layers": LE, "dec_layers": LD, "vocab": VS,
            "target_vocab": VT, "max_pos": P, "eps": EPS, "srcs": srcs, "decs": decs, "tensors": names}
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

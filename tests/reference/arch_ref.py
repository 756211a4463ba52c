"""PyTorch reference of the T5, BART and M2M100 forward passes (transformers 4.40), for the
engine's internals: encoder states and teacher-forced logits.

usage: arch_ref.py OUTDIR

DESIGN
`transformers` is not installed, so this re-states modeling_t5.py, modeling_bart.py and
modeling_m2m_100.py with torch (eager attention, float32), on small random checkpoints written
as Hugging Face folders (config.json + model.safetensors, HF tensor names), so the C side loads
them with dg_model_load through the real config and architecture tables. The shapes are chosen
to reach what the shared goldens do not:
* t5-v10 / t5-v11: heads x d_kv (3 x 8) != d_model (16), num_decoder_layers (3) !=
  num_layers (2), 8 buckets with max_distance 12 so inputs of 30 tokens and 20 decoder steps
  reach the logarithmic buckets and their saturation; v1.0 relu + tied head x d^-0.5, v1.1
  gated-gelu (tanh GELU) + untied head, random RMSNorm gains.
* bart: learned positions (offset 2), layernorm_embedding, post-norm, exact GELU,
  final_logits_bias, random LayerNorm parameters.
* m2m100: max_position_embeddings 8, so sources of up to 20 tokens read sinusoid rows past
  HF's initial table (it grows); a pad inside one source (fairseq position ids skip it and it
  gets the zero row) and a pad among one decoder input.
Every case of a variant runs in one right-padded batch with HF's additive finfo.min masks, so
the engine's packed encoder is compared with the padded batch HF computes. A pad token inside
a source is masked as well, as generate() does without an attention_mask
(_prepare_attention_mask_for_generation: input_ids.ne(pad) when pad is in the input and is not
EOS); every variant has one such source. Pads among decoder inputs are attended (no decoder
mask).

Writes OUTDIR/<variant>/{config.json, model.safetensors, cases.json, expected.f32} (per case:
encoder states [S, D] then logits [T, V]) and OUTDIR/buckets.json (T5 bucket ids for relative
positions -300..300 under a few settings, from the torch code below).
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import marian_ref as mr  # noqa: E402

NEG = torch.finfo(torch.float32).min


def gen(seed):
    g = torch.Generator().manual_seed(seed)
    return lambda *shape, s=0.3: torch.randn(*shape, generator=g) * s


# ---------------------------------------------------------------------------------------------
# T5 (modeling_t5.py)

def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """T5Attention._relative_position_bucket, verbatim."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    relative_position_if_large = max_exact + (
        torch.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    relative_position_if_large = torch.min(
        relative_position_if_large, torch.full_like(relative_position_if_large, num_buckets - 1))
    relative_buckets += torch.where(is_small, relative_position, relative_position_if_large)
    return relative_buckets


def t5_bias(w, q_len, k_len, bidirectional, cfg):
    """T5Attention.compute_bias: [1, H, q_len, k_len]."""
    ctx = torch.arange(q_len, dtype=torch.long)[:, None]
    mem = torch.arange(k_len, dtype=torch.long)[None, :]
    b = relative_position_bucket(mem - ctx, bidirectional, cfg["relative_attention_num_buckets"],
                                 cfg["relative_attention_max_distance"])
    return F.embedding(b, w).permute([2, 0, 1]).unsqueeze(0)


def rms(x, w, eps):
    """T5LayerNorm."""
    variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def t5_attn(p, pre, x, kv, bias, cfg):
    B, T, _ = x.shape
    H, dk = cfg["num_heads"], cfg["d_kv"]
    q, k, v = (F.linear(t, p[pre + n + ".weight"]).view(B, -1, H, dk).transpose(1, 2)
               for t, n in ((x, "q"), (kv, "k"), (kv, "v")))
    scores = torch.matmul(q, k.transpose(3, 2)) + bias   # no 1/sqrt(d_kv)
    w = F.softmax(scores.float(), dim=-1).type_as(scores)
    return F.linear(torch.matmul(w, v).transpose(1, 2).reshape(B, T, H * dk), p[pre + "o.weight"])


def t5_ffn(p, pre, x, cfg):
    if cfg["feed_forward_proj"].startswith("gated"):
        act = gelu_new if cfg["feed_forward_proj"] == "gated-gelu" else F.relu
        h = act(F.linear(x, p[pre + "wi_0.weight"])) * F.linear(x, p[pre + "wi_1.weight"])
    else:
        h = F.relu(F.linear(x, p[pre + "wi.weight"]))
    return F.linear(h, p[pre + "wo.weight"])


def t5_forward(p, cfg, src, smask, dec):
    eps = cfg["layer_norm_epsilon"]
    S, T = src.shape[1], dec.shape[1]
    ext = (1.0 - smask[:, None, None, :].float()) * NEG
    x = F.embedding(src, p["shared.weight"])
    bias = t5_bias(p["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], S, S, True, cfg) + ext
    for i in range(cfg["num_layers"]):
        pre = f"encoder.block.{i}.layer."
        x = x + t5_attn(p, pre + "0.SelfAttention.", rms(x, p[pre + "0.layer_norm.weight"], eps),
                        rms(x, p[pre + "0.layer_norm.weight"], eps), bias, cfg)
        x = x + t5_ffn(p, pre + "1.DenseReluDense.", rms(x, p[pre + "1.layer_norm.weight"], eps), cfg)
    enc = rms(x, p["encoder.final_layer_norm.weight"], eps)
    causal = torch.triu(torch.full((T, T), NEG), diagonal=1)[None, None]
    sbias = t5_bias(p["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], T, T, False, cfg) + causal
    y = F.embedding(dec, p["shared.weight"])
    for i in range(cfg["num_decoder_layers"]):
        pre = f"decoder.block.{i}.layer."
        h = rms(y, p[pre + "0.layer_norm.weight"], eps)
        y = y + t5_attn(p, pre + "0.SelfAttention.", h, h, sbias, cfg)
        # EncDecAttention has no relative bias: position_bias = zeros + the encoder mask
        y = y + t5_attn(p, pre + "1.EncDecAttention.", rms(y, p[pre + "1.layer_norm.weight"], eps), enc, ext, cfg)
        y = y + t5_ffn(p, pre + "2.DenseReluDense.", rms(y, p[pre + "2.layer_norm.weight"], eps), cfg)
    y = rms(y, p["decoder.final_layer_norm.weight"], eps)
    if cfg["tie_word_embeddings"]:
        y = y * (cfg["d_model"] ** -0.5)
        return enc, F.linear(y, p["shared.weight"])
    return enc, F.linear(y, p["lm_head.weight"])


def t5_params(cfg, seed):
    rnd = gen(seed)
    D, A, FF = cfg["d_model"], cfg["num_heads"] * cfg["d_kv"], cfg["d_ff"]
    gated = cfg["feed_forward_proj"].startswith("gated")
    p = {"shared.weight": rnd(cfg["vocab_size"], D, s=1.0)}
    if not cfg["tie_word_embeddings"]:
        p["lm_head.weight"] = rnd(cfg["vocab_size"], D)
    for st, n in (("encoder", cfg["num_layers"]), ("decoder", cfg["num_decoder_layers"])):
        p[f"{st}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = rnd(
            cfg["relative_attention_num_buckets"], cfg["num_heads"], s=1.0)
        p[f"{st}.final_layer_norm.weight"] = 1 + rnd(D, s=0.2)
        for i in range(n):
            pre = f"{st}.block.{i}.layer."
            attns = ("0.SelfAttention", "1.EncDecAttention") if st == "decoder" else ("0.SelfAttention",)
            for a in attns:
                for w in "qkv":
                    p[f"{pre}{a}.{w}.weight"] = rnd(A, D)
                p[f"{pre}{a}.o.weight"] = rnd(D, A)
                p[f"{pre}{a[0]}.layer_norm.weight"] = 1 + rnd(D, s=0.2)
            f = "2" if st == "decoder" else "1"
            for w in (("wi_0", "wi_1") if gated else ("wi",)):
                p[f"{pre}{f}.DenseReluDense.{w}.weight"] = rnd(FF, D)
            p[f"{pre}{f}.DenseReluDense.wo.weight"] = rnd(D, FF)
            p[f"{pre}{f}.layer_norm.weight"] = 1 + rnd(D, s=0.2)
    return p


# ---------------------------------------------------------------------------------------------
# BART / M2M100 (modeling_bart.py, modeling_m2m_100.py)

def fairseq_sinusoid(num_embeddings, dim, padding_idx):
    """M2M100SinusoidalPositionalEmbedding.get_embedding, verbatim."""
    half_dim = dim // 2
    emb = math.log(10000) / (half_dim - 1)
    emb = torch.exp(torch.arange(half_dim, dtype=torch.int64).float() * -emb)
    emb = torch.arange(num_embeddings, dtype=torch.int64).float().unsqueeze(1) * emb.unsqueeze(0)
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1).view(num_embeddings, -1)
    if dim % 2 == 1:
        emb = torch.cat([emb, torch.zeros(num_embeddings, 1)], dim=1)
    emb[padding_idx, :] = 0
    return emb


def fairseq_positions(ids, pad, past=0):
    """create_position_ids_from_input_ids: pads get padding_idx, others count non-pads."""
    mask = ids.ne(pad).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) + past) * mask + pad


def bart_attn(p, pre, x, kv, mask, H):
    B, T, D = x.shape
    hd = D // H
    q = F.linear(x, p[pre + "q_proj.weight"], p[pre + "q_proj.bias"]) * hd ** -0.5
    k = F.linear(kv, p[pre + "k_proj.weight"], p[pre + "k_proj.bias"])
    v = F.linear(kv, p[pre + "v_proj.weight"], p[pre + "v_proj.bias"])
    q, k, v = (t.view(B, -1, H, hd).transpose(1, 2) for t in (q, k, v))
    w = torch.softmax(q @ k.transpose(2, 3) + mask, dim=-1)
    return F.linear((w @ v).transpose(1, 2).reshape(B, T, D), p[pre + "out_proj.weight"], p[pre + "out_proj.bias"])


def bart_forward(p, cfg, src, smask, dec):
    D, H = cfg["d_model"], cfg["encoder_attention_heads"]
    pre_norm = cfg["model_type"] != "bart"
    act = F.relu if cfg["activation_function"] == "relu" else F.gelu
    scale = math.sqrt(D) if cfg["scale_embedding"] else 1.0
    pad = cfg["pad_token_id"]

    def ln(name, x):
        return F.layer_norm(x, (D,), p[name + ".weight"], p[name + ".bias"], 1e-5)

    def embed(st, ids):
        x = F.embedding(ids, p["model.shared.weight"]) * scale
        if cfg["model_type"] == "m2m_100":
            pos = fairseq_positions(ids, pad)
            table = fairseq_sinusoid(max(cfg["max_position_embeddings"] + 2, int(pos.max()) + 1), D, pad)
            return x + table[pos.long()]
        x = x + p[f"model.{st}.embed_positions.weight"][torch.arange(ids.shape[1]) + 2]
        return ln(f"model.{st}.layernorm_embedding", x)

    def sub(x, name, f):
        if pre_norm:
            return x + f(ln(name, x))
        return ln(name, x + f(x))

    def ffn(pre):
        return lambda h: F.linear(act(F.linear(h, p[pre + "fc1.weight"], p[pre + "fc1.bias"])),
                                  p[pre + "fc2.weight"], p[pre + "fc2.bias"])

    km = (1.0 - smask[:, None, None, :].float()) * NEG
    x = embed("encoder", src)
    for i in range(cfg["encoder_layers"]):
        pre = f"model.encoder.layers.{i}."
        x = sub(x, pre + "self_attn_layer_norm", lambda h: bart_attn(p, pre + "self_attn.", h, h, km, H))
        x = sub(x, pre + "final_layer_norm", ffn(pre))
    enc = ln("model.encoder.layer_norm", x) if pre_norm else x
    T = dec.shape[1]
    causal = torch.triu(torch.full((T, T), NEG), diagonal=1)[None, None]
    if cfg["model_type"] != "m2m_100":
        y = embed("decoder", dec)
    else:
        # the decoder runs one token at a time with a cache: position = past + 2 (pad: 1), so
        # earlier pads do not shift later positions as they do in the encoder's cumsum
        y = F.embedding(dec, p["model.shared.weight"]) * scale
        steps = torch.arange(T)[None, :].expand_as(dec)
        pos = torch.where(dec.eq(pad), torch.full_like(dec, pad), steps + 2)
        y = y + fairseq_sinusoid(max(cfg["max_position_embeddings"] + 2, T + 2), D, pad)[pos]
    for i in range(cfg["decoder_layers"]):
        pre = f"model.decoder.layers.{i}."
        y = sub(y, pre + "self_attn_layer_norm", lambda h: bart_attn(p, pre + "self_attn.", h, h, causal, H))
        y = sub(y, pre + "encoder_attn_layer_norm", lambda h: bart_attn(p, pre + "encoder_attn.", h, enc, km, H))
        y = sub(y, pre + "final_layer_norm", ffn(pre))
    if pre_norm:
        y = ln("model.decoder.layer_norm", y)
    logits = F.linear(y, p["model.shared.weight"])
    if "final_logits_bias" in p:
        logits = logits + p["final_logits_bias"]
    return enc, logits


def bart_params(cfg, seed):
    rnd = gen(seed)
    D, V = cfg["d_model"], cfg["vocab_size"]
    p = {"model.shared.weight": rnd(V, D, s=1.0)}

    def lin(n, o, i):
        p[n + ".weight"], p[n + ".bias"] = rnd(o, i), rnd(o, s=0.1)

    def ln(n):
        p[n + ".weight"], p[n + ".bias"] = 1 + rnd(D, s=0.2), rnd(D, s=0.2)

    for st, n, ff in (("encoder", cfg["encoder_layers"], cfg["encoder_ffn_dim"]),
                      ("decoder", cfg["decoder_layers"], cfg["decoder_ffn_dim"])):
        if cfg["model_type"] == "bart":
            p[f"model.{st}.embed_positions.weight"] = rnd(cfg["max_position_embeddings"] + 2, D)
            ln(f"model.{st}.layernorm_embedding")
        else:
            ln(f"model.{st}.layer_norm")
        for i in range(n):
            pre = f"model.{st}.layers.{i}."
            for a in (("self_attn", "encoder_attn") if st == "decoder" else ("self_attn",)):
                for pr in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    lin(pre + a + "." + pr, D, D)
                ln(pre + a + "_layer_norm")
            lin(pre + "fc1", ff, D)
            lin(pre + "fc2", D, ff)
            ln(pre + "final_layer_norm")
    if cfg["model_type"] == "bart":
        p["final_logits_bias"] = rnd(1, V)
    return p


# ---------------------------------------------------------------------------------------------

T5_BASE = {"model_type": "t5", "d_model": 16, "num_heads": 3, "d_kv": 8, "d_ff": 20, "num_layers": 2,
           "num_decoder_layers": 3, "vocab_size": 40, "relative_attention_num_buckets": 8,
           "relative_attention_max_distance": 12, "layer_norm_epsilon": 1e-6, "pad_token_id": 0,
           "eos_token_id": 1, "decoder_start_token_id": 0}
BART_BASE = {"d_model": 16, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 4,
             "decoder_attention_heads": 4, "encoder_ffn_dim": 24, "decoder_ffn_dim": 20,
             "vocab_size": 40, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
             "decoder_start_token_id": 2}
VARIANTS = {
    "t5-v10": (dict(T5_BASE, feed_forward_proj="relu", tie_word_embeddings=True), t5_params, t5_forward),
    "t5-v11": (dict(T5_BASE, feed_forward_proj="gated-gelu", tie_word_embeddings=False), t5_params, t5_forward),
    "bart": (dict(BART_BASE, model_type="bart", activation_function="gelu", scale_embedding=False,
                  max_position_embeddings=40), bart_params, bart_forward),
    "m2m100": (dict(BART_BASE, model_type="m2m_100", activation_function="relu", scale_embedding=True,
                    max_position_embeddings=8, encoder_attention_heads=2, decoder_attention_heads=2),
               bart_params, bart_forward),
}


def cases(name, seed):
    g = torch.Generator().manual_seed(seed)
    lens = [30, 7, 1, 19] if name.startswith("t5") else [20, 9, 3, 14]
    srcs = [(torch.randint(3, 40, (n - 1,), generator=g).tolist() + [2 if name in ("bart", "m2m100") else 1])
            for n in lens]
    decs = [[0 if name.startswith("t5") else 2] + torch.randint(3, 40, (19,), generator=g).tolist()
            for _ in lens]
    pad = VARIANTS[name][0]["pad_token_id"]
    srcs[1][4] = pad       # a pad inside a source: masked (and skipped by M2M100's position ids)
    decs[2][6] = pad       # and one among a decoder input (M2M100: the zero position row)
    return srcs, decs


def main():
    out = sys.argv[1]
    buckets = {}
    rel = torch.arange(-300, 301, dtype=torch.long)
    for nb, md in ((32, 128), (8, 12), (16, 40)):
        for bi in (True, False):
            buckets[f"{nb}_{md}_{int(bi)}"] = relative_position_bucket(rel, bi, nb, md).tolist()
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "buckets.json"), "w") as f:
        json.dump({"from": -300, "buckets": buckets}, f)
    for seed, (name, (cfg, make, fwd)) in enumerate(sorted(VARIANTS.items())):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        p = make(cfg, seed + 11)
        srcs, decs = cases(name, seed + 23)
        n = max(map(len, srcs))
        pad = cfg["pad_token_id"]
        src = torch.tensor([s + [pad] * (n - len(s)) for s in srcs])
        smask = torch.tensor([[int(t != pad) for t in s] + [0] * (n - len(s)) for s in srcs])
        with torch.no_grad():
            enc, logits = fwd(p, cfg, src, smask, torch.tensor(decs))
        mr.write_safetensors(os.path.join(d, "model.safetensors"), p)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        blobs = []
        for i, s in enumerate(srcs):
            blobs.append(enc[i, :len(s)].numpy().astype("<f4").tobytes())
            blobs.append(logits[i].numpy().astype("<f4").tobytes())
        with open(os.path.join(d, "expected.f32"), "wb") as f:
            f.write(b"".join(blobs))
        with open(os.path.join(d, "cases.json"), "w") as f:
            json.dump({"srcs": srcs, "decs": decs}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

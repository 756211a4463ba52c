"""DESIGN: a PyTorch Marian transformer whose state_dict is, name for name and shape for shape,
that of Hugging Face's MarianMTModel (transformers' modeling_marian.py), plus the writers of a
Hugging Face checkpoint folder (config.json, generation_config.json, model.safetensors).

What it reproduces of MarianMTModel: post-norm layers; sinusoidal positions computed, never
stored (sin in the first half of the channels, cos in the second, positions from 0); token
embeddings scaled by sqrt(d_model); one embedding matrix `model.shared.weight` used by the
encoder, the decoder and the output projection; a `final_logits_bias` buffer [1, V] added to
the logits; SiLU ("swish") feed-forward; queries scaled by head_dim^-0.5; LayerNorm eps 1e-5.
Modules are laid out so that named parameters are exactly HF's names (no duplicate tied
entries), so export is a plain walk of state_dict().

safetensors is written by hand (no package on Debian): u64 little-endian header length, a
JSON header {name: {dtype, shape, data_offsets}} padded with spaces to 8 bytes, then the raw
little-endian tensor bytes in header order."""

import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def sinusoids(n_pos, dim):
    """[n_pos, dim] Marian position table: angles in float64, then cast (HF does the same)."""
    pos = np.arange(n_pos, dtype=np.float64)[:, None]
    j = np.arange(dim, dtype=np.float64)[None, :]
    enc = pos / np.power(10000, 2 * (j // 2) / dim)
    out = np.empty((n_pos, dim), dtype=np.float32)
    half = dim // 2 + dim % 2
    out[:, :half] = np.sin(enc[:, 0::2])
    out[:, half:] = np.cos(enc[:, 1::2])
    return torch.from_numpy(out)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.q_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x, kv, bias):
        """x [B, T, D] attends over kv [B, S, D]; bias [B or 1, 1, T or 1, S] (0 or -inf)."""
        B, T, D = x.shape
        S = kv.shape[1]
        q = (self.q_proj(x) * self.hd ** -0.5).view(B, T, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(kv).view(B, S, self.heads, self.hd).transpose(1, 2)
        v = self.v_proj(kv).view(B, S, self.heads, self.hd).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(2, 3) + bias, dim=-1)
        return self.out_proj((w @ v).transpose(1, 2).reshape(B, T, D))


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ffn, dropout):
        super().__init__()
        self.self_attn = Attention(d, heads)
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, ffn)
        self.fc2 = nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.dropout = dropout

    def forward(self, h, bias):
        h = self.self_attn_layer_norm(h + F.dropout(self.self_attn(h, h, bias), self.dropout, self.training))
        f = self.fc2(F.silu(self.fc1(h)))
        return self.final_layer_norm(h + F.dropout(f, self.dropout, self.training))


class DecoderLayer(EncoderLayer):
    def __init__(self, d, heads, ffn, dropout):
        super().__init__(d, heads, ffn, dropout)
        self.encoder_attn = Attention(d, heads)
        self.encoder_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, h, self_bias, enc, cross_bias):
        h = self.self_attn_layer_norm(h + F.dropout(self.self_attn(h, h, self_bias), self.dropout, self.training))
        c = self.encoder_attn(h, enc, cross_bias)
        h = self.encoder_attn_layer_norm(h + F.dropout(c, self.dropout, self.training))
        f = self.fc2(F.silu(self.fc1(h)))
        return self.final_layer_norm(h + F.dropout(f, self.dropout, self.training))


class Stack(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class Body(nn.Module):
    """HF's MarianModel: `shared`, `encoder.layers.*`, `decoder.layers.*`."""

    def __init__(self, hp):
        super().__init__()
        d = hp["d_model"]
        self.shared = nn.Embedding(hp["vocab_size"], d, padding_idx=hp["pad_token_id"])
        self.encoder = Stack([EncoderLayer(d, hp["encoder_attention_heads"], hp["encoder_ffn_dim"],
                                           hp["dropout"]) for _ in range(hp["encoder_layers"])])
        self.decoder = Stack([DecoderLayer(d, hp["decoder_attention_heads"], hp["decoder_ffn_dim"],
                                           hp["dropout"]) for _ in range(hp["decoder_layers"])])


class MarianMT(nn.Module):
    def __init__(self, hp):
        super().__init__()
        self.hp = hp
        self.pad = hp["pad_token_id"]
        self.dropout = hp["dropout"]
        self.model = Body(hp)
        self.register_buffer("final_logits_bias", torch.zeros(1, hp["vocab_size"]))
        self.register_buffer("pos", sinusoids(hp["max_position_embeddings"], hp["d_model"]),
                             persistent=False)
        self.scale = math.sqrt(hp["d_model"]) if hp["scale_embedding"] else 1.0
        for m in self.modules():  # HF's _init_weights: N(0, init_std), zero biases, zero pad row
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=hp["init_std"])
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.model.shared.weight[self.pad].zero_()

    def embed(self, ids):
        h = self.model.shared(ids) * self.scale + self.pos[:ids.shape[1]]
        return F.dropout(h, self.dropout, self.training)

    def encode(self, src):
        """src [B, S] → (enc [B, S, D], cross_bias [B, 1, 1, S])."""
        bias = torch.zeros(src.shape, dtype=torch.float32).masked_fill(src == self.pad, float("-inf"))
        bias = bias[:, None, None, :]
        h = self.embed(src)
        for layer in self.model.encoder.layers:
            h = layer(h, bias)
        return h, bias

    def decode(self, tgt_in, enc, cross_bias):
        """tgt_in [B, T] (starting with the decoder start = pad) → hidden [B, T, D]. Pad inside
        tgt_in is the start token, so only causality masks the self-attention, as in HF."""
        T = tgt_in.shape[1]
        causal = torch.full((T, T), float("-inf")).triu(1)[None, None]
        h = self.embed(tgt_in)
        for layer in self.model.decoder.layers:
            h = layer(h, causal, enc, cross_bias)
        return h

    def logits(self, h):
        return F.linear(h, self.model.shared.weight) + self.final_logits_bias[0]


# ---- Hugging Face checkpoint folder ---------------------------------------------------------

def hf_config(hp, transformers_version="4.40.2"):
    """config.json as transformers writes it for a MarianMTModel (keys sorted, like HF)."""
    pad, eos, v = hp["pad_token_id"], hp["eos_token_id"], hp["vocab_size"]
    cfg = {
        "activation_dropout": 0.0, "activation_function": "swish",
        "architectures": ["MarianMTModel"], "attention_dropout": 0.0,
        "bad_words_ids": [[pad]], "bos_token_id": 0, "classifier_dropout": 0.0,
        "d_model": hp["d_model"],
        "decoder_attention_heads": hp["decoder_attention_heads"],
        "decoder_ffn_dim": hp["decoder_ffn_dim"], "decoder_layerdrop": 0.0,
        "decoder_layers": hp["decoder_layers"], "decoder_start_token_id": pad,
        "decoder_vocab_size": v, "dropout": hp["dropout"],
        "encoder_attention_heads": hp["encoder_attention_heads"],
        "encoder_ffn_dim": hp["encoder_ffn_dim"], "encoder_layerdrop": 0.0,
        "encoder_layers": hp["encoder_layers"], "eos_token_id": eos,
        "forced_eos_token_id": eos, "init_std": hp["init_std"], "is_encoder_decoder": True,
        "max_length": 512, "max_position_embeddings": hp["max_position_embeddings"],
        "model_type": "marian", "normalize_embedding": False, "num_beams": 4,
        "num_hidden_layers": hp["encoder_layers"], "pad_token_id": pad,
        "scale_embedding": hp["scale_embedding"], "share_encoder_decoder_embeddings": True,
        "static_position_embeddings": True, "torch_dtype": hp.get("torch_dtype", "float32"),
        "transformers_version": transformers_version, "use_cache": True, "vocab_size": v,
    }
    return dict(sorted(cfg.items()))


def hf_generation_config(hp, transformers_version="4.40.2"):
    pad, eos = hp["pad_token_id"], hp["eos_token_id"]
    return {"bad_words_ids": [[pad]], "bos_token_id": 0, "decoder_start_token_id": pad,
            "eos_token_id": eos, "forced_eos_token_id": eos, "max_length": 512,
            "num_beams": 4, "pad_token_id": pad, "transformers_version": transformers_version}


SAFETENSORS_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def save_safetensors(path, tensors, metadata=None):
    """tensors: {name: tensor}; written in sorted name order, little-endian, contiguous."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        a = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy()  # numpy has no bf16
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPE[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """(tensors {name: torch tensor}, metadata dict) of a file save_safetensors wrote."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    np_type = {"F32": "<f4", "F16": "<f2", "BF16": "<i2"}
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        t = torch.from_numpy(np.frombuffer(raw, dtype=np_type[h["dtype"]], count=(b - a) //
                             np.dtype(np_type[h["dtype"]]).itemsize, offset=8 + n + a).copy())
        out[name] = (t.view(torch.bfloat16) if h["dtype"] == "BF16" else t).reshape(h["shape"])
    return out, meta


def export_tensors(state_dict, dtype):
    """The tensors of model.safetensors: every persistent entry of the state_dict (positions
    are a non-persistent buffer, so they are left out as HF leaves them out)."""
    return {k: v.to(dtype) for k, v in state_dict.items()}

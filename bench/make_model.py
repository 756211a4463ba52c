#!/usr/bin/python3
"""Writes a random-weight Transformer-base checkpoint in Hugging Face MarianMTModel layout
(d_model 512, 6+6 layers, 8 heads, ffn 2048, shared vocab 32000) for the benchmark; with
--arch t5, a T5ForConditionalGeneration of the same size (t5-small's shape: d_kv 64, relu,
tied head) to compare architectures.

Random weights decode to arbitrary ids; the benchmark forces equal output lengths with
min/max length so runs are comparable. Usage: make_model.py OUTDIR [--dtype f32|f16]"""
import argparse
import json
import os

import numpy as np

D, LAYERS, HEADS, FFN, VOCAB, MAXPOS = 512, 6, 8, 2048, 32000, 512
PAD = VOCAB - 1


def tensors(rng):
    def lin(name, out_dim, in_dim):
        # std 0.02 like HF's init_std: keeps activations in a realistic range
        yield name + ".weight", rng.standard_normal((out_dim, in_dim), dtype=np.float32) * 0.02
        yield name + ".bias", np.zeros(out_dim, np.float32)

    def norm(name):
        yield name + ".weight", np.ones(D, np.float32)
        yield name + ".bias", np.zeros(D, np.float32)

    yield "final_logits_bias", np.zeros((1, VOCAB), np.float32)
    yield "model.shared.weight", rng.standard_normal((VOCAB, D), dtype=np.float32) * 0.02
    for stack in ("encoder", "decoder"):
        for i in range(LAYERS):
            p = f"model.{stack}.layers.{i}."
            for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                yield from lin(p + "self_attn." + proj, D, D)
            yield from norm(p + "self_attn_layer_norm")
            if stack == "decoder":
                for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
                    yield from lin(p + "encoder_attn." + proj, D, D)
                yield from norm(p + "encoder_attn_layer_norm")
            yield from lin(p + "fc1", FFN, D)
            yield from lin(p + "fc2", D, FFN)
            yield from norm(p + "final_layer_norm")


def t5_tensors(rng):
    def w(name, out_dim, in_dim):
        yield name + ".weight", rng.standard_normal((out_dim, in_dim), dtype=np.float32) * 0.02

    yield "shared.weight", rng.standard_normal((VOCAB, D), dtype=np.float32) * 0.02
    for stack in ("encoder", "decoder"):
        yield f"{stack}.final_layer_norm.weight", np.ones(D, np.float32)
        yield (f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
               rng.standard_normal((32, HEADS), dtype=np.float32))
        for i in range(LAYERS):
            attns = ["SelfAttention", "EncDecAttention"] if stack == "decoder" else ["SelfAttention"]
            for k, a in enumerate(attns):
                for proj in "qkvo":
                    yield from w(f"{stack}.block.{i}.layer.{k}.{a}.{proj}", D, D)
                yield f"{stack}.block.{i}.layer.{k}.layer_norm.weight", np.ones(D, np.float32)
            k = len(attns)
            yield from w(f"{stack}.block.{i}.layer.{k}.DenseReluDense.wi", FFN, D)
            yield from w(f"{stack}.block.{i}.layer.{k}.DenseReluDense.wo", D, FFN)
            yield f"{stack}.block.{i}.layer.{k}.layer_norm.weight", np.ones(D, np.float32)


def write_safetensors(path, named, dtype):
    np_dtype, st_dtype = {"f32": (np.float32, "F32"), "f16": (np.float16, "F16")}[dtype]
    header, blobs, offset = {}, [], 0
    for name, arr in named:
        data = arr.astype(np_dtype).tobytes()
        header[name] = {"dtype": st_dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hdr = json.dumps(header).encode()
    hdr += b" " * (-len(hdr) % 8)  # align the data section
    with open(path, "wb") as f:
        f.write(len(hdr).to_bytes(8, "little"))
        f.write(hdr)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--dtype", default="f32", choices=["f32", "f16"])
    ap.add_argument("--arch", default="marian", choices=["marian", "t5"])
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    if args.arch == "t5":
        config = {
            "architectures": ["T5ForConditionalGeneration"], "model_type": "t5", "d_model": D,
            "d_kv": D // HEADS, "d_ff": FFN, "num_layers": LAYERS, "num_heads": HEADS,
            "vocab_size": VOCAB, "feed_forward_proj": "relu", "pad_token_id": 0, "eos_token_id": 1,
            "decoder_start_token_id": 0, "num_beams": 4, "is_encoder_decoder": True,
        }
        with open(os.path.join(args.outdir, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        write_safetensors(os.path.join(args.outdir, "model.safetensors"),
                          t5_tensors(np.random.default_rng(1234)), args.dtype)
        return
    config = {
        "architectures": ["MarianMTModel"], "model_type": "marian", "activation_function": "swish",
        "d_model": D, "encoder_layers": LAYERS, "decoder_layers": LAYERS,
        "encoder_attention_heads": HEADS, "decoder_attention_heads": HEADS,
        "encoder_ffn_dim": FFN, "decoder_ffn_dim": FFN, "vocab_size": VOCAB,
        "decoder_vocab_size": VOCAB, "max_position_embeddings": MAXPOS, "scale_embedding": True,
        "normalize_before": False, "static_position_embeddings": True,
        "share_encoder_decoder_embeddings": True, "pad_token_id": PAD, "eos_token_id": 0,
        "bos_token_id": 0, "decoder_start_token_id": PAD, "bad_words_ids": [[PAD]],
        "num_beams": 4, "max_length": 512, "is_encoder_decoder": True,
    }
    gen = {k: config[k] for k in ("bad_words_ids", "bos_token_id", "decoder_start_token_id",
                                  "eos_token_id", "max_length", "num_beams", "pad_token_id")}
    with open(os.path.join(args.outdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(args.outdir, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    write_safetensors(os.path.join(args.outdir, "model.safetensors"),
                      tensors(np.random.default_rng(1234)), args.dtype)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""DESIGN: the demo model's vocabulary, in the layout of a Helsinki-NLP/opus-mt-* repository.

One SentencePiece unigram model is trained (Debian's `spm_train`) on the English and German
training text together and saved as both source.spm and target.spm. A joint vocabulary suits
a small model on a small corpus: software strings share placeholders, markup, product names
and numbers between the languages, a shared segmentation lets the tied embedding learn them
once, and a small vocabulary keeps the output layer cheap. MarianTokenizer still works as
with any OPUS-MT model: it segments with source.spm/target.spm and looks pieces up in
vocab.json.

Byte fallback (`--byte_fallback`, issue 15): the 256 pieces <0x00>..<0xFF> are part of the
vocabulary, so a character the unigram model lacks (accents outside the character coverage,
emoji, CJK) is encoded as its UTF-8 bytes instead of <unk>, and SentencePiece's decoder turns
byte pieces back into text; the model can learn to copy what it has never seen. Once a state
is committed (models/demo/state/), its SentencePiece model is reused (`--spm`) rather than
retrained, because the trained weights belong to its ids.

vocab.json follows OPUS-MT: ``</s>`` = 0, ``<unk>`` = 1, then the SentencePiece pieces in the
model's order (its own control symbols left out), ``<pad>`` last, which Marian also uses as
the decoder start token. tokenizer_config.json and special_tokens_map.json are those that
transformers writes for a MarianTokenizer."""

import argparse
import json
import os
import shutil
import subprocess
import tempfile

CONTROL = {"<unk>", "<s>", "</s>"}


def train_spm(texts, vocab_size, out_prefix, threads, smoke):
    cmd = ["spm_train", "--input=" + ",".join(texts), "--model_prefix=" + out_prefix,
           "--model_type=unigram", "--vocab_size=%d" % vocab_size,
           "--character_coverage=0.9999", "--num_threads=%d" % threads,
           "--input_sentence_size=2000000", "--shuffle_input_sentence=true",
           "--max_sentence_length=4096", "--byte_fallback=true", "--minloglevel=1"]
    if smoke:
        # A few hundred sentences cannot fill even a small vocabulary exactly.
        cmd.append("--hard_vocab_limit=false")
    subprocess.run(cmd, check=True)


def spm_pieces(model):
    out = subprocess.run(["spm_export_vocab", "--model=" + model], check=True,
                         stdout=subprocess.PIPE).stdout.decode("utf-8")
    return [line.split("\t")[0] for line in out.splitlines() if line]


def special(content):
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False}


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def build_vocab(pieces):
    vocab = {"</s>": 0, "<unk>": 1}
    for p in pieces:
        if p not in CONTROL and p not in vocab:
            vocab[p] = len(vocab)
    vocab["<pad>"] = len(vocab)
    return vocab


def write_tokenizer_files(out, vocab):
    write_json(os.path.join(out, "vocab.json"), vocab)
    ids = {t: vocab[t] for t in ("</s>", "<unk>", "<pad>")}
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "added_tokens_decoder": {str(i): dict(special(t), special=True)
                                 for t, i in sorted(ids.items(), key=lambda kv: kv[1])},
        "clean_up_tokenization_spaces": True,
        "eos_token": "</s>",
        "model_max_length": 512,
        "pad_token": "<pad>",
        "separate_vocabs": False,
        "source_lang": "en",
        "sp_model_kwargs": {},
        "target_lang": "de",
        "tokenizer_class": "MarianTokenizer",
        "unk_token": "<unk>",
    })
    write_json(os.path.join(out, "special_tokens_map.json"), {
        "eos_token": special("</s>"), "pad_token": special("<pad>"), "unk_token": special("<unk>")})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True, help="folder with train.en and train.de")
    ap.add_argument("--out", required=True, help="model folder to write the tokenizer into")
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--spm", help="use this SentencePiece model instead of training one")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    texts = [os.path.join(args.corpus, "train.en"), os.path.join(args.corpus, "train.de")]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.spm
        if not model:
            prefix = os.path.join(tmp, "joint")
            train_spm(texts, args.vocab_size, prefix, args.threads, args.smoke)
            model = prefix + ".model"
        for name in ("source.spm", "target.spm"):
            shutil.copyfile(model, os.path.join(args.out, name))
    vocab = build_vocab(spm_pieces(os.path.join(args.out, "source.spm")))
    write_tokenizer_files(args.out, vocab)
    print("vocab: %d entries (pad = %d) -> %s" % (len(vocab), vocab["<pad>"], args.out))


if __name__ == "__main__":
    main()

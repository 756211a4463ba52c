#!/usr/bin/python3
"""DESIGN: Dragoman's Marian tokenizer on a SentencePiece model with byte fallback (the demo
model's vocabulary since issue 15), against tests/reference/marian_tok_ref.py, the restatement
of Hugging Face's MarianTokenizer on python3-sentencepiece.

1. The reference itself is checked first against the shared goldens that transformers 4.40
   wrote (../shared/tokenizers/golden: encode ids, target ids, decodings with and without
   special tokens), so the byte-fallback goldens below come from a tokenizer proven equal to
   HF's on real OPUS-MT folders.
2. A tiny joint unigram model with --byte_fallback is trained here (spm_train, 420 pieces, 256
   of them <0xNN>) on text that lacks the test's rare characters, and laid out as the demo
   model's folder by models/demo/vocab.py (vocab.json keeps the byte pieces).
3. `dragoman tokenize` (source and target side) and `dragoman detokenize` (with and without
   special tokens) must give the reference's ids and texts on inputs with accents, emoji, CJK,
   right-to-left scripts, combining marks, specials and language codes; and decoding id runs
   that end inside a UTF-8 sequence must give SentencePiece's U+FFFD replacement.

usage: test_tokenizer_bytefallback.py DRAGOMAN WORK_DIR [SHARED_DIR]"""

import json
import os
import subprocess
import sys
import unicodedata

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(SRC, "tests", "reference"))
sys.path.insert(0, os.path.join(SRC, "models", "demo"))
import marian_tok_ref  # noqa: E402
from serve_harness import Check  # noqa: E402
import vocab as demo_vocab  # noqa: E402

check = Check()


# Training text: plain English/German UI strings, no character outside ASCII + German letters,
# so everything else below can only be written with byte pieces.
TRAIN = [
    "Open the file", "Datei öffnen", "Save the document", "Dokument speichern",
    "Remember me", "Angemeldet bleiben", "Forgot your password?", "Passwort vergessen?",
    "This action cannot be undone.", "Diese Aktion kann nicht rückgängig gemacht werden.",
    "Connection refused", "Verbindung abgelehnt", "Close the window", "Fenster schließen",
    "Print %d pages", "%d Seiten drucken", "Settings for {name}", "Einstellungen für {name}",
    "The quick brown fox jumps over the lazy dog", "Größe ändern", "Über dieses Programm",
]

INPUTS = [
    "Naïve café",                       # accents outside the training text
    "Déjà vu, Ærøskøbing, Łódź, ñandú",
    "Save 💾 and share 🎉👍🏽",              # emoji, a skin-tone modifier sequence
    "👨‍👩‍👧 family",                        # ZWJ sequence
    "打开文件 and 保存",                   # CJK
    "ファイルを開く",
    "파일 열기",
    "فتح الملف",                         # right-to-left
    "פתח את הקובץ (Open)",
    "e\u0301 combining and \u00e9 precomposed",
    "Ångström ≥ 10 µm · 5 € – “quotes”",
    "Open </s> the <unk> file <pad>",    # special-token strings inside text
    ">>deu<< Datei öffnen 😀",            # a language code token
    "Tab\there,  two  spaces",
    "",
    "Größe ändern",                      # all in the vocabulary
]


def train_fixture(work):
    folder = os.path.join(work, "bytefallback")
    os.makedirs(folder, exist_ok=True)
    text = os.path.join(work, "train.txt")
    with open(text, "w", encoding="utf-8") as f:
        f.writelines(l + "\n" for l in TRAIN * 4)
    prefix = os.path.join(work, "joint")
    subprocess.run(["spm_train", "--input=" + text, "--model_prefix=" + prefix,
                    "--model_type=unigram", "--vocab_size=420", "--byte_fallback=true",
                    "--character_coverage=1.0", "--hard_vocab_limit=false", "--num_threads=1",
                    "--minloglevel=2"], check=True)
    for name in ("source.spm", "target.spm"):
        with open(prefix + ".model", "rb") as a, open(os.path.join(folder, name), "wb") as b:
            b.write(a.read())
    vocab = demo_vocab.build_vocab(demo_vocab.spm_pieces(os.path.join(folder, "source.spm")))
    demo_vocab.write_tokenizer_files(folder, vocab)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "marian", "architectures": ["MarianMTModel"],
                   "vocab_size": len(vocab), "pad_token_id": vocab["<pad>"],
                   "decoder_start_token_id": vocab["<pad>"], "eos_token_id": 0,
                   "d_model": 8, "encoder_layers": 1, "decoder_layers": 1,
                   "encoder_attention_heads": 1, "decoder_attention_heads": 1,
                   "encoder_ffn_dim": 8, "decoder_ffn_dim": 8}, f)
    return folder, vocab


def run(cmd, lines):
    r = subprocess.run(cmd, input="".join(l + "\n" for l in lines), capture_output=True,
                       text=True, encoding="utf-8")
    check(r.returncode == 0, "%s exit %d: %s" % (" ".join(cmd[1:3]), r.returncode, r.stderr))
    return r.stdout.split("\n")[:-1]


def check_reference(shared):
    golden = os.path.join(shared, "tokenizers", "golden")
    for name in sorted(os.listdir(golden)):
        tok = marian_tok_ref.MarianTokenizerRef(os.path.join(shared, "tokenizers", name[:-6]))
        n = 0
        with open(os.path.join(golden, name), encoding="utf-8") as f:
            for line in f:
                g = json.loads(line)
                if g["kind"] == "encode":
                    got = (tok.encode(g["text"]), tok.encode(g["text"], target=True))
                    want = (g["ids"], g["target_ids"])
                else:
                    got = (tok.decode(g["ids"]), tok.decode(g["ids"], skip_special_tokens=False))
                    want = (g["decoded"], g["decoded_keep_special"])
                check(got == want, "reference vs transformers golden %s: %r != %r" % (g["id"], got, want))
                n += 1
        print("reference = transformers on %s: %d cases" % (name, n))


def main():
    dragoman, work = sys.argv[1], sys.argv[2]
    shared = sys.argv[3] if len(sys.argv) > 3 else os.path.join(SRC, "..", "shared")
    if os.path.isdir(os.path.join(shared, "tokenizers", "golden")):
        check_reference(shared)
    else:
        print("note: no shared goldens at %s; the reference is not re-checked" % shared)
    os.makedirs(work, exist_ok=True)
    folder, vocab = train_fixture(work)
    bytes_in_vocab = sum(1 for p in vocab if len(p) == 6 and p.startswith("<0x") and p.endswith(">"))
    check(bytes_in_vocab == 256, "vocab.json has %d of the 256 byte pieces" % bytes_in_vocab)
    ref = marian_tok_ref.MarianTokenizerRef(folder)

    want = [ref.encode(t) for t in INPUTS]
    byte_ids = {i for p, i in vocab.items() if p.startswith("<0x")}
    check(sum(1 for ids in want for i in ids if i in byte_ids) > 50,
          "the inputs exercise byte pieces")
    check(all(vocab["<unk>"] not in ids for t, ids in zip(INPUTS, want) if "<" not in t),
          "byte fallback leaves no <unk>")
    got = run([dragoman, "tokenize", "--model", folder], INPUTS)
    got_t = run([dragoman, "tokenize", "--model", folder, "--side", "target"], INPUTS)
    for i, text in enumerate(INPUTS):
        check(i < len(got) and got[i] == " ".join(map(str, want[i])),
              "source ids of %r: got %s, want %s" % (text, got[i] if i < len(got) else None, want[i]))
        wt = ref.encode(text, target=True)
        check(i < len(got_t) and got_t[i] == " ".join(map(str, wt)),
              "target ids of %r: got %s, want %s" % (text, got_t[i] if i < len(got_t) else None, wt))

    # Decoding: the encodings, plus runs cut inside a UTF-8 sequence (HF gives U+FFFD per
    # invalid byte run through SentencePiece) and byte pieces around specials.
    b = lambda n: vocab["<0x%02X>" % n]
    cases = [ids for ids in want if ids]
    cases += [[b(0xF0), b(0x9F), b(0x98)],                       # emoji cut after 3 of 4 bytes
              [b(0xC3), vocab["<unk>"], b(0xA9)],                 # a special inside a sequence
              [b(0xE6), b(0x89), b(0x93), 0, b(0xC3), b(0xA9)],    # 打 </s> é
              [b(0x80), b(0xC3), b(0xA9), b(0xFF)],                # stray continuation, invalid
              [vocab["\u2581"] if "\u2581" in vocab else b(0x20), b(0xC3), b(0xA4)]]
    lines = [" ".join(map(str, ids)) for ids in cases]
    dec = run([dragoman, "detokenize", "--model", folder], lines)
    keep = run([dragoman, "detokenize", "--model", folder, "--keep-special"], lines)
    for i, ids in enumerate(cases):
        w, wk = ref.decode(ids), ref.decode(ids, skip_special_tokens=False)
        check(i < len(dec) and dec[i] == w, "decode %s: got %r, want %r" % (ids, dec[i] if i < len(dec) else None, w))
        check(i < len(keep) and keep[i] == wk,
              "decode (keep special) %s: got %r, want %r" % (ids, keep[i] if i < len(keep) else None, wk))
    # Round trip through the byte pieces: text that nmt_nfkc leaves alone (NFKC, single spaces,
    # no specials) decodes back to itself; nothing is deleted any more.
    plain = [(t, ids) for t, ids in zip(INPUTS, want) if t and "<" not in t and
             unicodedata.normalize("NFKC", t) == t and " ".join(t.split()) == t]
    check(len(plain) >= 8, "round-trip inputs: %d" % len(plain))
    for text, ids in plain:
        check(ref.decode(ids) == text, "round trip of %r: %r" % (text, ref.decode(ids)))
    sys.exit(check.summary())


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""DESIGN: Hugging Face's MarianTokenizer (transformers 4.40, the slow SentencePiece tokenizer)
restated on Debian's python3-sentencepiece, because transformers cannot be installed here.
It writes the golden ids and texts that Dragoman's C tokenizer (tokenizer/marian.c) is checked
against, for any Marian folder (source.spm, target.spm, vocab.json), in particular one whose
SentencePiece model has byte fallback (pieces <0x00>..<0xFF>).

Followed line by line (tokenization_marian.py, tokenization_utils.py, tokenization_utils_base.py):
* encode (`tok(text).input_ids`): PreTrainedTokenizer.tokenize splits the text on the special
  tokens' strings (`</s>`, `<unk>`, `<pad>`; leftmost, longest at one position; the added tokens
  are not stripped) and calls MarianTokenizer._tokenize on each other segment:
  `re.match(">>.+<<", text)` gives a language-code token kept whole, `re.sub` removes every
  match, then `spm_source.encode(text, out_type=str)`. Pieces become ids through vocab.json
  (`encoder.get(piece, encoder[unk])`); specials map to their own ids; `</s>` is appended.
  An empty segment yields nothing (tokenize skips it).
* decode (`tok.decode(ids, skip_special_tokens=...)`): convert_ids_to_tokens (added tokens
  first, then vocab.json's reverse map, unk for unknown ids), dropping special ids when asked
  (eos, unk, pad: all_special_ids); convert_tokens_to_string joins runs of ordinary pieces with
  `spm_target.decode_pieces` (which turns byte pieces back into UTF-8 bytes; an incomplete
  sequence becomes U+FFFD), appends each special token followed by a space, replaces "▁" by " "
  and strips; clean_up_tokenization then removes the space before `. ? ! ,` etc.

    marian_tok_ref.py MODEL_DIR < texts.txt > golden.jsonl
One JSON object per input line: {"text", "ids", "target_ids", "decoded", "decoded_keep_special"}
where the decodings are of `ids` read back through the target side (the separate_vocabs=false
layout, which shares vocab.json)."""

import json
import os
import re
import sys

import sentencepiece as spm

SPECIALS = ("</s>", "<unk>", "<pad>")
CODE = re.compile(">>.+<<")
CLEANUP = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
           (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


class MarianTokenizerRef:
    def __init__(self, folder):
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.decoder = {i: p for p, i in self.encoder.items()}
        self.spm_source = spm.SentencePieceProcessor(model_file=os.path.join(folder, "source.spm"))
        self.spm_target = spm.SentencePieceProcessor(model_file=os.path.join(folder, "target.spm"))
        self.special_ids = {self.encoder[t] for t in SPECIALS}

    def _split_specials(self, text):
        """tokenization_utils' Trie.split: the leftmost special string, the longest there."""
        out, p = [], 0
        while True:
            best = None
            for q in range(p, len(text)):
                hits = [s for s in SPECIALS if text.startswith(s, q)]
                if hits:
                    best = (q, max(hits, key=len))
                    break
            if best is None:
                out.append(text[p:])
                return out
            out.extend([text[p:best[0]], best[1]])
            p = best[0] + len(best[1])

    def _tokenize(self, text, sp):
        m = CODE.match(text)
        code = [m.group(0)] if m else []
        return code + sp.encode(CODE.sub("", text), out_type=str)

    def encode(self, text, target=False):
        sp = self.spm_target if target else self.spm_source
        tokens = []
        for seg in self._split_specials(text):
            if seg in SPECIALS:
                tokens.append(seg)
            elif seg:
                tokens.extend(self._tokenize(seg, sp))
        unk = self.encoder["<unk>"]
        return [self.encoder.get(t, unk) for t in tokens] + [self.encoder["</s>"]]

    def decode(self, ids, skip_special_tokens=True):
        tokens = [self.decoder.get(i, "<unk>") for i in ids
                  if not (skip_special_tokens and i in self.special_ids)]
        out, run = "", []
        for t in tokens:
            if t in SPECIALS:
                out += self.spm_target.decode_pieces(run) + t + " "
                run = []
            else:
                run.append(t)
        out += self.spm_target.decode_pieces(run)
        out = out.replace("\u2581", " ").strip()
        for a, b in CLEANUP:
            out = out.replace(a, b)
        return out


def main():
    tok = MarianTokenizerRef(sys.argv[1])
    for line in sys.stdin.read().split("\n")[:-1]:
        ids = tok.encode(line)
        print(json.dumps({"text": line, "ids": ids, "target_ids": tok.encode(line, target=True),
                          "decoded": tok.decode(ids),
                          "decoded_keep_special": tok.decode(ids, skip_special_tokens=False)},
                         ensure_ascii=False))


if __name__ == "__main__":
    main()

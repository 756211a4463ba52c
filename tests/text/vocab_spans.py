"""Which hand-listed protected spans a vocabulary obliges Dragoman to carry through.

cases.json and html_cases.json list, per input, the spans that must come out as often as the
source has them. A word of letters only is a span just because the vocabulary cannot write it
(a character it maps to <unk> or to byte-fallback pieces); with a vocabulary that can, the word
is text the model may translate ("café" -> "Café"). That is decided here with the SentencePiece
model itself (python3-sentencepiece), independently of Dragoman's tokenizer."""
import os

import sentencepiece


def required(spans, model_dir):
    """spans, less the words of letters that MODEL_DIR's source.spm writes without <unk> or
    byte pieces."""
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(model_dir, "source.spm"))

    def writable(word):
        return not any(sp.is_unknown(i) or sp.is_byte(i) for i in sp.encode(word))

    return [s for s in spans if not (s.isalpha() and writable(s))]

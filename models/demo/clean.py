"""DESIGN: turns one raw (English, German) catalog pair into a training pair, or into the
reason it is dropped. Software catalogs are full of things that are not sentences: keyboard
accelerators (GTK ``_File``, Qt/KDE ``&Open``, LibreOffice ``~Save``), bare format strings
(``%s: %s``), placeholders, markup, multi-line help. The model must learn to copy
placeholders verbatim, so they are kept as they are, and a pair whose two sides do not carry
the same placeholders is dropped (a translator's mistake would teach the model to lose one).

Accelerators: a marker is removed only where it is unambiguous. A side with exactly one
candidate marker loses it when the marker starts a word, or when the other side has one at a
different place (``Fi_le`` / ``_Datei``); identical tokens on both sides (``file_name``,
``AT&T``) are identifiers and stay. ``&amp;``-style entities and ``&&`` are never markers."""

import re
import unicodedata

# printf (C, with positional n$ and length modifiers), Python %(name)s, {name}/{0}/{} (Python,
# C#, ICU), Qt/KDE %1, shell/LibreOffice $(VAR) and $1, LibreOffice %PRODUCTNAME.
PLACEHOLDER = re.compile(
    r"%(?:\d+\$)?[-+ #0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?"
    r"(?:hh|h|ll|l|L|q|j|z|Z|t|I64|I32|I|PRI[diouxX](?:8|16|32|64|MAX|PTR))?[diouxXeEfFgGaAcspnCS%]"
    r"|%\([A-Za-z_][A-Za-z0-9_]*\)[-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"
    r"|\{[A-Za-z0-9_]*(?:[:!][^{}]*)?\}"
    r"|%\d+|%[A-Z][A-Z_]+%?"
    r"|\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$\d+")

# Audacity's Nyquist (Lisp) format directives: a ~ that is no accelerator.
LISP_FORMAT = re.compile(r"~[%&|]|~[as](?![a-z])")
WESNOTH_CONTEXT = re.compile(r"^[A-Za-z0-9_ -]+\^")
ENTITY = re.compile(r"&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")
MAX_CHARS = 400        # longer pairs are help pages, not sentences, and cost training time
MAX_RATIO = 3.0        # char-length ratio beyond which a pair is probably misaligned


def placeholders(s):
    """The placeholder multiset of S, positions (n$) ignored so reordering translators pass."""
    return sorted(re.sub(r"^%\d+\$", "%", m.group(0)) for m in PLACEHOLDER.finditer(s))


def _marker_candidates(s, mark):
    """Positions of MARK that may be accelerators: followed by a letter or digit, inside a token
    of letters and digits once the marker is removed (so ``file_name_2``, ``a&&b`` or
    Lisp's ``~a`` never qualify)."""
    if mark == "~" and LISP_FORMAT.search(s):
        return []
    out = []
    for m in re.finditer(re.escape(mark), s):
        i = m.start()
        if i + 1 >= len(s) or not s[i + 1].isalnum():
            continue
        if mark == "&" and (ENTITY.match(s, i) or (i > 0 and s[i - 1] == "&")):
            continue
        a = i
        while a > 0 and (s[a - 1].isalnum() or s[a - 1] == mark):
            a -= 1
        b = i + 1
        while b < len(s) and (s[b].isalnum() or s[b] == mark):
            b += 1
        token = s[a:b]
        bare = token.replace(mark, "")
        if token.count(mark) != 1 or not bare.isalnum():
            continue
        out.append((i, token, i == a))
    return out


def strip_accelerators(src, tgt):
    for mark in ("_", "&", "~"):
        cs, ct = _marker_candidates(src, mark), _marker_candidates(tgt, mark)
        if len(cs) > 1 or len(ct) > 1:
            continue
        if cs and ct and cs[0][1] == ct[0][1] and not cs[0][2]:
            continue  # same mid-word token on both sides: an identifier, not two mnemonics
        if cs and (ct or cs[0][2]):
            src = src[:cs[0][0]] + src[cs[0][0] + 1:]
        if ct and (cs or ct[0][2]):
            tgt = tgt[:ct[0][0]] + tgt[ct[0][0] + 1:]
    return src, tgt


def normalize(s):
    s = unicodedata.normalize("NFC", s)
    return " ".join(s.split())


def _has_words(s):
    """True when S, placeholders and markup removed, still has a word of two letters."""
    s = PLACEHOLDER.sub(" ", re.sub(r"<[^>]*>", " ", s))
    return re.search(r"[^\W\d_]{2}", s) is not None


def clean_pair(src, tgt):
    """Returns (src, tgt) ready for training, or (None, reason)."""
    if not tgt.strip():
        return None, "untranslated"
    src, tgt = normalize(src), normalize(tgt)
    # Wesnoth's context convention "context^text": the translation carries no context.
    if "^" not in tgt:
        src = WESNOTH_CONTEXT.sub("", src)
    src, tgt = strip_accelerators(src, tgt)
    if not src or not tgt:
        return None, "empty"
    if not _has_words(src) or not _has_words(tgt):
        return None, "no_words"
    if src == tgt:
        return None, "identical"
    if placeholders(src) != placeholders(tgt):
        return None, "placeholder_mismatch"
    ls, lt = len(src), len(tgt)
    if ls > MAX_CHARS or lt > MAX_CHARS:
        return None, "overlong"
    if max(ls, lt) > 20 and max(ls, lt) > MAX_RATIO * min(ls, lt):
        return None, "length_ratio"
    return (src, tgt), None

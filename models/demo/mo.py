"""DESIGN: a reader for GNU gettext .mo catalogs, written against the format itself
(gettext manual, "The Format of GNU MO Files") so the corpus needs no third-party code.

A catalog is a header of seven 32-bit words (magic, revision, count, offset of the original
string table, offset of the translation table, hash size, hash offset) in the byte order the
magic reveals, then two tables of (length, offset) pairs pointing at NUL-terminated strings.
An original string may carry a context (``ctx\\x04msgid``) and a plural (``msgid\\0plural``);
the translation then holds one form per plural slot (``form0\\0form1...``). Entry 0 with an
empty msgid is the header, whose Content-Type names the charset of every other string.

Every offset is checked against the file size: a truncated or hostile file raises MoError
naming the problem instead of reading out of bounds."""

import re
import struct

MAGIC_LE = 0x950412DE
MAGIC_BE = 0xDE120495


class MoError(Exception):
    pass


def _charset(header):
    m = re.search(rb"charset=([A-Za-z0-9_.:-]+)", header)
    if not m:
        return "utf-8"
    name = m.group(1).decode("ascii").lower()
    # "CHARSET" is the untouched template value; translators who left it wrote UTF-8 or ASCII.
    return "utf-8" if name == "charset" else name


def read_mo(data):
    """Returns (entries, skipped): entries is a list of (msgid, msgid_plural or None, [forms]),
    header excluded, contexts dropped; skipped counts entries whose bytes do not decode."""
    if len(data) < 28:
        raise MoError("file shorter than the 28-byte header")
    (magic,) = struct.unpack_from("<I", data, 0)
    if magic == MAGIC_LE:
        end = "<"
    elif magic == MAGIC_BE:
        end = ">"
    else:
        raise MoError("bad magic 0x%08x" % magic)
    _, revision, count, orig_off, trans_off = struct.unpack_from(end + "5I", data, 0)
    if revision >> 16 > 1:
        raise MoError("unsupported major revision %d" % (revision >> 16))
    size = len(data)
    for name, off in (("original", orig_off), ("translation", trans_off)):
        if off > size or count > (size - off) // 8:
            raise MoError("%s table (%d entries at %d) exceeds file size %d"
                          % (name, count, off, size))

    def string(table, i):
        length, off = struct.unpack_from(end + "2I", data, table + 8 * i)
        # The string is followed by a NUL that its length does not count.
        if off > size or length >= size - off:
            raise MoError("string %d (%d bytes at %d) exceeds file size %d" % (i, length, off, size))
        return data[off:off + length]

    raw = [(string(orig_off, i), string(trans_off, i)) for i in range(count)]
    charset = "utf-8"
    for orig, trans in raw:
        if orig == b"":
            charset = _charset(trans)
    try:
        "".encode(charset)
    except LookupError:
        raise MoError("unknown charset %r" % charset)

    entries, skipped = [], 0
    for orig, trans in raw:
        if orig == b"":
            continue
        try:
            o = orig.decode(charset)
            t = trans.decode(charset)
        except UnicodeDecodeError:
            skipped += 1
            continue
        if "\x04" in o:
            o = o.split("\x04", 1)[1]
        parts = o.split("\x00")
        plural = parts[1] if len(parts) > 1 else None
        entries.append((parts[0], plural, t.split("\x00")))
    return entries, skipped


def pairs_of(entries):
    """Source/target pairs of the entries: the singular with form 0, the plural with form 1."""
    out = []
    for msgid, plural, forms in entries:
        out.append((msgid, forms[0]))
        if plural is not None and len(forms) > 1:
            out.append((plural, forms[1]))
    return out

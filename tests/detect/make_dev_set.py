#!/usr/bin/python3
"""Builds a development set for language detection, disjoint from tests/detect/sentences.tsv by
source: the same selection as make_set.py (same languages, same filter, same hash order) but
from every other gettext catalog Debian 12 installs, and without any message whose English
msgid occurs in one of the test set's catalogs (shared gnulib strings). Detector choices (how
libcld2 and libexttextcat are combined, text/detect_cld2.cc) were made on this set only; the
test set is measured, never tuned on.

usage: make_dev_set.py OUT.tsv [PER_LANG]"""
import glob
import hashlib
import os
import sys

import make_set
from make_set import mo

SKIP_PREFIX = ("iso_",)  # country, language and currency names: not prose


def main():
    per_lang = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    test_ids = set()
    for path in glob.glob("/usr/share/locale/*/LC_MESSAGES/*.mo"):
        if os.path.basename(path)[:-3] in make_set.DOMAINS:
            entries, _ = mo.read_mo(open(path, "rb").read())
            test_ids.update(src.strip() for src, _ in mo.pairs_of(entries))
    rows = []
    for lang in make_set.LANGS:
        found = {}
        loc = "de" if lang == "en" else lang
        for path in sorted(glob.glob("/usr/share/locale/%s/LC_MESSAGES/*.mo" % loc)):
            dom = os.path.basename(path)[:-3]
            if dom in make_set.DOMAINS or dom.startswith(SKIP_PREFIX):
                continue
            entries, _ = mo.read_mo(open(path, "rb").read())
            for src, tgt in mo.pairs_of(entries):
                if src.strip() in test_ids:
                    continue
                text = (src if lang == "en" else tgt).strip()
                if tgt and make_set.good(text) and text not in found:
                    found[text] = "%s.mo" % dom
        key = lambda t: hashlib.sha1((lang + "\t" + t).encode()).hexdigest()
        rows += [(lang, t, found[t]) for t in sorted(found, key=key)[:per_lang]]
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write("# language\ttext\tcatalog; built by tests/detect/make_dev_set.py\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    print("%d sentences" % len(rows))


if __name__ == "__main__":
    main()

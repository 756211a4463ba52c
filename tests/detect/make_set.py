#!/usr/bin/python3
"""Builds tests/detect/sentences.tsv, the language-detection test set: 20 short sentences in each
of 10 languages, taken from the gettext catalogs that Debian 12 packages install
(/usr/share/locale/LANG/LC_MESSAGES/DOMAIN.mo, read with models/demo/mo.py). English sentences
are the catalogs' msgids. Run once; the output is committed with its provenance
(package, version, domain) on every line, so the set never changes under the test.

usage: make_set.py OUT.tsv

Selection: messages of 5 to 14 words without format directives, markup, paths, quotes,
colons, command-line options, upper-case placeholders (FILE) or control characters (so the text is prose, as translation requests are), deduplicated, then the first 20 by
a SHA-1 of (language, text): deterministic and not biased towards one package."""
import hashlib
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "demo"))
import mo  # noqa: E402

LANGS = ["en", "de", "fr", "es", "it", "nl", "pt", "pl", "ru", "sv"]
DOMAINS = ["coreutils", "apt", "dpkg", "bash", "findutils", "diffutils", "adduser", "tar",
           "grep", "sed", "wget", "gettext-tools", "PackageKit", "appstream"]
PER_LANG = 20
# format directives, markup, paths, quoted identifiers, "label: value" lines
BAD = re.compile(r"[%$`{}<>\\/_=|@#*\[\]:'\"«»„“”‘’]|--|\.\.\.|  ")


def owner(path):
    pkg = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True).stdout
    pkg = pkg.split(":")[0].strip()
    ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                         text=True).stdout.strip()
    return pkg, ver


def good(s):
    words = s.split()
    return (5 <= len(words) <= 14 and not BAD.search(s) and s.isprintable()
            and sum(c.isalpha() for c in s) > 0.7 * len(s)
            and not any(w.startswith("-") or (len(w) > 1 and w.isupper()) for w in words))


def main():
    rows = []
    for lang in LANGS:
        found = {}
        for dom in DOMAINS:
            path = "/usr/share/locale/%s/LC_MESSAGES/%s.mo" % ("de" if lang == "en" else lang, dom)
            if not os.path.exists(path):
                continue
            entries, _ = mo.read_mo(open(path, "rb").read())
            pkg, ver = owner(path)
            for src, tgt in mo.pairs_of(entries):
                text = (src if lang == "en" else tgt).strip()
                if tgt and good(text) and text not in found:
                    found[text] = "%s %s %s.mo" % (pkg, ver, dom)
        key = lambda t: hashlib.sha1((lang + "\t" + t).encode()).hexdigest()
        chosen = sorted(found, key=key)[:PER_LANG]
        if len(chosen) < PER_LANG:
            sys.exit("%s: only %d usable messages" % (lang, len(chosen)))
        rows += [(lang, t, found[t]) for t in chosen]
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write("# language\ttext\tsource (Debian 12 package, version, catalog); built by "
                "tests/detect/make_set.py\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    print("%d sentences" % len(rows))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""DESIGN: builds the English→German parallel corpus of the demo model from the German gettext
catalogs that Debian packages ship, so the model's provenance is a pinned package list anyone
can re-fetch.

Pipeline: for each package of the list, `apt-get download` into a cache (skipped when a .deb
of that package is already there), then stream `dpkg-deb --fsys-tarfile` and read only the
German catalogs (``*/de/LC_MESSAGES/*.mo``: most live under usr/share/locale, LibreOffice's and
R's elsewhere) and the package's copyright file, so the 100+ MiB data packages are never
unpacked to disk. Pairs are cleaned (clean.py), deduplicated by source sentence (the most
frequent translation wins, ties to the earliest package of the list), and split by a hash of a
normalized source key, so a sentence and its case/punctuation variants always land in the same
split and a re-run gives the same split.

Outputs in OUT: {train,dev,test}.{en,de}, packages.tsv (per package: version, .deb size, catalogs,
messages, clean pairs, pairs kept after dedup, licence), drops.tsv (pairs dropped per reason),
copyright/<package> (the copyright files, for the model card)."""

import argparse
import collections
import glob
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clean  # noqa: E402
import mo  # noqa: E402

CATALOG = re.compile(r"^(?:\./)?(?:.*/)?de/LC_MESSAGES/[^/]+\.mo$")


def read_list(path):
    with open(path, encoding="utf-8") as f:
        return [line.split("#", 1)[0].strip() for line in f if line.split("#", 1)[0].strip()]


def cached_deb(cache, pkg):
    found = sorted(glob.glob(os.path.join(cache, glob.escape(pkg) + "_*.deb")), key=os.path.getmtime)
    return found[-1] if found else None


def fetch(cache, packages):
    """Downloads the packages missing from CACHE; runs `apt-get update` once if apt cannot find
    one (a fresh machine has no package lists)."""
    os.makedirs(cache, exist_ok=True)
    missing = [p for p in packages if cached_deb(cache, p) is None]
    updated = False
    for pkg in missing:
        for attempt in (0, 1):
            r = subprocess.run(["apt-get", "download", "-q", pkg], cwd=cache,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode == 0:
                break
            if attempt == 0 and not updated:
                subprocess.run(["apt-get", "update", "-qq"], check=False)
                updated = True
                continue
            raise SystemExit("corpus: apt-get download %s failed:\n%s" % (pkg, r.stdout))
    return {p: cached_deb(cache, p) for p in packages}


def deb_version(path):
    return subprocess.run(["dpkg-deb", "-f", path, "Version"], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


def read_deb(pkg, path):
    """Returns ({catalog path: bytes}, copyright text or a 'see ...' note)."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", path], stdout=subprocess.PIPE)
    catalogs, copyright_text, links = {}, None, {}
    want_copyright = re.compile(r"^(?:\./)?usr/share/doc/%s/copyright$" % re.escape(pkg))
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for m in tar:
            if m.issym() or m.islnk():
                links[m.name.lstrip("./")] = m.linkname
                continue
            if not m.isfile():
                continue
            if CATALOG.match(m.name):
                catalogs[m.name.lstrip("./")] = tar.extractfile(m).read()
            elif want_copyright.match(m.name):
                copyright_text = tar.extractfile(m).read().decode("utf-8", "replace")
    if proc.wait() != 0:
        raise SystemExit("corpus: dpkg-deb failed on %s" % path)
    if copyright_text is None:
        doc = "usr/share/doc/%s" % pkg
        copyright_text = "see %s\n" % links.get(doc, links.get(doc + "/copyright", "(none)"))
    return catalogs, copyright_text


FREE_FORM = [("LGPL", r"GNU (?:Lesser|Library) General Public License|\bLGPL"),
             ("GPL", r"GNU General Public License|(?<!L)\bGPL"),
             ("MPL", r"Mozilla Public License|\bMPL"), ("Apache", r"Apache License"),
             ("BSD", r"\bBSD\b"), ("MIT/Expat", r"\bMIT\b|\bExpat\b"),
             ("Artistic", r"Artistic License"), ("public domain", r"public domain")]


def licence_summary(text):
    """Short licence names of a copyright file: the License: fields of a machine-readable
    (DEP-5) file, else the well-known licences a free-form file mentions."""
    names = re.findall(r"^License:\s*(\S[^\n]*)$", text, re.M)
    if not names:
        found = [name for name, pat in FREE_FORM if re.search(pat, text)]
        return "free-form: " + (", ".join(found) if found else text.strip()[:60])
    seen = []
    for n in names:
        n = " ".join(n.split())
        if n not in seen:
            seen.append(n)
    return ", ".join(seen[:6])


def split_key(src):
    """Key that merges case, spacing and punctuation variants of one sentence."""
    return re.sub(r"[\W_]+", "", src.lower())


def split_of(src, dev_permille, test_permille):
    h = int.from_bytes(hashlib.sha1(split_key(src).encode("utf-8")).digest()[:4], "big") % 1000
    if h < test_permille:
        return "test"
    if h < test_permille + dev_permille:
        return "dev"
    return "train"


def read_frozen(prefix):
    """Split keys of a frozen test set (PREFIX.en), or an empty set without one."""
    if not prefix:
        return set()
    with open(prefix + ".en", encoding="utf-8") as f:
        return {split_key(l) for l in f.read().split("\n")[:-1]}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packages", default=os.path.join(here, "packages.txt"))
    ap.add_argument("--cache", required=True, help="folder of downloaded .deb files (kept)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dev-permille", type=int, default=6)
    ap.add_argument("--test-permille", type=int, default=8)
    ap.add_argument("--frozen-test", help="PREFIX of a frozen test set (PREFIX.en, PREFIX.de) "
                    "whose sources must not be trained on")
    args = ap.parse_args()

    packages = read_list(args.packages)
    frozen = read_frozen(args.frozen_test)
    debs = fetch(args.cache, packages)
    os.makedirs(os.path.join(args.out, "copyright"), exist_ok=True)

    drops = collections.Counter()
    stats = {}
    # source -> Counter of targets, and source -> (first package, first position) for ties
    targets = collections.defaultdict(collections.Counter)
    first_seen = {}
    order = 0
    for pkg in packages:
        catalogs, copyright_text = read_deb(pkg, debs[pkg])
        with open(os.path.join(args.out, "copyright", pkg), "w", encoding="utf-8") as f:
            f.write(copyright_text)
        st = stats[pkg] = {"version": deb_version(debs[pkg]), "deb_bytes": os.path.getsize(debs[pkg]),
                           "catalogs": len(catalogs),
                           "messages": 0, "clean": 0, "kept": 0,
                           "licence": licence_summary(copyright_text)}
        for name in sorted(catalogs):
            try:
                entries, undecodable = mo.read_mo(catalogs[name])
            except mo.MoError as e:
                print("corpus: %s: %s: skipped: %s" % (pkg, name, e), file=sys.stderr)
                drops["bad_catalog"] += 1
                continue
            drops["undecodable"] += undecodable
            for src, tgt in mo.pairs_of(entries):
                st["messages"] += 1
                pair, reason = clean.clean_pair(src, tgt)
                if pair is None:
                    drops[reason] += 1
                    continue
                st["clean"] += 1
                targets[pair[0]][pair[1]] += 1
                if pair[0] not in first_seen:
                    first_seen[pair[0]] = (pkg, order)
                order += 1
        print("corpus: %-32s %6d messages %6d clean" % (pkg, st["messages"], st["clean"]),
              file=sys.stderr)

    splits = {"train": [], "dev": [], "test": []}
    for src in sorted(targets, key=lambda s: first_seen[s][1]):
        counts = targets[src]
        best = max(counts.values())
        # Counter keeps insertion order, so the first of the most frequent targets wins.
        tgt = next(t for t, c in counts.items() if c == best)
        drops["duplicate_source"] += sum(counts.values()) - 1
        stats[first_seen[src][0]]["kept"] += 1
        split = split_of(src, args.dev_permille, args.test_permille)
        if split != "test" and split_key(src) in frozen:
            drops["frozen_test_" + split] += 1
            split = "test"
        splits[split].append((src, tgt))

    held_out = frozen | {split_key(s) for name in ("dev", "test") for s, _ in splits[name]}
    leaked = [s for s, _ in splits["train"] if split_key(s) in held_out]
    if leaked:
        raise SystemExit("corpus: %d training sources are held out, e.g. %r" % (len(leaked), leaked[0]))

    for name, pairs in splits.items():
        with open(os.path.join(args.out, name + ".en"), "w", encoding="utf-8") as fe, \
             open(os.path.join(args.out, name + ".de"), "w", encoding="utf-8") as fd:
            for src, tgt in pairs:
                fe.write(src + "\n")
                fd.write(tgt + "\n")
    with open(os.path.join(args.out, "packages.tsv"), "w", encoding="utf-8") as f:
        f.write("package\tversion\tdeb_bytes\tcatalogs\tmessages\tclean_pairs\tkept_pairs\tlicence\n")
        for pkg in packages:
            s = stats[pkg]
            f.write("%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n" % (pkg, s["version"], s["deb_bytes"],
                    s["catalogs"], s["messages"], s["clean"], s["kept"], s["licence"]))
        f.write("TOTAL\t\t%d\t%d\t%d\t%d\t%d\t\n" % tuple(sum(s[k] for s in stats.values())
                for k in ("deb_bytes", "catalogs", "messages", "clean", "kept")))
    with open(os.path.join(args.out, "drops.tsv"), "w", encoding="utf-8") as f:
        f.write("reason\tpairs\n")
        for reason, n in sorted(drops.items()):
            f.write("%s\t%d\n" % (reason, n))
    print("corpus: train %d dev %d test %d pairs -> %s" % (
        len(splits["train"]), len(splits["dev"]), len(splits["test"]), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()

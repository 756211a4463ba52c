"""The two npm LibreTranslate clients (libretranslate 1.0.1, libretranslate-ts 0.5.12, pinned by
tests/npm/package-lock.json) with their default settings against `dragoman serve` on the bundled
demo model: translate, detect and list languages. `npm ci` installs them into WORK (the build
tree); without the npm registry the test is skipped (exit 77). Translations are compared with
`dragoman translate` on the same model.

usage: test_npm_clients.py DRAGOMAN WORK
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from npm_install import npm_ci  # noqa: E402
from serve_harness import Check, Server, reference_translations  # noqa: E402

BIN, WORK = sys.argv[1], sys.argv[2]
MODEL = os.path.join(HERE, "..", "models", "demo-en-de")
ck = Check()


def install():
    return npm_ci(os.path.join(HERE, "npm"), WORK,
                  ("package.json", "package-lock.json", "clients.mjs"),
                  os.path.join(WORK, "node_modules", "libretranslate-ts"))


def main():
    if not install():
        return 77
    shutil.copy(os.path.join(HERE, "npm", "clients.mjs"), WORK)
    lines = ["Open file", "Save changes before closing?"]
    ref = {l: r["text"] for l, r in zip(lines, reference_translations(
        BIN, MODEL, lines, ["--beam-size", "4", "--n-best", "3"]))}
    srv = Server(BIN, MODEL)
    try:
        url = "http://127.0.0.1:%d" % srv.port
        r = subprocess.run(["node", os.path.join(WORK, "clients.mjs"), url], capture_output=True,
                           text=True, timeout=120)
        ck.eq(r.returncode, 0, "node exit status (%s)" % r.stderr[-500:])
        out = json.loads(r.stdout) if r.returncode == 0 else {}
        print(json.dumps(out, ensure_ascii=False, indent=1))
        ck.eq(out.get("libretranslate_translate"), ref["Open file"][0], "libretranslate en->de")
        ck.eq(out.get("libretranslate_translate_auto"), ref["Save changes before closing?"][0],
              "libretranslate source auto")
        langs = out.get("ts_languages")
        ck.eq(langs, [{"code": "en", "name": "English", "targets": ["de"]},
                      {"code": "de", "name": "German", "targets": []}],
              "libretranslate-ts listLanguages")
        d = out.get("ts_detect") or {}
        ck.eq((d.get("status"), d.get("language"), d.get("error")), (200, "de", None),
              "libretranslate-ts detect")
        ck(isinstance(d.get("confidence"), (int, float)) and 0 < d["confidence"] <= 100,
           "libretranslate-ts detect confidence %r" % d.get("confidence"))
        t = out.get("ts_translate") or {}
        ck.eq((t.get("status"), t.get("translatedText"), t.get("error")),
              (200, ref["Open file"][0], None), "libretranslate-ts translate")
        a = out.get("ts_translate_alternatives") or {}
        q = "Save changes before closing?"
        want = [h for h in ref[q][1:] if h != ref[q][0]][:2]
        ck.eq((a.get("status"), a.get("translatedText"), a.get("alternatives")),
              (200, ref[q][0], want), "libretranslate-ts translate with 2 alternatives")
    finally:
        ck.eq(srv.stop(), 0, "server exit status")
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())

"""The translation page at GET / in a real browser: Debian's headless Chromium, driven over its
DevTools protocol (--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4, so the
standard library suffices). Against `dragoman serve` on the bundled demo model it loads the
page, types "Open file" as a user would, waits for the translation and checks that the page
shows exactly what POST /translate answers (text and alternatives), that the copy button
works, that the page requested nothing from any other origin (it must work offline), and saves
a screenshot. Exit 77 (skip) when Chromium is not installed.

usage: test_web_page.py DRAGOMAN SCREENSHOT.png
"""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Check, Server  # noqa: E402

BIN, SHOT = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "models", "demo-en-de")
TIMEOUT = 120  # an ASan build translates slowly
ck = Check()


class Browser:
    """Headless Chromium with one page, attached in flat mode (one session id)."""

    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        self.profile = tempfile.mkdtemp(prefix="dg-chromium-")
        to_r, to_w = os.pipe()    # we write commands, Chromium reads them on fd 3
        from_r, from_w = os.pipe()  # Chromium writes replies on fd 4
        # above 4, so that the dup2 onto 3 and 4 in the child cannot clobber one of them
        hi_r, hi_w = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
        os.close(to_r)
        os.close(from_w)

        def fds():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [exe, "--headless", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-default-apps", "--user-data-dir=" + self.profile,
                "--remote-debugging-pipe", "--window-size=1200,760", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=fds, pass_fds=(3, 4))
        os.close(hi_r)
        os.close(hi_w)
        self.w, self.r = to_w, from_r
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None
        page = [t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
        tid = page[0]["targetId"] if page else self.call("Target.createTarget",
                                                         url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=tid, flatten=True)["sessionId"]

    def _read(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("no DevTools message in time")
            chunk = os.read(self.r, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe: %s"
                                   % self.proc.stderr.read().decode(errors="replace")[-2000:])
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + TIMEOUT
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait(self, expr, what):
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.05)
        raise TimeoutError("waited for " + what)

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)
        shutil.rmtree(self.profile, ignore_errors=True)


def check_route(srv):
    """GET / is the page in the repository, byte for byte; "/" is no prefix of other paths."""
    with open(os.path.join(HERE, "..", "server", "http", "index.html"), "rb") as f:
        page = f.read()
    st, h, body = srv.request("GET", "/")
    ck.eq(st, 200, "GET / status")
    ck.eq(h.get("content-type"), "text/html; charset=utf-8", "GET / content type")
    ck(body == page, "GET / serves server/http/index.html verbatim")
    st, _, body = srv.request("HEAD", "/")
    ck.eq((st, body), (200, b""), "HEAD /")
    st, h, _ = srv.request("POST", "/", b"x", {"Content-Type": "text/plain"})
    ck.eq((st, h.get("allow")), (405, "GET, HEAD"), "POST / is 405 with Allow")
    ck.eq(srv.request("GET", "/no-such-page")[0], 404, "a path under / is not the page")


def check_page(srv):
    origin = "http://127.0.0.1:%d" % srv.port
    b = Browser()
    try:
        b.call("Network.enable")
        b.call("Page.enable")
        b.call("Page.navigate", url=origin + "/")
        b.wait("document.body && document.body.dataset.ready === '1'", "the languages")
        langs = b.js("[...document.getElementById('source').options].map(o => o.value)")
        ck.eq(langs, ["auto", "en"], "source picker: auto-detect and the model's source")
        ck.eq(b.js("document.getElementById('source').value"), "en", "one source: preselected")
        ck.eq(b.js("[...document.getElementById('target').options].map(o => o.value)"), ["de"],
              "target picker: en's targets from /languages")
        # type as a user does: focus, key events inserting text; the page translates on pause
        b.js("document.getElementById('input').focus()")
        b.call("Input.insertText", text="Open file")
        b.wait("document.getElementById('output').dataset.state === 'done' || "
               "document.getElementById('output').dataset.state === 'error'", "the translation")
        shown = b.js("({text: document.getElementById('output').value,"
                     " alts: [...document.querySelectorAll('#alternatives li')]"
                     ".map(li => li.textContent), error: document.getElementById('error')"
                     ".textContent, n: Number(document.getElementById('nalt').value)})")
        st, _, want = srv.post_json("/translate", {"q": "Open file", "source": "en",
                                                   "target": "de", "format": "text",
                                                   "alternatives": shown["n"]})
        ck.eq(st, 200, "POST /translate status")
        ck.eq(shown["error"], "", "no error shown")
        ck.eq(shown["text"], want["translatedText"], "the page shows POST /translate's text")
        ck.eq(shown["alts"], want.get("alternatives", []), "the page lists its alternatives")
        ck(shown["text"] != "", "a translation is shown")
        ck.eq(b.js("document.getElementById('input').value"), "Open file", "the typed text")
        b.js("document.getElementById('copy').click()")
        ck.eq(b.wait("document.getElementById('status').textContent === 'Copied' && 'Copied'",
                     "the copy button"), "Copied", "copy button")
        # auto-detect: the same text with "Detect language" picked
        b.js("(() => { const s = document.getElementById('source'); s.value = 'auto';"
             " document.getElementById('output').dataset.state = 'idle';"
             " s.dispatchEvent(new Event('change')); })()")
        b.wait("['done', 'error'].includes(document.getElementById('output').dataset.state)",
               "the auto-detected translation")
        st, _, want = srv.post_json("/translate", {"q": "Open file", "source": "auto",
                                                   "target": "de", "format": "text",
                                                   "alternatives": shown["n"]})
        shown = b.js("({text: document.getElementById('output').value,"
                     " detected: document.getElementById('detected').textContent,"
                     " error: document.getElementById('error').textContent})")
        if st == 200:
            d = want["detectedLanguage"]
            ck.eq(shown, {"text": want["translatedText"], "error": "",
                          "detected": "Detected: %s (%d%%)" % (
                              {"en": "English", "de": "German"}.get(d["language"], d["language"]),
                              round(d["confidence"]))}, "auto: the page shows POST /translate's")
        else:  # detected as a language no model reads: the page shows the server's message
            ck.eq(shown["error"], want["error"], "auto: the server's error is shown")
        b.js("(() => { const s = document.getElementById('source'); s.value = 'en';"
             " s.dispatchEvent(new Event('change')); })()")
        b.wait("document.getElementById('detected').textContent === '' && "
               "document.getElementById('output').dataset.state === 'done'", "back to English")
        shot = b.call("Page.captureScreenshot", format="png")["data"]
        os.makedirs(os.path.dirname(os.path.abspath(SHOT)), exist_ok=True)
        with open(SHOT, "wb") as f:
            f.write(base64.b64decode(shot))
        print("screenshot: " + os.path.abspath(SHOT))
        urls = [e["params"]["request"]["url"] for e in b.events
                if e.get("method") == "Network.requestWillBeSent"]
        ck(any(u.endswith("/translate") for u in urls), "the page POSTed /translate")
        foreign = [u for u in urls if not u.startswith(origin + "/")]
        ck.eq(foreign, [], "requests to other origins (the page must work offline)")
    finally:
        b.close()


def main():
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        print("skip: Chromium is not installed (scripts/setup installs Debian's chromium)")
        return 77
    srv = Server(BIN, MODEL)
    try:
        check_route(srv)
        check_page(srv)
    finally:
        ck.eq(srv.stop(), 0, "exit status (sanitizer reports fail it)")
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())

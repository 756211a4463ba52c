"""Starts the real `dragoman serve` on 127.0.0.1 with --port 0 and talks HTTP to it.

Used by test_serve_http.py and test_serve_load.py (ctest). Standard library only; every wait is
bounded. A Check object counts passes/failures and prints "N passed, N failed" like tests/test.h.
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

START_TIMEOUT = 120  # ASan builds load slowly
REQ_TIMEOUT = 120


class Check:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("CHECK failed: %s" % what, file=sys.stderr, flush=True)
        return cond

    def eq(self, a, b, what):
        return self(a == b, "%s: %r != %r" % (what, a, b))

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


class Server:
    def __init__(self, binary, model, *args, env=None):
        # model None: no --model, the server's default (the bundled demo model)
        cmd = [binary, "serve"] + (["--model", model] if model else []) + [
            "--host", "127.0.0.1", "--port", "0"] + list(args)
        e = dict(os.environ)
        e.setdefault("OPENBLAS_NUM_THREADS", "1")
        e.update(env or {})
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        self.log = []
        self._log_changed = threading.Condition()
        self._stderr = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr.start()
        self.port = None
        deadline = time.time() + START_TIMEOUT
        line = self._readline(deadline)
        if not line.startswith("dragoman: listening on"):
            raise RuntimeError("no listening line: %r, log: %s" % (line, "".join(self.log)))
        self.port = int(line.split()[-1])
        while time.time() < deadline:
            st, _, _ = self.request("GET", "/ready")
            if st == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("server not ready in time")

    def _readline(self, deadline):
        out = []

        def read():
            out.append(self.proc.stdout.readline().decode())

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(max(0, deadline - time.time()))
        return out[0] if out else ""

    def _drain_stderr(self):
        for line in self.proc.stderr:
            with self._log_changed:
                self.log.append(line.decode(errors="replace"))
                self._log_changed.notify_all()

    def wait_log(self, needle, timeout=60):
        """Blocks until a log line contains needle (an event, not a guess at timing)."""
        deadline = time.time() + timeout
        with self._log_changed:
            while not any(needle in l for l in self.log):
                left = deadline - time.time()
                if left <= 0 or self.proc.poll() is not None and not self._stderr.is_alive():
                    return False
                self._log_changed.wait(min(left, 1.0))
        return True

    def wait_metric(self, name, pred, timeout=60):
        """Polls /metrics until pred(value of name) holds; returns the last value."""
        deadline = time.time() + timeout
        v = self.metric(name)
        while not pred(v) and time.time() < deadline:
            time.sleep(0.005)
            v = self.metric(name)
        return v

    def connection(self, timeout=REQ_TIMEOUT):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=REQ_TIMEOUT):
        """Returns (status, headers dict lower-cased, body bytes); (None, {}, b"") when the
        connection failed."""
        own = conn is None
        c = conn or self.connection(timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = dict({"Content-Type": "application/json"}, **(headers or {}))
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        except (OSError, http.client.HTTPException):
            return None, {}, b""
        finally:
            if own:
                c.close()

    def post_json(self, path, obj, headers=None, conn=None):
        st, h, data = self.request("POST", path, obj, headers, conn)
        try:
            return st, h, json.loads(data)
        except ValueError:
            return st, h, None

    def metric(self, name):
        """Value of one exposition line (name with labels, exactly), or 0."""
        _, _, data = self.request("GET", "/metrics")
        for line in data.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Sends sig, waits; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self._stderr.join(5)
        if rc != 0:  # the server's last words are the diagnosis of a failed exit
            sys.stderr.write("server exit status %s; log tail:\n%s" % (rc, "".join(self.log[-30:])))
        return rc


def reference_translations(binary, model, lines, extra=()):
    """`dragoman translate --format jsonl` on lines: [{"text": [...], "scores": [...]}]."""
    p = subprocess.run([binary, "translate", "--model", model, "--format", "jsonl"] + list(extra),
                       input="".join(l + "\n" for l in lines).encode(), capture_output=True,
                       timeout=600, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    if p.returncode != 0:
        raise RuntimeError("dragoman translate failed: %s" % p.stderr.decode())
    return [json.loads(l) for l in p.stdout.decode().splitlines()]
